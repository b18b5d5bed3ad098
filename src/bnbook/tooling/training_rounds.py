"""The build's training phase: rounds of what can be trained now, then every run the chapters read.

Settings are chosen on validation in stages (runs.selection), so each round
trains what the results so far make known (runs.studies.runs_to_train_next),
on the parallel workers of training_pool. Then the headline numbers go to
summary.json.
"""

import json
import time
from collections.abc import Callable
from pathlib import Path

from bnbook.paths import write_atomically
from bnbook.tooling.training_pool import train_missing


def run_experiments(
    force: bool, workers: int, scheduler=None
) -> tuple[list, float, dict, Callable]:
    """Train what is missing, in rounds, then load every run the chapters read.

    Settings are chosen on validation in stages (runs.selection), so a round
    trains what can be trained now (runs.studies.runs_to_train_next), and the
    next round what the results make known. Returns ([(chapter, runs trained
    now, their training seconds)], the training phase's wall time, the records
    grouped by config (seeds together), config -> its record or None).
    """
    from bnbook.runs.experiments import TRAINING_MODULES, record_key
    from bnbook.runs.profiles import current_profile
    from bnbook.runs.provenance import source_digest
    from bnbook.runs.records import RecordStore
    from bnbook.runs.studies import runs_to_train_next

    # This process never trains: it keys on the source as it is now, and the
    # workers' records must come back under the same key (else the code changed).
    source = source_digest(TRAINING_MODULES)
    store, profile = RecordStore(), current_profile()
    start, trained, rounds = time.time(), set(), 0

    def load(config):
        return store.get(record_key(config, profile, source))

    def current(config):  # with --force, only what this build trained counts as cached
        return (not force or config in trained) and load(config) is not None

    while todo := runs_to_train_next(current, load):
        rounds += 1
        print(f"== training round {rounds}: {len(todo)} runs", flush=True)
        train_missing(todo, True, workers, source, scheduler)
        trained.update(todo)
    wall = time.time() - start
    per_chapter, by_config = _chapter_records(load, start)
    return per_chapter, wall, by_config, load


def _chapter_records(load, start: float) -> tuple[list, dict]:
    """Every chapter's records, which must all exist: ([(chapter, runs trained since
    `start`, their training seconds)], {config with seed 0: [record per seed]})."""
    from bnbook.runs.studies import chapter_configs

    per_chapter, by_config = [], {}
    for chapter, configs in chapter_configs(load).items():
        print(f"== {chapter}: {len(configs)} runs", flush=True)
        records = [load(c) for c in configs]
        if None in records:
            missing = configs[records.index(None)].label()
            raise SystemExit(f"error: no record of {missing} after training; run the build again")
        for config, record in zip(configs, records, strict=True):
            # A run two chapters read (or a shared rate equal to a chosen one) counts once.
            by_config.setdefault(config.with_seed(0), {})[config] = record
        trained_now = [r for r in records if r.get("created", 0) >= start]
        per_chapter.append((chapter, len(trained_now), sum(r["wall_time_s"] for r in trained_now)))
    return per_chapter, {c: list(rs.values()) for c, rs in by_config.items()}


def write_summary(by_config: dict, path: Path, load) -> None:
    """Every headline number, machine-readable: config, per-seed test and validation
    accuracy, mean, std, time; per headline arm also its selected settings and the
    selection (every candidate's validation accuracy)."""
    from bnbook.runs.experiments import summarize
    from bnbook.runs.studies import arms

    def entry(selection):
        chosen = {s["field"]: s["chosen"] for s in selection.searches}
        return {**summarize(by_config[selection.config]), "selected": chosen,
                "selection": selection.searches}  # fmt: skip

    summary = {
        "headline": {name: entry(selection) for name, selection in arms(load).items()},
        "all_runs": [summarize(records) for records in by_config.values()],
    }
    write_atomically(path, lambda f: json.dump(summary, f, indent=1))
