"""This machine's CPU, as /proc/cpuinfo describes it: read in one place.

`precision` asks it for native bfloat16, `provenance` for the flags that pick
TensorFlow's kernels and for the model name a record stores, the benchmark for
the family and model number it prints.
"""

import platform
from functools import cache
from pathlib import Path


@cache
def fields() -> dict:
    """The first processor's fields ("model name", "flags", ...); empty where there is none."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor's block ends here; every core is the same CPU
        key, _, value = line.partition(":")
        found.setdefault(key.strip(), value.strip())
    return found


def flags() -> set:
    """The CPU's feature flags ("avx2", "amx_bf16", ...)."""
    return set(fields().get("flags", "").split())


def model_name() -> str:
    """The CPU's model name, as lscpu shows it."""
    return fields().get("model name") or platform.processor() or platform.machine()


def description() -> str:
    """Model name, family and model number, and whether it computes bfloat16 natively."""
    from bnbook.runs.precision import NATIVE_BF16_FLAGS

    info = fields()
    bf16 = sorted(flags() & NATIVE_BF16_FLAGS) or ["no native bfloat16"]
    return (
        f"{model_name()} (family {info.get('cpu family', '?')}, "
        f"model {info.get('model', '?')}; {', '.join(bf16)})"
    )
