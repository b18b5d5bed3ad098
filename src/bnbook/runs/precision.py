"""bfloat16 where the CPU computes it natively, float32 elsewhere.

On CPUs with AMX or AVX-512 BF16, Keras' `mixed_bfloat16` policy runs our CNN's
training step about 2.4x faster; on other CPUs bfloat16 is emulated and much
slower. The choice is part of every config, hence of every cache key. On a
GPU, the precision follows the GPU (`devices.gpu_precision`).
"""

from bnbook.runs import cpu

NATIVE_BF16_FLAGS = {"amx_bf16", "avx512_bf16"}
PRECISION_ORDER = ("float32", "mixed_float16", "mixed_bfloat16")  # most widely supported first


def best_precision() -> str:
    """The precision this machine trains in: the GPUs' (least capable decides), else
    mixed_bfloat16 where the CPU has native bfloat16, else float32."""
    from bnbook.runs.devices import gpu_precision, gpus

    if gpus():  # the least capable GPU decides: every worker runs the same configs
        return min((gpu_precision(g) for g in gpus()), key=PRECISION_ORDER.index)
    return "mixed_bfloat16" if cpu.flags() & NATIVE_BF16_FLAGS else "float32"
