"""The Dask path under attack and under faults: outsiders cannot join, forged records are
refused, a cluster whose workers left stops the build, Ctrl-C stops the remote runs.

No training: the workers run stand-ins for `cluster.train_remote`, defined here at module
level so that worker processes import them by name.
"""

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bnbook.runs.experiments import key_inputs
from bnbook.runs.profiles import PROFILES
from bnbook.runs.provenance import TRAIN_THREADS, digest
from bnbook.tooling import cluster, cluster_access
from tests.fake_records import SMALL_MLP, fake_record
from tests.tooling.dask_tls import tls_cluster

pytest.importorskip("distributed")
SMOKE = PROFILES["smoke"]
MARKER_ENV = "BNBOOK_TEST_MARKER"


def test_the_certificate_script_makes_an_authority_that_signed_one_node(cluster_certs):
    assert sorted(p.name for p in cluster_certs.iterdir()) == ["ca.pem", "node-key.pem", "node.pem"]
    verify = ["openssl", "verify", "-CAfile", cluster_certs / "ca.pem", cluster_certs / "node.pem"]
    assert subprocess.run(verify, capture_output=True).returncode == 0
    assert stat.S_IMODE((cluster_certs / "node-key.pem").stat().st_mode) == 0o600
    script = cluster_access.PROJECT_ROOT / "scripts" / "cluster-certs.sh"
    again = subprocess.run(["bash", script, cluster_certs], capture_output=True, text=True)
    assert again.returncode == 1 and "already exists" in again.stderr  # never overwritten


def test_missing_certificates_and_unencrypted_addresses_are_one_line(tmp_path):
    with pytest.raises(SystemExit, match=r"node\.pem, node-key\.pem missing .*make cluster-certs"):
        (tmp_path / "ca.pem").write_text("")
        cluster_access.security(tmp_path)
    with pytest.raises(SystemExit, match="unencrypted: the cluster runs with TLS only"):
        cluster_access.connect("tcp://127.0.0.1:8786", tmp_path)


def worker_command(address, certs: Path | None, seconds=10) -> list:
    """`dask worker` as README starts it, with `certs` (None: none at all)."""
    tls = []
    if certs:
        tls = ["--tls-ca-file", certs / "ca.pem", "--tls-cert", certs / "node.pem",
               "--tls-key", certs / "node-key.pem"]  # fmt: skip
    dask = Path(sys.executable).parent / "dask"
    cmd = [dask, "worker", address, "--nthreads", "1", "--no-nanny"]
    return [*cmd, "--death-timeout", str(seconds), *tls]


def scheduler_workers(lc, until, seconds: float) -> dict:
    """The scheduler's workers, once `until(workers)` holds or `seconds` have passed."""
    with lc.get_client() as client:
        deadline = time.monotonic() + seconds
        while True:
            workers = client.scheduler_info(n_workers=-1)["workers"]
            if until(workers) or time.monotonic() > deadline:
                return workers
            time.sleep(0.2)


def workers_of(lc, expected: int, seconds: float) -> int:
    """How many workers the scheduler has, once it has `expected` or `seconds` passed."""
    return len(scheduler_workers(lc, lambda workers: len(workers) == expected, seconds))


