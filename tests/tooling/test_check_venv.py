"""scripts/check_venv.py finds a package deleted from the environment."""

import shutil
import subprocess
import sys

from bnbook.paths import PROJECT_ROOT


def test_a_deleted_venv_package_is_found(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "fakepkg").mkdir()
    (site / "fakepkg" / "__init__.py").write_text("")
    info = site / "fakepkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 1.0\n")
    (info / "RECORD").write_text("fakepkg/__init__.py,,\nfakepkg-1.0.dist-info/METADATA,,\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pins\nfakepkg==1.0\n-e .\n")
    check = [str(venv / "bin" / "python"), str(PROJECT_ROOT / "scripts" / "check_venv.py")]
    assert subprocess.run([*check, str(requirements)], capture_output=True).returncode == 0
    shutil.rmtree(site / "fakepkg")
    out = subprocess.run([*check, str(requirements)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout.split() == ["fakepkg==1.0"]
