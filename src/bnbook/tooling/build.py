"""`python -m bnbook.tooling.build`: run the experiments, then build the book.

Training runs first, here, with progress bars in the terminal; the notebooks
then read the finished records from the cache, so the Jupyter Book step only
plots and tabulates. Prints a per-chapter time breakdown and where the
output is.

Under faults: one build at a time per output folder (a lock); Ctrl-C or SIGTERM
stops every worker at once, keeping the records already finished; records are
keyed on the code each worker imported; the finished HTML and PDF are scanned
for error output, tracebacks and raw glue roles (bnbook.tooling.scan).
"""

import argparse
import concurrent.futures
import fcntl
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bnbook.paths import PROJECT_ROOT, write_atomically
from bnbook.runs.devices import default_workers
from bnbook.runs.profiles import ENV_VAR, PROFILES
from bnbook.runs.provenance import TRAIN_THREADS  # workers' and kernels' TF threads (in keys)
from bnbook.tooling import names
from bnbook.tooling.progress import OverallBar


def output_root(profile: str) -> Path:
    """Full profile -> _build/ (so the book is _build/html); smoke -> _build/smoke/_build/."""
    return PROJECT_ROOT if profile == "full" else PROJECT_ROOT / "_build" / profile


def pdf_path(profile: str) -> Path:
    """The printable book; its name comes from latex.latex_documents.targetname in _config.yml."""
    return pdf_path_in(output_root(profile))


STOP_SECONDS = 5  # after Ctrl-C/SIGTERM, workers get this long before they are killed


def _init_worker(positions) -> None:
    """A training worker: its device, one TensorFlow thread, its own progress-bar line
    (line 0 is the overall bar), no Ctrl-C.

    Ctrl-C reaches the whole process group; the build's main process alone
    handles it (it stops the workers), so a worker never goes on to its next run.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _BAR_POSITION
    _BAR_POSITION = positions.get()
    from bnbook.runs.experiments import loaded_source_digest
    from bnbook.tooling.workers import configure_worker

    configure_worker(_BAR_POSITION - 1)  # device, quiet start-up, TRAIN_THREADS threads

    loaded_source_digest()  # the code this worker runs is the code its records are keyed on


def _train_in_worker(config):
    from bnbook.runs.experiments import train_and_store

    return train_and_store(config, bar_position=_BAR_POSITION)


def estimated_work(config) -> float:
    """Rough cost of a run (multiply-adds), to start the longest runs first."""
    from bnbook.runs.config import conv_blocks, total_steps
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


def _stop_workers(pool, futures) -> None:
    """Stop every worker now (a half-trained run is lost; finished records stay).

    Futures are not cancelled: the pool marks them broken itself, and a cancelled
    one makes its manager thread print a traceback (CPython 3.11).
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
    pool.shutdown(wait=False)


def train_missing(
    configs, force: bool, workers: int, source: str | None = None, scheduler: str | None = None
) -> None:
    """Train every config whose record is not cached (all, with `force`), in parallel.

    One process per core, each with one TensorFlow thread: this network's small
    ops (batch norm's element-wise passes, a 100-unit MLP) do not use a second
    core, so two single-threaded runs side by side finish sooner than two runs
    one after the other on two threads; the convolutions run as fast either way.
    """
    from bnbook.runs.experiments import is_cached, record_key
    from bnbook.runs.profiles import current_profile

    todo = list(dict.fromkeys(c for c in configs if force or not is_cached(c, source=source)))
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
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(positions,)
    )
    futures = {overall.track(pool.submit(_train_in_worker, c), estimated_work(c)): c for c in todo}
    try:
        for future in concurrent.futures.as_completed(futures):
            record = future.result()  # re-raises a worker's error here
            if source is None:
                continue
            if record["key"] != record_key(futures[future], current_profile(), source):
                raise SystemExit(
                    "error: the training code changed while this build ran; the runs "
                    "trained so far are kept under the code that made them. Run the build again."
                )
    except BaseException:
        _stop_workers(pool, futures)
        raise
    finally:
        overall.close()
    pool.shutdown()


def run_experiments(force: bool, workers: int, scheduler=None) -> tuple[list, float, dict]:
    """Train what is missing, in rounds, then load every run the chapters read.

    Settings are chosen on validation in stages (runs.selection), so a round
    trains what can be trained now (runs.studies.runs_to_train_next), and the
    next round what the results make known. Returns ([(chapter, runs trained
    now, their training seconds)], the training phase's wall time, the records
    grouped by config (seeds together)).
    """
    from bnbook.runs.experiments import TRAINING_MODULES, record_key
    from bnbook.runs.profiles import current_profile
    from bnbook.runs.provenance import source_digest
    from bnbook.runs.records import RecordStore
    from bnbook.runs.studies import chapter_configs, runs_to_train_next

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
    chapters = chapter_configs(load)
    per_chapter, by_config = [], {}
    for chapter, configs in chapters.items():
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
    return per_chapter, wall, {c: list(rs.values()) for c, rs in by_config.items()}, load


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


