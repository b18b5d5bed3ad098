"""The quiet start-up: TensorFlow's notices are filtered, real errors still show."""

import subprocess
import sys

import pytest

from bnbook.tooling import quiet

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
