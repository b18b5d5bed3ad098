"""GPU decisions with the device list replaced (no GPU here), and the precision that follows."""

import subprocess
import sys

from bnbook.runs import cpu, devices, precision
from bnbook.runs.config import Config
from bnbook.runs.devices import Gpu
from bnbook.runs.experiments import record_key
from bnbook.runs.profiles import PROFILES
from bnbook.tooling import workers

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


def test_the_book_names_the_device(monkeypatch):
    from bnbook.presentation import report

    monkeypatch.setenv("BNBOOK_PROFILE", "smoke")
    assert "Trained on the CPU." in report.profile_note().data
    with_gpus(monkeypatch, [T4, Gpu(2, T4.name, T4.compute_capability)])
    assert "Trained on 2 GPUs (Tesla T4)." in report.profile_note().data
