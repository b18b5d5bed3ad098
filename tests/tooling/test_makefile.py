"""The Makefile's own behaviour: bad input is one line and exit status 2 before any
set-up; `make lab` passes --allow-root only to root."""

import os
import signal
import subprocess

import pytest

from bnbook.paths import PROJECT_ROOT
from bnbook.runs.profiles import PROFILES


def make(*args, env=None, timeout=60):
    """`make ARGS` in the project: (exit status, stdout, stderr); never left running.

    Run as a top-level make even under `make test` (no "Entering directory" lines).
    """
    outer = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    proc = subprocess.Popen(["make", *args], cwd=PROJECT_ROOT, env={**outer, **(env or {})},
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"make {' '.join(args)} still running after {timeout} s: {out[-500:]}")
    return proc.returncode, out, err


@pytest.mark.parametrize(
    "args, env, says",
    [
        (["notebook-pdf", "NB=missing.ipynb"], {}, "no such notebook: missing.ipynb"),
        (["notebook-pdf", "NB=notebooks"], {}, "no such notebook: notebooks"),
        (["notebook-pdf"], {}, "usage: make notebook-pdf NB="),
        (["lab"], {"BNBOOK_PROFILE": "bogus"}, "BNBOOK_PROFILE=bogus is not a profile"),
        (["lab", "BNBOOK_PROFILE=full smoke"], {}, "is not a profile; use one of: full smoke."),
        (["notebook-pdf", "NB=notebooks/01_data.ipynb"], {"BNBOOK_PROFILE": "x"}, "not a profile"),
    ],
)
def test_bad_input_is_one_line_and_exit_2_before_set_up(args, env, says):
    status, out, err = make(*args, env=env)
    assert status == 2 and out == "", out[-500:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines


def test_the_makefile_knows_the_same_profiles_as_the_package():
    dry = subprocess.run(["make", "-p", "-n", "-o", "setup", "lint"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True).stdout  # fmt: skip
    line = next(x for x in dry.splitlines() if x.startswith("PROFILES := "))
    assert line.split(":= ")[1].split() == sorted(PROFILES)


@pytest.mark.parametrize("uid, allowed", [("0", True), ("1000", False)])
def test_lab_allows_root_only_for_root(tmp_path, uid, allowed):
    fake = tmp_path / "id"
    fake.write_text(f"#!/bin/sh\necho {uid}\n")
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}"}
    status, out, err = make("-n", "-o", "setup", "lab", env=env)
    assert status == 0, err
    assert ("--allow-root" in out) == allowed, out
