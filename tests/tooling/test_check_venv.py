"""scripts/check_venv.py finds a package deleted from the environment, in hashed pins too."""

import shutil
import subprocess
import sys
from pathlib import Path

import pip

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


def test_hashed_pins_spanning_lines_are_read_and_reported_with_their_hashes(tmp_path):
    """The format `make freeze` writes: `\\` continuations, `--hash` options, markers."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "pip").symlink_to(Path(pip.__file__).parent)  # its packaging reads the markers
    for name in ("fakepkg", "otherpkg"):
        (site / name).mkdir()
        (site / name / "__init__.py").write_text("")
        info = site / f"{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (info / "RECORD").write_text(f"{name}/__init__.py,,\n")
    hashes = [f"sha256:{c * 64}" for c in "ab"]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# pins, hashed\n"
        f"fakepkg==1.0; python_version >= '3' \\\n    --hash={hashes[0]} \\\n"
        f"    --hash={hashes[1]}\n"
        f"otherpkg==1.0 \\\n    --hash={hashes[0]}\n"
        f"absent==2.0; python_version < '3' \\\n    --hash={hashes[0]}\n"
    )
    check = [str(venv / "bin" / "python"), str(PROJECT_ROOT / "scripts" / "check_venv.py")]
    assert subprocess.run([*check, str(requirements)], capture_output=True).returncode == 0
    shutil.rmtree(site / "fakepkg")
    out = subprocess.run([*check, str(requirements)], capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout.split() == ["fakepkg==1.0"]
    whole = [*check, "--as-requirements", str(requirements)]
    out = subprocess.run(whole, capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stdout.splitlines() == [f"fakepkg==1.0 --hash={hashes[0]} --hash={hashes[1]}"]
