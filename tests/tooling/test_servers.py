"""TensorBoard and JupyterLab as a user meets them: on localhost, seen in a headless browser.

Every server binds 127.0.0.1 on a free port, is polled for a bounded time and
stopped by the test. Screenshots go to _build/test-screenshots/ to look at.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from bnbook.paths import PROJECT_ROOT
from bnbook.runs.records import RecordStore
from bnbook.tooling import tensorboard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-quic", "--hide-scrollbars",
]  # fmt: skip
SHOTS = PROJECT_ROOT / "_build" / "test-screenshots"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout_s: float = 60):
    """The JSON (or text) at `url`, retried until the server answers or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode()
            return json.loads(body) if body[:1] in "[{" else body
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class Server:
    """A server process in its own process group, stopped (and waited for) on exit."""

    def __init__(self, cmd, **kwargs):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, **kwargs
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.stderr = self.proc.stderr.read().decode(errors="replace")


def screenshot(url: str, name: str, wait_ms: int = 15000) -> Path:
    """A 1280x900 headless-Chromium screenshot of `url` after `wait_ms` of page time."""
    if CHROMIUM is None:
        pytest.skip("no chromium (make setup installs it)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    out = SHOTS / f"{name}.png"
    out.unlink(missing_ok=True)
    profile = tempfile.mkdtemp(prefix="bnbook-chromium-")
    try:
        subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900",
             f"--virtual-time-budget={wait_ms}", f"--screenshot={out}", url],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert out.exists() and out.stat().st_size > 10_000, f"no screenshot of {url}"
    return out


def fake_record(key: str, seed: int) -> dict:
    """A record with every kind of series the exporter reads (no training needed)."""
    return {
        "config": {"model": "mlp", "widths": [8, 8], "batch_norm": bool(seed), "seed": seed},
        "profile": "smoke",
        "steps": 4,
        "losses": [2.3, 1.9 - seed / 10, 1.4, 1.25],
        "evals": [
            {
                "step": 2,
                "epoch": 0.5,
                "val_loss": 1.7,
                "val_accuracy": 0.41,
                "train_loss": 1.6,
                "train_accuracy": 0.45,
            },
            {
                "step": 4,
                "epoch": 1.0,
                "val_loss": 1.2,
                "val_accuracy": 0.62 + seed / 100,
                "train_loss": 1.1,
                "train_accuracy": 0.66,
            },
        ],
        "probes": [
            {
                "step": 4,
                "activations": {"act_in_1": {"all": [-1.0, 0.0, 1.5]}},
                "grad_norms": {"dense/kernel": 0.25},
            },
        ],  # fmt: skip
        "test_accuracy": 0.6,
        "test_loss": 1.3,
        "val_accuracy": 0.62 + seed / 100,
        "val_loss": 1.2,
        "versions": {"python": "3"},
        "machine": {"cpu": "test"},
        "train_examples": 64,
        "val_examples": 16,
        "test_examples": 16,
        "train_time_s": 1.0,
        "wall_time_s": 1.0,
        "images_per_second": 256.0,
        "parameters": 100,
        "created": 0.0,
        "key": key,
    }


@pytest.fixture
def exported(tmp_path):
    store = RecordStore(tmp_path / "records")
    for seed in (0, 1):
        key = f"{seed}" * 64
        store.put(key, fake_record(key, seed))
    log_dir = tmp_path / "tensorboard"
    return store, log_dir, tensorboard.export(store, log_dir)


def read_scalars(run_dir: Path) -> dict:
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    acc = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return {
        tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
        for tag in acc.Tags()["tensors"]
    }


def test_event_files_hold_the_records_values(exported):
    store, log_dir, runs = exported
    assert len(runs) == 2
    for name, key in runs.items():
        assert name.startswith("smoke/not in the current chapters/mlp")
        record = store.get(key)
        got = read_scalars(log_dir / name)
        want = tensorboard.series(record)
        assert set(got) == set(want)
        assert {"train/loss", "eval/val_accuracy", "eval/epoch", "final/test_accuracy"} <= set(got)
        assert "probe/activations/act_in_1/all/2" in got and "probe/grad_norms/dense/kernel" in got
        for tag, points in want.items():  # stored as float32
            assert got[tag] == [(s, pytest.approx(v, rel=1e-6)) for s, v in points], tag
    assert not (log_dir.parent / "tensorboard.tmp").exists()


def test_tensorboard_serves_the_runs(exported):
    _, log_dir, runs = exported
    port = free_port()
    cmd = [str(BIN / "tensorboard"), "--logdir", str(log_dir), "--host", "127.0.0.1"]
    with Server([*cmd, "--port", str(port)]):
        base = f"http://127.0.0.1:{port}"
        served = get(f"{base}/data/runs", timeout_s=60)
        assert sorted(served) == sorted(runs)
        shot = screenshot(f"{base}/#timeseries", "tensorboard-scalars", wait_ms=20000)
    print(f"\nTensorBoard screenshot: {shot}")


NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": "import tensorflow as tf\nfrom bnbook.runs.devices import device_kind\n"
            "print('device', device_kind(), float(tf.reduce_sum(tf.ones([3]))))",
        }
    ],
    "metadata": {"kernelspec": {"name": "bnbook", "display_name": "Python (bnbook)"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.mark.slow
def test_jupyterlab_serves_the_notebooks_with_the_project_kernel(tmp_path):
    port, token = free_port(), "t" + os.urandom(8).hex()
    cmd = [str(BIN / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1"]
    cmd += [f"--ServerApp.port={port}", f"--IdentityProvider.token={token}"]
    cmd += ["--ServerApp.root_dir=notebooks", "--ServerApp.port_retries=0", "--allow-root"]
    with Server(cmd, cwd=PROJECT_ROOT) as server:
        base, auth = f"http://127.0.0.1:{port}", f"token={token}"
        assert "started" in get(f"{base}/api/status?{auth}", timeout_s=60)
        serving_s = time.monotonic() - server.started
        specs = get(f"{base}/api/kernelspecs?{auth}")["kernelspecs"]
        assert specs["bnbook"]["spec"]["display_name"] == "Python (bnbook)"
        listing = get(f"{base}/api/contents?{auth}")["content"]
        assert any(item["name"] == "01_data.ipynb" for item in listing)
        # The set-up's overrides: Lab never reaches for the internet (news, updates).
        notes = get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?{auth}")
        defaults = notes["schema"]["properties"]  # overrides.json sets the defaults
        assert defaults["fetchNews"]["default"] == "false", defaults["fetchNews"]
        assert defaults["checkForUpdates"]["default"] is False
        shot = screenshot(f"{base}/lab?{auth}", "jupyterlab", wait_ms=25000)

    nb = tmp_path / "check.ipynb"
    nb.write_text(json.dumps(NOTEBOOK))
    done = subprocess.run(
        [str(BIN / "jupyter"), "execute", "--kernel_name=bnbook", "--inplace", str(nb)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    outputs = json.loads(nb.read_text())["cells"][0]["outputs"]
    text = "".join("".join(o.get("text", "")) for o in outputs)
    assert "device cpu 3.0" in text
    for noise in ("oneDNN", "cpu_feature_guard", "absl::InitializeLog"):  # the quiet kernel
        assert noise not in text and noise not in done.stderr, noise
    print(f"\nJupyterLab answered /api/status {serving_s:.1f} s after start; screenshot: {shot}")


def test_runs_are_named_by_chapter_and_config(monkeypatch, tmp_path):
    from bnbook.runs import plan, records
    from bnbook.runs.experiments import TRAINING_MODULES, key_inputs
    from bnbook.runs.profiles import PROFILES
    from bnbook.runs.provenance import TRAIN_THREADS, digest, source_digest

    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    monkeypatch.setattr(records, "RECORDS_DIR", tmp_path)  # looked up here, never trained
    config = next(c for c in plan.mlp_pair() if c.batch_norm)
    source = source_digest(TRAINING_MODULES)
    inputs = key_inputs(config, PROFILES["smoke"], source, TRAIN_THREADS)
    key = digest(inputs)
    record = {**fake_record(key, 0), "config": config.as_dict(), "profile": "smoke"}
    RecordStore(tmp_path).put(key, {**record, "key_inputs": inputs})
    chapters = tensorboard.chapters_by_key()
    chapter = plan.CHAPTERS["p4_2"]
    assert chapters == {key: chapter}
    record = {"config": config.as_dict(), "profile": "smoke", "key": key}
    name = tensorboard.run_name(record, chapters[key])
    assert name.startswith(f"smoke/{chapter.replace('/', '-')}/{config.label()}")
    assert name.endswith(key[:8]) and name.count("/") == 2


@pytest.mark.parametrize("profile", ["..", ".", "../../outside", ""])
def test_a_record_cannot_write_outside_the_export(profile, tmp_path):
    store = RecordStore(tmp_path / "records")
    key = "7" * 64
    store.put(key, {**fake_record(key, 0), "profile": profile})
    log_dir = tmp_path / "export" / "tensorboard"
    runs = tensorboard.export(store, log_dir)
    assert len(runs) == 1
    written = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert written == {store.path(key)} | {p for p in log_dir.rglob("*") if p.is_file()}
    assert all(p.is_relative_to(log_dir) for p in written - {store.path(key)})
    assert len(list(log_dir.rglob("events.out.tfevents.*"))) == 1
