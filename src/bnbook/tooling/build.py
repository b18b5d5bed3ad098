"""`python -m bnbook.tooling.build`: run the experiments, then build the book.

Training runs first, here, with progress bars in the terminal; the notebooks
then read the finished records from the cache, so the Jupyter Book step only
plots and tabulates. Prints a per-chapter time breakdown and where the
output is.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bnbook.paths import PROJECT_ROOT
from bnbook.runs.devices import default_workers
from bnbook.runs.profiles import ENV_VAR, PROFILES
from bnbook.tooling import names
from bnbook.tooling.progress import OverallBar


def output_root(profile: str) -> Path:
    """Full profile -> _build/ (so the book is _build/html); smoke -> _build/smoke/_build/."""
    return PROJECT_ROOT if profile == "full" else PROJECT_ROOT / "_build" / profile


def pdf_path(profile: str) -> Path:
    """The printable book; its name comes from latex.latex_documents.targetname in _config.yml."""
    return output_root(profile) / "_build" / "latex" / "book.pdf"


def _init_worker(positions) -> None:
    """A training worker: its device, one TensorFlow thread, its own progress-bar line."""
    global _BAR_POSITION
    _BAR_POSITION = positions.get()
    from bnbook.tooling.workers import configure_worker

    configure_worker(_BAR_POSITION - 1)  # line 0 is the overall bar


def _train_in_worker(config):
    from bnbook.runs.experiments import train_and_store

    return train_and_store(config, bar_position=_BAR_POSITION)


def estimated_work(config) -> float:
    """Rough cost of a run (multiply-adds), to start the longest runs first."""
    from bnbook.runs.experiments import conv_blocks, total_steps
    from bnbook.runs.profiles import current_profile

    if config.model == "cnn":
        size, channels, macs = 28, 1, 0
        for filters, pooled in conv_blocks(config.widths):
            macs += size * size * channels * filters * 9
            size, channels = size // 2 if pooled else size, filters
        fan_in = size * size * channels
    else:
        macs, fan_in = 0, 28 * 28
    for width in (*(config.widths if config.model == "mlp" else config.dense), 10):
        macs, fan_in = macs + fan_in * width, width
    steps = total_steps(config, current_profile())
    return steps * (3 * config.batch_size * macs + 1.5e7)  # + per-step overhead


def train_missing(configs, force: bool, workers: int, scheduler: str | None = None) -> None:
    """Train every config whose record is not cached (all, with `force`), in parallel.

    One process per core, each with one TensorFlow thread: this network's small
    ops (batch norm's element-wise passes, a 100-unit MLP) do not use a second
    core, so two single-threaded runs side by side finish sooner than two runs
    one after the other on two threads; the convolutions run as fast either way.
    """
    from bnbook.runs.experiments import is_cached

    todo = list(dict.fromkeys(c for c in configs if force or not is_cached(c)))
    if not todo:
        return
    todo.sort(key=estimated_work, reverse=True)  # longest first: the workers finish together
    if scheduler:  # a Dask cluster instead of local processes (tooling/cluster.py)
        from bnbook.tooling.cluster import train_on_cluster

        return train_on_cluster(todo, scheduler, work_of=estimated_work)
    workers = max(1, min(workers, len(todo)))
    print(f"training {len(todo)} runs on {workers} worker(s)", flush=True)
    overall = OverallBar([estimated_work(c) for c in todo])  # above the workers' bars
    context = multiprocessing.get_context("spawn")
    positions = context.Queue()
    for i in range(workers):
        positions.put(i + 1)
    with (
        overall,
        concurrent.futures.ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(positions,)
        ) as pool,
    ):
        futures = [overall.track(pool.submit(_train_in_worker, c), estimated_work(c)) for c in todo]
        try:
            for future in concurrent.futures.as_completed(futures):
                future.result()  # re-raises a worker's error here
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def run_experiments(force: bool, workers: int, scheduler=None) -> tuple[list, float, dict]:
    """Train what is missing, then load every run the chapters read.

    Returns ([(chapter, runs trained now, their training seconds)], the
    training phase's wall time, the records grouped by config (seeds together)).
    """
    from bnbook.runs.experiments import is_cached, run_or_load
    from bnbook.runs.studies import chapter_configs, runs_to_train_next

    start, trained, rounds = time.time(), set(), 0

    def current(config):  # with --force, only what this build trained counts as cached
        return (not force or config in trained) and is_cached(config)

    # Settings are chosen on validation in stages, so training goes in rounds.
    while todo := runs_to_train_next(current, run_or_load):
        rounds += 1
        print(f"== training round {rounds}: {len(todo)} runs", flush=True)
        train_missing(todo, True, workers, scheduler)
        trained.update(todo)
    wall = time.time() - start
    chapters = chapter_configs()
    for chapter, configs in chapters.items():
        print(f"== {chapter}: {len(configs)} runs", flush=True)
    per_chapter, by_config = [], {}
    for chapter, configs in chapters.items():
        records = [run_or_load(c) for c in configs]
        for config, record in zip(configs, records, strict=True):
            by_config.setdefault(config.with_seed(0), []).append(record)
        trained_now = [r for r in records if r.get("created", 0) >= start]
        per_chapter.append((chapter, len(trained_now), sum(r["wall_time_s"] for r in trained_now)))
    return per_chapter, wall, by_config


def write_summary(by_config: dict, path: Path) -> None:
    """Every headline number, machine-readable: config, per-seed accuracy, mean, std, time."""
    from bnbook.runs.experiments import summarize
    from bnbook.runs.studies import arms

    def entry(selection):
        chosen = {s["field"]: s["chosen"] for s in selection.searches}
        return {**summarize(by_config[selection.config]), "selected": chosen,
                "selection": selection.searches}  # fmt: skip

    summary = {
        "headline": {name: entry(selection) for name, selection in arms().items()},
        "all_runs": [summarize(records) for records in by_config.values()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(path)


PDF_TOC = PROJECT_ROOT / "_toc_pdf.yml"  # the printed submission: homework only (DESIGN.md)


def jupyter_book(root: Path, builder: str, fresh: bool) -> None:
    jb = str(Path(sys.executable).parent / "jupyter-book")
    cmd = [jb, "build", str(PROJECT_ROOT), "--path-output", str(root), "--builder", builder]
    if builder in ("pdflatex", "latex"):
        cmd += ["--toc", str(PDF_TOC)]
    cmd += ["-W", "-n", "--keep-going"]  # warnings are errors; list them all before failing
    if fresh:
        cmd.append("--all")
    result = subprocess.run(cmd, cwd=PROJECT_ROOT)
    if result.returncode != 0:
        raise SystemExit(f"error: the {builder} build failed (see the warnings above)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--force", action="store_true", help="re-train and re-execute all")
    parser.add_argument("--builders", default="html,pdflatex", help="comma-separated")
    parser.add_argument(
        "--workers", type=int, default=default_workers(), help="training processes (per GPU/core)"
    )
    parser.add_argument("--scheduler", help="train on this Dask cluster (tcp://HOST:PORT)")
    args = parser.parse_args(argv)

    os.environ[ENV_VAR] = args.profile
    root = output_root(args.profile)
    if args.force:
        shutil.rmtree(root / "_build" / ".jupyter_cache", ignore_errors=True)

    per_chapter, training_wall, records = run_experiments(args.force, args.workers, args.scheduler)
    summary_path = root / "_build" / "results" / "summary.json"
    write_summary(records, summary_path)
    where = f"Dask cluster {args.scheduler}" if args.scheduler else f"{args.workers} workers"
    phases = [(f"training ({where} in parallel)", training_wall)]
    for builder in args.builders.split(","):
        start = time.perf_counter()
        jupyter_book(root, builder, fresh=args.force)
        phases.append((f"jupyter-book {builder}", time.perf_counter() - start))

    print(f"\nTime per step ({args.profile} profile):")
    for name, seconds in phases:
        print(f"  {name:40s} {seconds:8.1f} s")
        if name.startswith("training"):
            for chapter, trained, run_seconds in per_chapter:
                runs = f"{trained} runs trained now, {run_seconds:.0f} s of worker time"
                print(f"    {chapter:38s} {runs}")
    print(f"  {'total':40s} {sum(s for _, s in phases):8.1f} s")
    print(f"\nHTML book: {root / '_build' / 'html' / 'index.html'}")
    print(f"Headline numbers: {summary_path}")
    if "pdflatex" in args.builders.split(","):
        print(f"PDF book:  {pdf_path(args.profile)}")
    warning = names.placeholder_warning(names.book_names())
    if warning:
        print(warning)
    return 0


if __name__ == "__main__":
    sys.exit(main())
