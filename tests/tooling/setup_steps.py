"""Single steps of scripts/setup.sh, run in a throw-away copy of the project's set-up."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bnbook.paths import PROJECT_ROOT

SCRIPTS = PROJECT_ROOT / "scripts"
SET_UP_FILES = ("setup.sh", "check_venv.py", "requirements_file.py")


def project_copy(tmp_path):
    """The set-up scripts in an empty project whose requirements.txt pins nothing."""
    (tmp_path / "scripts").mkdir(parents=True)
    for name in SET_UP_FILES:
        shutil.copy(SCRIPTS / name, tmp_path / "scripts" / name)
    (tmp_path / "requirements.txt").write_text("# nothing pinned\n")
    shutil.copy(PROJECT_ROOT / "requirements-pip.txt", tmp_path / "requirements-pip.txt")
    return tmp_path


def run_step(project, step, python=None, env=None):
    """`source scripts/setup.sh && STEP` in `project`: the completed process."""
    env = {**os.environ, "PYTHON": str(python or Path(sys.base_prefix) / "bin" / "python3"),
           **(env or {})}  # fmt: skip
    env.pop("VIRTUAL_ENV", None)
    cmd = ["bash", "-c", f"source scripts/setup.sh && {step}"]
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=300)
