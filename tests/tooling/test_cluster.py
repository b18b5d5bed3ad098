"""The build on a Dask cluster (TLS): same records as the local pool, wrong workers refused."""

import time

import pytest

from bnbook.runs import records
from bnbook.runs.experiments import stored_record
from bnbook.runs.profiles import PROFILES
from bnbook.tooling import cluster, cluster_access, training_pool
from tests.tooling.dask_tls import tls_cluster

SAME = ("losses", "evals", "probes", "test_accuracy", "test_loss", "parameters", "steps")


def comparable(record: dict) -> dict:
    """The record's results, with the gradient norms of the probes in layer order.

    Their keys are Keras' automatic layer names ("dense_3/kernel"), which count
    the layers the worker process built before (in the local pool too), so
    they depend on which runs a worker happened to train first.
    """
    probes = [{**p, "grad_norms": list(p["grad_norms"].values())} for p in record["probes"]]
    return {**{k: record[k] for k in SAME}, "probes": probes}


def smoke_runs(monkeypatch, n=6):
    """A few smoke runs of every kind (MLP with probes, batch norm, CNN), cheapest first."""
    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    from bnbook.runs import plan

    # Runs that depend on no selection (no records needed to list them).
    every = dict.fromkeys(plan.lr_sweep() + plan.cnn_grid() + plan.figure1())
    mlp = sorted((c for c in every if c.model == "mlp"), key=training_pool.estimated_work)
    cnn = sorted((c for c in every if c.model == "cnn"), key=training_pool.estimated_work)
    return mlp[: n // 2] + cnn[: n - n // 2]


def use_store(monkeypatch, directory):
    monkeypatch.setenv("BNBOOK_RECORDS_DIR", str(directory))  # spawned workers
    monkeypatch.setattr(records, "RECORDS_DIR", directory)  # this process
    return records.RecordStore(directory)


def test_a_worker_with_other_code_libraries_or_device_is_refused(capsys):
    build_id = cluster.identity()
    other_code = {**build_id, "source": "0" * 64}
    other_keras = {**build_id, "versions": {**build_id["versions"], "keras": "0.0"}}
    other_device = {**build_id, "device": "gpu:Tesla T4"}
    no_onednn = {**build_id, "numerics": {**build_id["numerics"], "onednn": False}}
    identities = {"tls://a:1": build_id, "tls://b:1": other_code}
    identities |= {"tls://c:1": other_keras, "tls://d:1": other_device, "tls://e:1": no_onednn}
    assert cluster.accepted_workers(identities, build_id) == ["tls://a:1"]
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4  # one line per refused worker
    assert "tls://b:1" in lines[0] and "training code differs" in lines[0]
    assert "keras" in lines[1] and "gpu:Tesla T4" in lines[2]
    assert "numerics differ (onednn)" in lines[3]
    with pytest.raises(cluster.WorkerMismatch, match="training code differs"):
        cluster.train_remote(None, PROFILES["smoke"], other_code)


@pytest.mark.slow
def test_local_cluster_trains_the_same_records_as_the_local_pool(monkeypatch, tmp_path, use_certs):
    configs = smoke_runs(monkeypatch)
    profile = PROFILES["smoke"]

    local = use_store(monkeypatch, tmp_path / "local")
    start = time.perf_counter()
    training_pool.train_missing(configs, force=True, workers=2)
    local_s = time.perf_counter() - start

    remote = use_store(monkeypatch, tmp_path / "cluster")
    start = time.perf_counter()
    with tls_cluster(use_certs, n_workers=2) as lc:
        training_pool.train_missing(configs, force=True, workers=2, scheduler=lc.scheduler_address)
    cluster_s = time.perf_counter() - start

    for config in configs:
        a, b = stored_record(config, profile, local), stored_record(config, profile, remote)
        assert a is not None and b is not None, config
        assert a["intra_op_threads"] == b["intra_op_threads"] == 1
        a, b = comparable(a), comparable(b)
        for field in SAME:
            assert a[field] == b[field], (config.label(), field)
    # Timed for the log only: on a shared machine the ratio is no test (README has it).
    print(
        f"\n{len(configs)} smoke runs: local pool {local_s:.1f} s, LocalCluster {cluster_s:.1f} s"
        f" (with its start-up), ratio {cluster_s / local_s:.2f}"
    )


def test_no_scheduler_is_a_one_line_error(monkeypatch, tmp_path, use_certs):
    configs = smoke_runs(monkeypatch, n=1)
    use_store(monkeypatch, tmp_path)
    monkeypatch.setattr(cluster_access, "CONNECT_TIMEOUT_S", 2)
    with pytest.raises(SystemExit, match="error: no Dask scheduler at tls://127.0.0.1:9 accepted"):
        training_pool.train_missing(configs, force=True, workers=1, scheduler="tls://127.0.0.1:9")
