"""One tool formats and lints the code: ruff, over src/, tests/, the notebooks and scripts/."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"


def test_ruff_check():
    cmd = [RUFF, "check", "src", "tests", "notebooks", "scripts"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_ruff_format():
    cmd = [RUFF, "format", "--check", "src", "tests", "notebooks", "scripts"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
