"""GPU decisions with the device list replaced (no GPU here), the quiet start-up, the bar."""

import subprocess
import sys

import pytest

from bnbook.runs import cpu, devices, precision
from bnbook.runs.config import Config
from bnbook.runs.devices import Gpu
from bnbook.runs.experiments import record_key
from bnbook.runs.profiles import PROFILES
from bnbook.tooling import progress, quiet, workers

A100 = Gpu(0, "NVIDIA A100-SXM4-40GB", (8, 0))
T4 = Gpu(1, "Tesla T4", (7, 5))
K80 = Gpu(0, "Tesla K80", (3, 7))


def with_gpus(monkeypatch, gpu_list):
    monkeypatch.setattr(devices, "gpus", lambda: tuple(gpu_list))


def test_one_worker_per_gpu_each_seeing_one_device_with_memory_growth():
    two = [A100, Gpu(1, A100.name, (8, 0))]
    assert devices.default_workers(two, cores=64) == 2
    assert devices.default_workers([], cores=64) == 64
    envs = [devices.worker_environment(i, two) for i in range(2)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1"]
    assert all(e["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" for e in envs)
    assert devices.worker_environment(0, []) == {}  # CPU: nothing to hide


def test_precision_follows_the_device(monkeypatch):
    assert [devices.gpu_precision(g) for g in (A100, T4, K80)] == [
        "mixed_bfloat16",
        "mixed_float16",
        "float32",
    ]
    with_gpus(monkeypatch, [A100, T4])  # mixed GPUs: what every one runs fast
    assert precision.best_precision() == "mixed_float16"
    with_gpus(monkeypatch, [])
    monkeypatch.setattr(cpu, "flags", lambda: {"avx512_bf16"})
    assert precision.best_precision() == "mixed_bfloat16"


def test_the_device_kind_is_part_of_the_record_key(monkeypatch):
    with_gpus(monkeypatch, [])
    cpu_key = record_key(Config(), PROFILES["smoke"])
    assert devices.device_kind() == "cpu"
    with_gpus(monkeypatch, [A100])
    assert devices.device_kind() == "gpu:NVIDIA A100-SXM4-40GB"
    assert record_key(Config(), PROFILES["smoke"]) != cpu_key


def test_hidden_cuda_or_a_cpu_build_means_no_gpu(monkeypatch):
    monkeypatch.setattr(devices, "query_nvidia_smi", lambda: [A100])
    monkeypatch.setattr(devices, "tensorflow_has_cuda", lambda: True)
    devices.gpus.cache_clear()
    assert devices.gpus() == (A100,)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    devices.gpus.cache_clear()
    assert devices.gpus() == ()
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    monkeypatch.setattr(devices, "tensorflow_has_cuda", lambda: False)
    devices.gpus.cache_clear()
    assert devices.gpus() == ()
    devices.gpus.cache_clear()


def test_nvidia_smi_output_is_parsed(monkeypatch):
    out = "0, NVIDIA A100-SXM4-40GB, 8.0\n1, Tesla T4, 7.5\n"
    done = subprocess.CompletedProcess([], 0, stdout=out)
    monkeypatch.setattr(devices.subprocess, "run", lambda *a, **k: done)
    assert devices.query_nvidia_smi() == [A100, T4]
    monkeypatch.setattr(devices.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(OSError))
    assert devices.query_nvidia_smi() == []


def test_a_gpu_worker_gets_its_environment_before_tensorflow(monkeypatch):
    code = (
        "import os\nfrom bnbook.runs.devices import Gpu\nfrom bnbook.tooling import workers\n"
        "env = workers.configure_worker(1, [Gpu(0, 'x', (8, 0)), Gpu(3, 'x', (8, 0))])\n"
        "import tensorflow as tf\n"
        "print(os.environ['CUDA_VISIBLE_DEVICES'], os.environ['TF_FORCE_GPU_ALLOW_GROWTH'],"
        " tf.config.threading.get_intra_op_parallelism_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["3", "true", "1"]
    assert workers.configure_worker  # the local pool and Dask workers share it


NOISY = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1795839159.096061   10007 port.cc:153] oneDNN custom operations are on.",
    "I0000 00:00:1795839159.136706   10007 cpu_feature_guard.cc:227] This TensorFlow binary",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1.2 12 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to",
]
REAL = [
    "E0000 00:00:1.2 12 cuda_executor.cc:1] failed call to cuInit: CUDA_ERROR_NO_DEVICE",
    "Traceback (most recent call last):",
    "W0000 00:00:1.2 12 op_kernel.cc:1] OP_REQUIRES failed: out of memory",
]


@pytest.mark.parametrize("line", NOISY)
def test_start_up_notices_are_noise(line):
    assert quiet.is_noise(line)


@pytest.mark.parametrize("line", REAL)
def test_real_errors_are_not_noise(line):
    assert not quiet.is_noise(line)


def stderr_of(code: str, **env) -> str:
    import os

    run_env = {k: v for k, v in os.environ.items() if k not in ("VERBOSE", "TF_CPP_MIN_LOG_LEVEL")}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**run_env, **env},
    )  # fmt: skip
    return out.stderr


def test_tensorflow_imports_quietly_but_real_errors_still_show():
    code = (
        "import os, sys\nimport tensorflow\n"
        "os.write(2, b'E0000 00:00:1.2 12 x.cc:1] a real error\\n')\nprint('py', file=sys.stderr)"
    )
    quiet_err = stderr_of(code)
    assert "oneDNN" not in quiet_err and "absl::InitializeLog" not in quiet_err
    assert "a real error" in quiet_err and "py" in quiet_err
    assert "oneDNN" in stderr_of(code, VERBOSE="1")  # what the filter removes, measured here


def test_errors_during_the_import_pass_the_filter(capfd):
    import os

    with quiet.filtered_stderr():
        os.write(2, b"I0000 00:00:1.2 12 port.cc:153] oneDNN custom operations are on.\n")
        os.write(2, b"ImportError: a real problem\n")
    err = capfd.readouterr().err
    assert err == "ImportError: a real problem\n"


def test_time_left_scales_by_work_not_by_runs():
    assert progress.time_left(10.0, done_work=1.0, total_work=4.0) == 30.0
    assert progress.time_left(10.0, 0.0, 4.0) is None
    # 1 of 2 runs done, but 1/4 of the work: between 10 s (by count) and 30 s (by work)
    assert progress.time_left(10.0, 1.0, 4.0, done_runs=1, total_runs=2) == 20.0
    with progress.OverallBar([1.0, 3.0], file=open("/dev/null", "w")) as bar:
        bar.done(1.0)
        assert bar.bar.n == 1 and bar.done_work == 1.0


def test_the_book_names_the_device(monkeypatch):
    from bnbook.presentation import report

    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    assert "Trained on the CPU." in report.profile_note().data
    with_gpus(monkeypatch, [T4, Gpu(2, T4.name, T4.compute_capability)])
    assert "Trained on 2 GPUs (Tesla T4)." in report.profile_note().data
