"""`python -m bnbook.tooling.build`: run the experiments, then build the book.

Training runs first, here (tooling.training_schedule, on the parallel workers of
tooling.training_pool), with progress bars in the terminal; the notebooks
then read the finished records from the cache, so the Jupyter Book step only
plots and tabulates. Prints a per-chapter time breakdown and where the
output is.

Under faults: one build at a time per output folder (a lock, held by jupyter-book
and the workers too, so that not even `kill -9` of the build lets another start
beside what it started: tooling.build_lock); Ctrl-C or SIGTERM stops every worker
at once, keeping the records already finished; records are keyed on the code each
worker imported; the finished HTML and PDF are scanned for error output,
tracebacks and raw glue roles (bnbook.tooling.scan).
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bnbook.paths import PROJECT_ROOT, remove_leftovers
from bnbook.runs.devices import default_workers
from bnbook.runs.profiles import ENV_VAR, PROFILES
from bnbook.runs.provenance import threads_env  # workers' and kernels' TF threads (in keys)
from bnbook.tooling import authors, training_schedule
from bnbook.tooling.build_lock import held_fds, lock_output


def output_root(profile: str) -> Path:
    """Full profile -> _build/ (so the book is _build/html); smoke -> _build/smoke/_build/."""
    return PROJECT_ROOT if profile == "full" else PROJECT_ROOT / "_build" / profile


def pdf_path(profile: str) -> Path:
    """The printable book; its name comes from latex.latex_documents.targetname in _config.yml."""
    return pdf_path_in(output_root(profile))


PDF_TOC = PROJECT_ROOT / "_toc_pdf.yml"  # the printed submission: homework only (DESIGN.md)
LATEXMKRC = PROJECT_ROOT / "book" / "latex" / "latexmkrc"  # book.pdf whole or not at all


def jupyter_book(
    root: Path, builder: str, fresh: bool, source: Path = PROJECT_ROOT, toc: Path = PDF_TOC
) -> None:
    """Run jupyter-book's `builder` on the project (`source`) into `root` (`fresh`: every
    page again); the PDF builders read table of contents `toc`."""
    jb = str(Path(sys.executable).parent / "jupyter-book")
    cmd = [jb, "build", str(source), "--path-output", str(root), "--builder", builder]
    if builder in ("pdflatex", "latex"):
        cmd += ["--toc", str(toc)]
    cmd += ["-W", "-n", "--keep-going"]  # warnings are errors; list them all before failing
    if fresh:
        cmd.append("--all")
    env = kernel_environment()
    if builder == "pdflatex":
        env = latex_environment(env)
        forget_an_unfinished_pdf(root / "_build" / "latex")
    # It holds the build lock too: a build killed by -9 leaves it running, and no other
    # build may start on this output until it ends.
    process = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, pass_fds=held_fds())
    try:
        returncode = process.wait()
    except BaseException:  # Ctrl-C or SIGTERM: stop jupyter-book too, and wait for it
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=JUPYTER_BOOK_STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise
    finally:
        if process.returncode != 0:
            forget_saved_environments(root)
    if returncode != 0:
        raise SystemExit(f"error: the {builder} build failed (see the warnings above)")


JUPYTER_BOOK_STOP_S = 30


def forget_saved_environments(root: Path) -> None:
    """Sphinx saves its environment before it writes the pages: after a build that did
    not finish, the next one must read every page again, not trust that record."""
    for pickle in (root / "_build").glob(".doctrees*/environment.pickle"):
        pickle.unlink(missing_ok=True)


def forget_an_unfinished_pdf(latex_dir: Path) -> None:
    """After a PDF conversion that did not finish (book.pdf.part left, or no book.pdf),
    delete latexmk's record of the last run: else latexmk repeats "gave an error" without
    running anything until a source changes."""
    part, pdf = latex_dir / "book.pdf.part", latex_dir / "book.pdf"
    if part.exists() or not pdf.exists():
        (latex_dir / "book.fdb_latexmk").unlink(missing_ok=True)
        part.unlink(missing_ok=True)


def latex_environment(env: dict) -> dict:
    """`env` with our latexmkrc after Sphinx's (book/latex/latexmkrc): the PDF is converted
    into a temporary file and renamed to book.pdf only when whole, so an interrupted
    latexmk never leaves a truncated book.pdf that the next build would take as finished.
    Sphinx's LaTeX Makefile passes LATEXMKOPTS on to latexmk (through make: `$` doubled).
    """
    rc = str(LATEXMKRC).replace("$", "$$").replace("'", "'\\''")
    return {**env, "LATEXMKOPTS": f"{env.get('LATEXMKOPTS', '')} -r '{rc}'".strip()}


def kernel_environment() -> dict:
    """The environment of jupyter-book and so of the notebooks' kernels.

    Without BNBOOK_FORCE (the build already re-trained; kernels must only read),
    with the workers' thread count (part of every record key) and absolute
    record and data folders (kernels run in notebooks/).
    """
    from bnbook.runs.data import DATA_DIR
    from bnbook.runs.experiments import FORCE_ENV_VAR, TRAINING_MODULES
    from bnbook.runs.provenance import source_digest
    from bnbook.runs.records import RECORDS_DIR
    from bnbook.tooling.sphinx_ext import TRAINED_CODE_ENV_VAR

    env = {k: v for k, v in os.environ.items() if k != FORCE_ENV_VAR}
    env.update(threads_env())
    env["BNBOOK_RECORDS_DIR"], env["BNBOOK_DATA_DIR"] = str(RECORDS_DIR), str(DATA_DIR)
    # The code the records were trained with: the pages refuse to build on other code.
    env[TRAINED_CODE_ENV_VAR] = source_digest(TRAINING_MODULES)
    return env


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
    """The printable book in output folder `root`."""
    return root / "_build" / "latex" / "book.pdf"


def _raise_on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C: workers stopped, locks released


def _scheduler(value: str) -> str:
    """A Dask scheduler address, tls://HOST:PORT (tooling/cluster_access)."""
    from bnbook.tooling.cluster_access import address_problem

    problem = address_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def _positive(value: str) -> int:
    """A whole number of at least 1."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments are one line (the usage is `--help`), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _arguments(argv):
    parser = _OneLineParser(prog="bnbook.tooling.build", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--force", action="store_true", help="re-train and re-execute all")
    parser.add_argument("--builders", default="html,pdflatex", help="comma-separated")
    parser.add_argument(
        "--workers", type=_positive, default=default_workers(), help="training processes (>= 1)"
    )
    parser.add_argument(
        "--scheduler", type=_scheduler, help="train on this Dask cluster (tls://HOST:PORT)"
    )
    return parser.parse_args(argv)


def _set_up_process(profile: str, force: bool) -> bool:
    """The profile and thread count for workers and kernels; SIGTERM unwinds like Ctrl-C.

    Returns whether to force re-training: BNBOOK_FORCE=1 means --force here, and
    only here (it leaves the environment: kernels must not re-train).
    """
    from bnbook.runs.experiments import FORCE_ENV_VAR

    force = os.environ.pop(FORCE_ENV_VAR, None) == "1" or force
    os.environ[ENV_VAR] = profile
    os.environ.update(threads_env())
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    return force


def _train_and_build(root: Path, args, builders: list[str], force: bool) -> dict:
    """Train, write the summary, build and scan the book in `root`; the time report."""
    from bnbook.runs.data import DATA_DIR
    from bnbook.runs.records import RecordStore

    results = root / "_build" / "results"
    RecordStore().remove_leftovers()  # temporary files of writes that were killed
    for folder in (DATA_DIR, results):
        remove_leftovers(folder)
    if force:
        shutil.rmtree(root / "_build" / ".jupyter_cache", ignore_errors=True)
    resolved, training_wall, worker = training_schedule.run_experiments(
        force, args.workers, args.scheduler
    )
    training_schedule.write_summary(resolved, results / "summary.json")
    where = f"Dask cluster {args.scheduler}" if args.scheduler else f"{args.workers} workers"
    phases = {f"training ({where} in parallel)": training_wall}
    for builder in builders:
        start = time.perf_counter()
        jupyter_book(root, builder, fresh=force)
        phases[f"jupyter-book {builder}"] = time.perf_counter() - start
    scan_book(root, builders)
    return _time_report(args.profile, phases, worker, resolved, results)


def _time_report(profile: str, phases: dict, worker: dict, resolved, results: Path) -> dict:
    """The report printed at the end and written to _build/results/timing.json."""
    from bnbook.runs import cpu
    from bnbook.runs.plan import CHAPTERS, precision

    chapters = {}
    for chapter, configs in resolved.chapter_configs().items():
        records = [resolved.records[c] for c in dict.fromkeys(configs)]
        chapters[CHAPTERS[chapter]] = {
            "runs": len(records),
            "worker_s": sum(r["wall_time_s"] for r in records),
        }
    report = {
        "profile": profile,
        "cpu": cpu.model_name(),
        "cores": os.cpu_count(),
        "precision": precision(),
        "phases_s": phases,
        "total_s": sum(phases.values()),
        "trained_now": worker,
        "chapters": chapters,
        "date": time.strftime("%Y-%m-%d"),
    }
    training_schedule.write_timing(results / "timing.json", report)
    report["summary_path"] = str(results / "summary.json")
    return report


def _print_report(builders, root, report) -> None:
    """The time per phase, worker time per chapter, and where the outputs are."""
    print(f"\nTime per step ({report['profile']} profile, {report['cpu']}, "
          f"{report['precision']}):")  # fmt: skip
    for name, seconds in report["phases_s"].items():
        print(f"  {name:40s} {seconds:8.1f} s")
    now = report["trained_now"]
    print(f"  trained now: {now['runs']} runs, {now['measured_s']:.0f} s of worker time "
          f"(estimated {now['estimated_s']:.0f} s)")  # fmt: skip
    for chapter, row in report["chapters"].items():
        print(f"    {chapter:38s} {row['runs']} runs, {row['worker_s']:.0f} s of worker time")
    print(f"  {'total':40s} {report['total_s']:8.1f} s")
    print(f"\nHTML book: {root / '_build' / 'html' / 'index.html'}")
    print(f"Headline numbers: {report['summary_path']}")
    print(f"Time report: {Path(report['summary_path']).parent / 'timing.json'}")
    if "pdflatex" in builders:
        print(f"PDF book:  {pdf_path(report['profile'])}")
    warning = authors.placeholder_warning(authors.book_names())
    if warning:
        print(warning)


def main(argv=None) -> int:
    """Train what is missing, build the book, report the time per phase; the exit status."""
    args = _arguments(argv)
    builders = [b for b in args.builders.split(",") if b and b != "none"]

    from bnbook.runs.data import DataError

    force = _set_up_process(args.profile, args.force)
    root = output_root(args.profile)
    try:
        lock = lock_output(root)
    except KeyboardInterrupt:
        print("\ninterrupted while waiting for the build lock; nothing was built", file=sys.stderr)
        return 130
    try:
        report = _train_and_build(root, args, builders, force)
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs are kept; the next build resumes", file=sys.stderr)
        return 130
    except DataError as e:  # from a worker too: one line, as `python -m bnbook.runs.data` says
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        lock.close()
    _print_report(builders, root, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
