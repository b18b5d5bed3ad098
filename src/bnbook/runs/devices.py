"""Which device trains: the GPUs `nvidia-smi` lists (if TensorFlow can use them), else the CPU.

Decisions only, from a list of GPUs that tests can replace: how many workers
the build starts (one per GPU, else one per core), what each worker's
environment is (one visible GPU, memory growth on, so workers do not each grab
all the GPU memory), the precision (the device's fast native path), and the
device kind that joins every record key. Nothing here imports TensorFlow.
"""

import functools
import os
import subprocess
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    compute_capability: tuple  # (major, minor), e.g. (8, 0) for an A100


def query_nvidia_smi() -> list[Gpu]:
    """The machine's NVIDIA GPUs, or [] when there is no driver or no GPU."""
    cmd = ["nvidia-smi", "--query-gpu=index,name,compute_cap", "--format=csv,noheader"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        index, name, cap = (part.strip() for part in line.split(","))
        major, _, minor = cap.partition(".")
        gpus.append(Gpu(int(index), name, (int(major), int(minor or 0))))
    return gpus


def tensorflow_has_cuda() -> bool:
    """True when the installed TensorFlow is a GPU build (`tensorflow`, not `tensorflow-cpu`)."""
    try:
        metadata.version("tensorflow-cpu")
        return False
    except metadata.PackageNotFoundError:
        pass
    try:
        metadata.version("tensorflow")
    except metadata.PackageNotFoundError:
        return False
    return bool(metadata.requires("tensorflow") or []) and _has_cuda_libraries()


def _has_cuda_libraries() -> bool:
    # tensorflow[and-cuda] installs NVIDIA's CUDA wheels; without them TF runs on the CPU.
    try:
        metadata.version("nvidia-cudnn-cu12")
        return True
    except metadata.PackageNotFoundError:
        return False


@functools.cache
def gpus() -> tuple[Gpu, ...]:
    """The GPUs training uses: none when TensorFlow is the CPU build or CUDA is hidden."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return ()
    return tuple(query_nvidia_smi()) if tensorflow_has_cuda() else ()


def device_kind(gpu_list=None) -> str:
    """ "cpu", or "gpu:" and the GPU model(s): part of every record key."""
    gpu_list = gpus() if gpu_list is None else gpu_list
    if not gpu_list:
        return "cpu"
    return "gpu:" + "+".join(sorted({g.name for g in gpu_list}))


def default_workers(gpu_list=None, cores=None) -> int:
    """Training processes: one per GPU, or one per core on a CPU-only machine."""
    gpu_list = gpus() if gpu_list is None else gpu_list
    return len(gpu_list) or (cores or os.cpu_count() or 1)


def worker_environment(position: int, gpu_list=None) -> dict:
    """Environment of training worker number `position`, set before TensorFlow starts."""
    gpu_list = gpus() if gpu_list is None else gpu_list
    if not gpu_list:
        return {}
    gpu = gpu_list[position % len(gpu_list)]
    return {"CUDA_VISIBLE_DEVICES": str(gpu.index), "TF_FORCE_GPU_ALLOW_GROWTH": "true"}


def gpu_precision(gpu: Gpu) -> str:
    """The GPU's fast native path: bfloat16 from Ampere (8.0) on, float16 with loss
    scaling on Volta/Turing (7.x, tensor cores without bfloat16), float32 before."""
    if gpu.compute_capability >= (8, 0):
        return "mixed_bfloat16"
    if gpu.compute_capability >= (7, 0):
        return "mixed_float16"
    return "float32"


def describe(gpu_list=None) -> str:
    """The device kind for a reader: "the CPU" or "1 GPU (NVIDIA A100-SXM4-40GB)"."""
    gpu_list = gpus() if gpu_list is None else gpu_list
    if not gpu_list:
        return "the CPU"
    count = f"{len(gpu_list)} GPU" + ("s" if len(gpu_list) > 1 else "")
    return f"{count} ({device_kind(gpu_list).removeprefix('gpu:')})"
