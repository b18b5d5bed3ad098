"""`python -m bnbook.tooling.build` under bad input and interruptions: one line, a
non-zero exit status, no traceback; leftovers of killed writes
are cleaned; a PDF cut short never takes the final name."""

import fcntl
import os
import signal
import subprocess
import sys
import time

import pytest

from bnbook.paths import PROJECT_ROOT
from bnbook.runs import plan
from bnbook.tooling import build, training_schedule


def run_build(*args, **kwargs):
    cmd = [sys.executable, "-m", "bnbook.tooling.build", *args]
    return subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, **kwargs)


@pytest.mark.parametrize(
    "args, says",
    [
        (["--scheduler", "http://h:8786"], "tls://HOST:PORT"),
        (["--scheduler", "h:8786"], "tls://HOST:PORT"),
        (["--scheduler", "tls://h:99999"], "tls://HOST:PORT"),
        (["--scheduler", "tcp://h:8786"], "TLS only"),
        (["--workers", "0"], "at least 1"),
        (["--workers", "-1"], "at least 1"),
        (["--workers", "two"], "at least 1"),
    ],
)
def test_bad_arguments_are_one_line(args, says):
    result = run_build("--profile", "smoke", "--builders", "", *args, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in result.stderr, lines


@pytest.mark.parametrize(
    "address", ["tls://127.0.0.1:8786", "tls://scheduler.lan:1", "tls://[::1]:8786"]
)
def test_good_scheduler_addresses_pass(address):
    assert build._arguments(["--scheduler", address]).scheduler == address


def test_ctrl_c_while_waiting_for_the_lock_is_one_line_and_130(tmp_path):
    lock_path = build.output_root("smoke") / "_build" / ".build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BNBOOK_RECORDS_DIR": str(tmp_path / "records"), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "bnbook.tooling.build", "--profile", "smoke", "--builders", ""]
    with open(lock_path, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            assert proc.stdout.readline().startswith("waiting:")
            time.sleep(0.5)  # inside flock
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in err, err


def test_the_build_removes_temporary_files_of_killed_writes(tmp_path, monkeypatch):
    data, results = tmp_path / "data", tmp_path / "_build" / "results"
    records = tmp_path / "records"
    leftovers = [data / ".mnist.npz.8h2kd9_x.tmp", results / ".summary.json.2147483647.x1.tmp"]
    leftovers.append(records / ".abc.json.2147483647.y2.tmp")
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("partial")
    (data / "mnist.npz").write_text("kept")
    for name in ("BNBOOK_PROFILE", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    monkeypatch.setattr("bnbook.runs.records.RECORDS_DIR", records)
    monkeypatch.setattr("bnbook.runs.data.DATA_DIR", data)
    monkeypatch.setattr(build, "output_root", lambda profile: tmp_path)
    nothing = (plan.Resolved({}, {}), 0.0, {"estimated_s": 0, "measured_s": 0, "runs": 0})
    monkeypatch.setattr(training_schedule, "run_experiments", lambda *a: nothing)
    monkeypatch.setattr(training_schedule, "write_summary", lambda resolved, path: None)
    monkeypatch.setattr(build.signal, "signal", lambda *args: None)
    assert build.main(["--profile", "smoke", "--builders", ""]) == 0
    assert [p for p in leftovers if p.exists()] == []
    assert (data / "mnist.npz").exists()


FAKE_XDVIPDFMX = """#!/bin/sh
# A conversion cut short (Ctrl-C, kill): part of a PDF under the output name, then death.
while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out=$2; shift; done
printf '%%PDF-1.5\\npartial' > "$out"
kill -9 $$
"""


@pytest.mark.book
def test_a_pdf_cut_short_never_takes_the_final_name(tmp_path):
    """A two-page book through jupyter-book's pdflatex route with the build's environment:
    with xdvipdfmx killed half-way the build fails and there is no book.pdf; then whole."""
    from tests.tooling.test_authors import tiny_book

    book = tmp_path / "book"
    book.mkdir()
    tiny_book(book)
    fake = tmp_path / "bin" / "xdvipdfmx"
    fake.parent.mkdir()
    fake.write_text(FAKE_XDVIPDFMX)
    fake.chmod(0o755)
    out = tmp_path / "out"
    pdf = out / "_build" / "latex" / "book.pdf"
    path = os.environ["PATH"]
    try:
        os.environ["PATH"] = f"{fake.parent}:{path}"
        with pytest.raises(SystemExit, match="pdflatex build failed"):
            build.jupyter_book(out, "pdflatex", False, source=book, toc=book / "_toc.yml")
    finally:
        os.environ["PATH"] = path
    assert not pdf.exists(), "a truncated book.pdf took the final name"
    build.jupyter_book(out, "pdflatex", False, source=book, toc=book / "_toc.yml")
    assert pdf.read_bytes().startswith(b"%PDF") and b"%%EOF" in pdf.read_bytes()[-64:]