def test_outsiders_cannot_join_and_the_build_refuses_a_foreign_scheduler(
    cluster_certs, foreign_certs, monkeypatch
):
    with tls_cluster(cluster_certs, n_workers=0, processes=False) as lc:
        address = lc.scheduler_address
        for certs in (foreign_certs, None):  # another authority's certificate; none at all
            result = subprocess.run(worker_command(address, certs, seconds=5),
                                    capture_output=True, text=True, timeout=90)  # fmt: skip
            assert result.returncode != 0, result.stderr[-2000:]
        assert workers_of(lc, 0, 0) == 0
        # A build that holds another authority's certificate is refused too, in one line.
        monkeypatch.setattr(cluster_access, "CONNECT_TIMEOUT_S", 3)
        with pytest.raises(SystemExit, match=f"no Dask scheduler at {address} accepted"):
            cluster_access.connect(address, foreign_certs)
        # The control: the same command with the project's certificates joins.
        member = subprocess.Popen(worker_command(address, cluster_certs), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            assert workers_of(lc, 1, 60) == 1
        finally:
            member.terminate()
            member.wait(30)


def _reply(config, profile, inputs) -> dict:
    """A worker's reply for the submitted `config`, claiming key inputs `inputs`."""
    return {**fake_record(), "config": config.as_dict(), "profile": profile.name,
            "key_inputs": inputs}  # fmt: skip


def _forged(config, profile, build, forgery):
    """A worker's reply that is not the submitted run (`forgery` says how)."""
    inputs = key_inputs(SMALL_MLP, profile, build["source"], TRAIN_THREADS)
    if forgery == "another run's record":
        return {**fake_record(), "profile": profile.name, "key_inputs": inputs}
    inputs = {**inputs, "config": config.as_dict()}
    if forgery == "other code":
        return _reply(config, profile, {**inputs, "source": "0" * 64})
    if forgery == "other numerics":
        return _reply(config, profile, {**inputs, "numerics": {"threads": 99}})
    if forgery == "incomplete":
        return {"config": config.as_dict(), "key_inputs": inputs}
    return "not a record"


@pytest.mark.parametrize(
    "forgery", ["another run's record", "other code", "other numerics", "incomplete", "garbage"]
)
def test_a_forged_record_is_refused_and_nothing_is_stored(
    forgery, cluster_certs, use_certs, store, monkeypatch
):
    monkeypatch.setattr(
        cluster, "train_remote", lambda c, p, b: _forged(c, p, b, forgery)
    )  # in-process workers: the stand-in is this very function
    config = SMALL_MLP.with_seed(SMALL_MLP.seed + 1)  # not the forger's run
    with tls_cluster(cluster_certs, processes=False) as lc:
        with pytest.raises(SystemExit, match="not what was submitted"):
            cluster.train_on_cluster([config], lc.scheduler_address, SMOKE, store)
    assert list(store.directory.glob("*.json")) == []


def test_an_honest_reply_is_stored_under_the_key_the_build_expects(
    cluster_certs, use_certs, store, monkeypatch
):
    def honest(config, profile, build):
        return _reply(config, profile, key_inputs(config, profile, build["source"], TRAIN_THREADS))

    monkeypatch.setattr(cluster, "train_remote", honest)
    with tls_cluster(cluster_certs, processes=False) as lc:
        cluster.train_on_cluster([SMALL_MLP], lc.scheduler_address, SMOKE, store)
    inputs = key_inputs(SMALL_MLP, SMOKE, cluster.identity()["source"], TRAIN_THREADS)
    assert store.get(digest(inputs)) is not None


def sleep_then_mark(config, profile, build):
    """A run that takes 6 s, then leaves a file: it exists only if the run was not stopped."""
    time.sleep(6)
    Path(os.environ[MARKER_ENV]).write_text("finished")


def _when_running(lc, action):
    """Do `action` (in a thread) once the cluster is executing a task."""

    def executing(workers):
        return any(w["metrics"]["task_counts"].get("executing") for w in workers.values())

    def watch():
        scheduler_workers(lc, executing, 30)
        action()

    threading.Thread(target=watch, daemon=True).start()


def test_a_build_whose_workers_all_left_stops_in_one_line(
    cluster_certs, use_certs, store, monkeypatch, tmp_path
):
    monkeypatch.setenv(MARKER_ENV, str(tmp_path / "marker"))
    monkeypatch.setattr(cluster, "train_remote", sleep_then_mark)
    monkeypatch.setattr(cluster, "POLL_S", 0.3)
    monkeypatch.setattr(cluster, "WORKERS_GONE_S", 1)
    with tls_cluster(cluster_certs) as lc:
        _when_running(lc, lambda: lc.scale(0))
        start = time.monotonic()
        with pytest.raises(SystemExit, match="every accepted Dask worker has left, 1 runs"):
            cluster.train_on_cluster([SMALL_MLP], lc.scheduler_address, SMOKE, store)
    assert time.monotonic() - start < 30


@pytest.mark.slow
def test_ctrl_c_stops_the_runs_on_the_cluster(
    cluster_certs, use_certs, store, monkeypatch, tmp_path, capsys
):
    marker = tmp_path / "marker"
    monkeypatch.setenv(MARKER_ENV, str(marker))  # before the workers start: they inherit it
    monkeypatch.setattr(cluster, "train_remote", sleep_then_mark)
    with tls_cluster(cluster_certs) as lc:
        _when_running(lc, lambda: os.kill(os.getpid(), signal.SIGINT))
        with pytest.raises(KeyboardInterrupt):
            cluster.train_on_cluster([SMALL_MLP], lc.scheduler_address, SMOKE, store)
        assert "stopping 1 runs on the Dask cluster" in capsys.readouterr().err
        time.sleep(8)  # past the run's 6 s: had it gone on, it would have left the marker
    assert not marker.exists()