PDF_TOC = PROJECT_ROOT / "_toc_pdf.yml"  # the printed submission: homework only (DESIGN.md)


def jupyter_book(root: Path, builder: str, fresh: bool) -> None:
    jb = str(Path(sys.executable).parent / "jupyter-book")
    cmd = [jb, "build", str(PROJECT_ROOT), "--path-output", str(root), "--builder", builder]
    if builder in ("pdflatex", "latex"):
        cmd += ["--toc", str(PDF_TOC)]
    cmd += ["-W", "-n", "--keep-going"]  # warnings are errors; list them all before failing
    if fresh:
        cmd.append("--all")
    result = subprocess.run(cmd, cwd=PROJECT_ROOT, env=kernel_environment())
    if result.returncode != 0:
        raise SystemExit(f"error: the {builder} build failed (see the warnings above)")


def kernel_environment() -> dict:
    """The environment of jupyter-book and so of the notebooks' kernels.

    Without BNBOOK_FORCE (the build already re-trained; kernels must only read),
    with the workers' thread count (part of every record key) and absolute
    record and data folders (kernels run in notebooks/).
    """
    from bnbook.runs.data import DATA_DIR
    from bnbook.runs.experiments import FORCE_ENV_VAR
    from bnbook.runs.records import RECORDS_DIR

    env = {k: v for k, v in os.environ.items() if k != FORCE_ENV_VAR}
    env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = str(TRAIN_THREADS)
    env["BNBOOK_RECORDS_DIR"], env["BNBOOK_DATA_DIR"] = str(RECORDS_DIR), str(DATA_DIR)
    return env


def lock_output(root: Path):
    """Hold the output folder for this build; a second build waits here, saying for whom.

    Returns the open lock file (the lock lasts as long as it stays open).
    """
    path = root / "_build" / ".build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(path, "a+")  # noqa: SIM115 - held open for the whole build
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "another process"
        print(f"waiting: another build ({holder}) is using {root / '_build'}", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}\n")
    lock.flush()
    return lock


def scan_book(root: Path, builders: list[str]) -> None:
    """Fail, naming the page, if the finished HTML or PDF shows an error or a raw role."""
    from bnbook.tooling.scan import scan_html, scan_pdf

    problems = []
    if "html" in builders:
        problems += scan_html(root / "_build" / "html")
    if "pdflatex" in builders and pdf_path_in(root).exists():
        problems += scan_pdf(pdf_path_in(root))
    if problems:
        print("\n".join(f"error: {p}" for p in problems), file=sys.stderr)
        raise SystemExit(f"error: {len(problems)} problem(s) in the built book (listed above)")


def pdf_path_in(root: Path) -> Path:
    return root / "_build" / "latex" / "book.pdf"


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: workers stopped, locks released


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
    builders = [b for b in args.builders.split(",") if b and b != "none"]

    from bnbook.runs.data import DataError
    from bnbook.runs.experiments import FORCE_ENV_VAR
    from bnbook.runs.records import RecordStore

    # BNBOOK_FORCE=1 means --force here, and only here: kernels must not re-train.
    force = os.environ.pop(FORCE_ENV_VAR, None) == "1" or args.force
    os.environ[ENV_VAR] = args.profile
    os.environ["TF_NUM_INTRAOP_THREADS"] = os.environ["TF_NUM_INTEROP_THREADS"] = str(TRAIN_THREADS)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    root = output_root(args.profile)
    lock = lock_output(root)
    try:
        RecordStore().remove_leftovers()  # of builds that were killed
        if force:
            shutil.rmtree(root / "_build" / ".jupyter_cache", ignore_errors=True)
        per_chapter, training_wall, records, load = run_experiments(
            force, args.workers, args.scheduler
        )
        summary_path = root / "_build" / "results" / "summary.json"
        write_summary(records, summary_path, load)
        where = f"Dask cluster {args.scheduler}" if args.scheduler else f"{args.workers} workers"
        phases = [(f"training ({where} in parallel)", training_wall)]
        for builder in builders:
            start = time.perf_counter()
            jupyter_book(root, builder, fresh=force)
            phases.append((f"jupyter-book {builder}", time.perf_counter() - start))
        scan_book(root, builders)
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs are kept; the next build resumes", file=sys.stderr)
        return 130
    except DataError as e:  # from a worker too: one line, as `python -m bnbook.runs.data` says
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        lock.close()

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
    if "pdflatex" in builders:
        print(f"PDF book:  {pdf_path(args.profile)}")
    warning = names.placeholder_warning(names.book_names())
    if warning:
        print(warning)
    return 0


if __name__ == "__main__":
    sys.exit(main())
