"""A reader re-executes a results chapter as JupyterLab does: the build's records, no training."""

import os
import subprocess
import sys
import time
from pathlib import Path

from bnbook.paths import PROJECT_ROOT
from bnbook.runs.records import RecordStore

CHAPTER = PROJECT_ROOT / "notebooks" / "07_problem4_3_cnn.ipynb"  # the most runs of any page


def test_a_results_chapter_re_executes_from_the_records_without_training(smoke_book, tmp_path):
    records = RecordStore().directory
    before = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    # A kernel started from JupyterLab's launcher: none of the build's variables (threads,
    # code digest, records folder), only the profile that `make lab BNBOOK_PROFILE=smoke` sets.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BNBOOK_", "TF_"))}
    env["BNBOOK_PROFILE"] = "smoke"
    jupyter = Path(sys.executable).parent / "jupyter"
    cmd = [jupyter, "execute", "--kernel_name=bnbook", f"--output={tmp_path / 'run.ipynb'}"]
    start = time.monotonic()
    done = subprocess.run([*cmd, CHAPTER], cwd=CHAPTER.parent, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    seconds = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    after = {p.name: p.stat().st_mtime_ns for p in records.glob("*.json")}
    assert after == before, "re-executing a chapter trained or rewrote records"
    assert "NotTrained" not in (tmp_path / "run.ipynb").read_text()
    print(f"\n{CHAPTER.name} re-executed from {len(before)} records in {seconds:.1f} s")
