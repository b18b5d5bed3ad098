"""`python -m bnbook.build`: run the experiments, then build the book.

Training runs first, here, with progress bars in the terminal; the notebooks
then read the finished records from the cache, so the Jupyter Book step only
plots and tabulates. Prints a per-chapter time breakdown and where the
output is.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bnbook.data import PROJECT_ROOT
from bnbook.profiles import ENV_VAR, PROFILES


def output_root(profile: str) -> Path:
    """Full profile -> _build/ (so the book is _build/html); smoke -> _build/smoke/_build/."""
    return PROJECT_ROOT if profile == "full" else PROJECT_ROOT / "_build" / profile


def pdf_path(profile: str) -> Path:
    """The printable book; its name comes from latex.latex_documents.targetname in _config.yml."""
    return output_root(profile) / "_build" / "latex" / "book.pdf"


def run_experiments(force: bool) -> tuple[list[tuple[str, float]], dict]:
    """Train (or load) every run the chapters read.

    Returns (chapter, seconds) pairs and the records grouped by config (seeds together).
    """
    from bnbook.experiments import FORCE_ENV_VAR, run_or_load
    from bnbook.studies import chapter_configs

    os.environ[FORCE_ENV_VAR] = "1" if force else "0"
    timings, by_config = [], {}
    try:
        for chapter, configs in chapter_configs().items():
            start = time.perf_counter()
            print(f"== {chapter}: {len(configs)} runs", flush=True)
            for config in configs:
                by_config.setdefault(config.with_seed(0), []).append(run_or_load(config))
            timings.append((chapter, time.perf_counter() - start))
    finally:
        # The notebooks must load what we just trained, not train it again.
        os.environ.pop(FORCE_ENV_VAR)
    return timings, by_config


def write_summary(by_config: dict, path: Path) -> None:
    """Every headline number, machine-readable: config, per-seed accuracy, mean, std, time."""
    from bnbook.experiments import summarize
    from bnbook.studies import headline

    summary = {
        "headline": {name: summarize(by_config[c]) for name, c in headline().items()},
        "all_runs": [summarize(records) for records in by_config.values()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary, indent=1))
    tmp.replace(path)


def jupyter_book(root: Path, builder: str, fresh: bool) -> None:
    jb = str(Path(sys.executable).parent / "jupyter-book")
    cmd = [jb, "build", str(PROJECT_ROOT), "--path-output", str(root), "--builder", builder]
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
    args = parser.parse_args(argv)

    os.environ[ENV_VAR] = args.profile
    root = output_root(args.profile)
    if args.force:
        shutil.rmtree(root / "_build" / ".jupyter_cache", ignore_errors=True)

    timings, records = run_experiments(args.force)
    summary_path = root / "_build" / "results" / "summary.json"
    write_summary(records, summary_path)
    for builder in args.builders.split(","):
        start = time.perf_counter()
        jupyter_book(root, builder, fresh=args.force)
        timings.append((f"jupyter-book {builder}", time.perf_counter() - start))

    print(f"\nTime per step ({args.profile} profile):")
    for name, seconds in timings:
        print(f"  {name:40s} {seconds:8.1f} s")
    print(f"  {'total':40s} {sum(s for _, s in timings):8.1f} s")
    print(f"\nHTML book: {root / '_build' / 'html' / 'index.html'}")
    print(f"Headline numbers: {summary_path}")
    if "pdflatex" in args.builders.split(","):
        print(f"PDF book:  {pdf_path(args.profile)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
