"""The build's training phase: the plan (runs.plan) trained as a graph, then summary.json.

A run starts as soon as the records it depends on exist: the matched pairs,
candidates and every independent study are known at once; each arm's own-best
runs become known when its pair and candidates are stored. Among the runs
that can start, those that decide later studies go first, then the longest,
so no worker waits while a runnable run does. The plan's estimated worker
time is printed before training and the measured one after.
"""

import json
import time
from pathlib import Path

from bnbook.paths import write_atomically
from bnbook.tooling.training_pool import estimated_work, train_as_they_come


def priority(config, deciding: set) -> tuple:
    """Runs that decide other studies first, then the longest expected first."""
    return (config not in deciding, -estimated_work(config))


def deciding_runs(resolved) -> set:
    """The known runs whose records a study still waiting needs."""
    from bnbook.runs.plan import STUDIES

    needed = {n for s in STUDIES if s.name not in resolved.configs for n in s.needs}
    return {c for name in needed if name in resolved.configs for c in resolved.configs[name]}


def next_runs(resolved, running: set) -> list:
    """What can start now, in the order it should."""
    deciding = deciding_runs(resolved)
    todo = [c for c in dict.fromkeys(resolved.missing()) if c not in running]
    return sorted(todo, key=lambda c: priority(c, deciding))


def run_experiments(force: bool, workers: int, scheduler=None) -> tuple:
    """Train what the plan needs and is missing; returns (the resolved plan, the training
    phase's wall time, {"estimated_s", "measured_s", "runs"} of what trained now)."""
    from bnbook.runs.experiments import lookup
    from bnbook.runs.plan import resolve

    read, trained = lookup(), set()
    start = time.time()

    def current(config):  # with --force, only what this build trained counts as stored
        return read(config) if (not force or config in trained) else None

    first = resolve(current)
    estimate = sum(estimated_seconds(c) for c in first.missing())
    print(f"== plan: {len(first.missing())} runs to train now (more may follow from "
          f"selection); estimated {estimate:.0f} s of worker time", flush=True)  # fmt: skip
    if scheduler:
        _train_on_cluster(current, trained, scheduler)
    elif first.missing():
        _train_as_graph(current, trained, workers)
    resolved = resolve(current)
    if not resolved.complete():
        missing = resolved.missing()
        what = missing[0].label() if missing else "a study"
        raise SystemExit(f"error: no record of {what} after training; run the build again")
    measured = sum(resolved.records[c]["wall_time_s"] for c in trained if c in resolved.records)
    wall = time.time() - start
    print(f"== trained {len(trained)} runs: {measured:.0f} s of worker time in {wall:.0f} s",
          flush=True)  # fmt: skip
    return resolved, wall, {"estimated_s": estimate, "measured_s": measured, "runs": len(trained)}


def estimated_seconds(config) -> float:
    """A run's expected worker seconds (the work estimate at a rate measured on our CPUs)."""
    return 4.0 + estimated_work(config) / 5e10


def _train_as_graph(current, trained: set, workers: int) -> None:
    """Keep every worker busy: start what can start, re-read the plan as runs finish."""
    from bnbook.runs.plan import resolve

    train_as_they_come(workers, lambda running: next_runs(resolve(current), running), trained)


def _train_on_cluster(current, trained: set, scheduler: str) -> None:
    """On a Dask cluster: what can start, in rounds (the cluster balances each round)."""
    from bnbook.runs.plan import resolve
    from bnbook.tooling.cluster import train_on_cluster

    while todo := next_runs(resolve(current), set()):
        train_on_cluster(todo, scheduler, work_of=estimated_work)
        trained.update(todo)
        if any(current(c) is None for c in todo):
            raise SystemExit("error: the cluster returned without every run; run the build again")


def write_summary(resolved, path: Path) -> None:
    """Every headline number, machine-readable: the paired comparisons with their
    intervals and verdicts; each arm's own best with its selection (margins and noise);
    every run family's mean and spread over seeds."""
    from bnbook.presentation import evidence
    from bnbook.runs.experiments import summarize

    by_config = {}
    for config, record in resolved.records.items():
        by_config.setdefault(config.with_seed(0), []).append(record)
    summary = {
        "comparisons": [c.as_dict() for c in evidence.comparisons(resolved)],
        "pairs": evidence.matched_pairs(resolved),
        "headline": evidence.headline(resolved),
        "all_runs": [summarize(records) for records in by_config.values()],
    }
    write_atomically(path, lambda f: json.dump(summary, f, indent=1))


def write_timing(path: Path, report: dict) -> None:
    """The build's time report (per phase, per chapter, CPU, precision) as JSON."""
    write_atomically(path, lambda f: json.dump(report, f, indent=1))
