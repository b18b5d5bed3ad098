"""The build as a process: signals stop every worker, --force stays in the build, a second
build waits for the first, the summary is written whole, a data error is one line."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from bnbook.paths import PROJECT_ROOT
from bnbook.runs import data, experiments, plan
from bnbook.runs.records import RecordStore
from bnbook.tooling import build, training_schedule


def training_build(tmp_path):
    """A smoke-profile build that only trains, into its own records folder."""
    env = {**os.environ, "BNBOOK_RECORDS_DIR": str(tmp_path / "records"), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "bnbook.tooling.build", "--profile", "smoke", "--builders", ""]
    out = open(tmp_path / "out.txt", "w")  # noqa: SIM115 - closed by the caller's process end
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.slow
def test_a_signal_stops_every_worker_within_5_s_and_the_next_build_resumes(
    tmp_path, signum, monkeypatch
):
    records = tmp_path / "records"
    proc = training_build(tmp_path)
    workers = []
    try:
        deadline = time.monotonic() + 240
        while not list(records.glob("*.json")):  # wait until training is well under way
            assert proc.poll() is None, (tmp_path / "out.txt").read_text()
            assert time.monotonic() < deadline, "no record after 4 minutes"
            time.sleep(0.2)
        workers += psutil.Process(proc.pid).children(recursive=True)
        assert workers, "no worker processes"
        if signum == signal.SIGINT:  # Ctrl-C: the terminal signals the whole process group
            for pid in [proc.pid] + [w.pid for w in workers]:
                os.kill(pid, signum)
        else:
            proc.send_signal(signum)
        start = time.monotonic()
        proc.wait(timeout=15)
        _, alive = psutil.wait_procs(workers, timeout=max(0.1, 5 - (time.monotonic() - start)))
        assert time.monotonic() - start < 5.5 and not alive, f"still running: {alive}"
        assert proc.returncode != 0
    finally:  # never leave a build training behind a failed test
        if proc.poll() is None:
            proc.kill()
        for worker in workers:
            if worker.is_running():
                worker.kill()
        proc.wait(timeout=10)
    store = RecordStore(records)
    for path in records.glob("*.json"):
        assert store.get(path.stem) is not None, f"partial record {path.name}"
    # Resume: what finished is cached, so the next build trains only the rest.
    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    resolved = plan.resolve(experiments.lookup(store=store))
    assert len(resolved.records) == len(list(records.glob("*.json"))) > 0


def test_force_retrains_in_the_build_but_never_in_the_kernels(monkeypatch, tmp_path):
    seen = {}

    def run_experiments(force, workers, scheduler=None):
        seen["force"] = force
        return (plan.Resolved({}, {}), 0.0, {"estimated_s": 0, "measured_s": 0, "runs": 0})

    class FakeJupyterBook:
        def __init__(self, cmd, **kwargs):
            seen["env"] = kwargs.get("env")
            self.returncode = 0

        def wait(self, timeout=None):
            return 0

    for name in ("BNBOOK_PROFILE", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    monkeypatch.setenv(experiments.FORCE_ENV_VAR, "1")
    monkeypatch.setattr("bnbook.runs.records.RECORDS_DIR", tmp_path / "records")
    monkeypatch.setattr(build, "output_root", lambda profile: tmp_path)
    monkeypatch.setattr(training_schedule, "run_experiments", run_experiments)
    monkeypatch.setattr(training_schedule, "write_summary", lambda resolved, path: None)
    monkeypatch.setattr(build, "scan_book", lambda root, builders: None, raising=False)
    monkeypatch.setattr(build.signal, "signal", lambda *args: None)
    monkeypatch.setattr(subprocess, "Popen", FakeJupyterBook)
    build.main(["--profile", "smoke", "--builders", "html"])
    assert seen["force"] is True, "BNBOOK_FORCE=1 must still force the build's training"
    kernel_env = seen["env"] if seen["env"] is not None else os.environ
    assert experiments.FORCE_ENV_VAR not in kernel_env, "the kernels would re-train every run"


def test_a_second_build_waits_for_the_first_and_says_who_holds_it(tmp_path):
    import fcntl

    lock_path = build.output_root("smoke") / "_build" / ".build.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.seek(0), held.truncate(), held.write("pid 4242\n"), held.flush()
        proc = training_build(tmp_path)
        try:
            time.sleep(8)
            out = (tmp_path / "out.txt").read_text()
            assert proc.poll() is None and "pid 4242" in out, out
            assert not (tmp_path / "records").exists(), "the second build trained meanwhile"
        finally:
            for p in [*psutil.Process(proc.pid).children(recursive=True), proc]:
                p.kill()
            proc.wait(timeout=10)


def test_the_summary_is_written_through_a_unique_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    path.with_suffix(".tmp").mkdir()  # the fixed name of the old code cannot be used
    monkeypatch.setattr("bnbook.presentation.evidence.comparisons", lambda resolved: [])
    monkeypatch.setattr("bnbook.presentation.evidence.headline", lambda resolved: {})
    monkeypatch.setattr("bnbook.presentation.evidence.matched_pairs", lambda resolved: {})
    training_schedule.write_summary(plan.Resolved({}, {}), path)
    expected = {"comparisons": [], "pairs": {}, "headline": {}, "all_runs": []}
    assert json.loads(path.read_text()) == expected


def test_a_data_error_in_the_build_is_one_line(monkeypatch, tmp_path, capsys):
    def no_data(force, workers, scheduler=None):
        raise data.DataError("no MNIST source found in data; run `make setup`")

    for name in ("BNBOOK_PROFILE", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    monkeypatch.setattr("bnbook.runs.records.RECORDS_DIR", tmp_path / "records")
    monkeypatch.setattr(build, "output_root", lambda profile: tmp_path)
    monkeypatch.setattr(training_schedule, "run_experiments", no_data)
    monkeypatch.setattr(build.signal, "signal", lambda *args: None)
    assert build.main(["--profile", "smoke", "--builders", ""]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: no MNIST source found in data; run `make setup`"
    ]
