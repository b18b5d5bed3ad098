"""pip refuses a file whose SHA-256 is not the pinned one, and set-up installs the pins
that way (`--require-hashes`), offline, on a tiny wheel built here."""

import base64
import ensurepip
import hashlib
import subprocess
import sys
import zipfile

import pytest

from tests.tooling.setup_steps import project_copy, run_step

WRONG = "sha256:" + "0" * 64


def tiny_wheel(folder):
    """tinypkg 1.0 as a wheel in `folder`: (its path, its 'sha256:<hex>')."""
    files = {
        "tinypkg/__init__.py": "VALUE = 1\n",
        "tinypkg-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record += f"{name},sha256={digest.decode()},{len(text)}\n"
    files["tinypkg-1.0.dist-info/RECORD"] = record + "tinypkg-1.0.dist-info/RECORD,,\n"
    folder.mkdir(exist_ok=True)
    wheel = folder / "tinypkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel, "sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest()


def pip_install(requirements, wheels, target):
    offline = ["--isolated", "--no-index", "--find-links", str(wheels)]  # no config, no index
    cmd = [sys.executable, "-m", "pip", "install", *offline, "--require-hashes",
           "--target", str(target), "-r", str(requirements)]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_pip_refuses_a_wrong_hash_and_installs_the_right_one(tmp_path):
    _, right = tiny_wheel(tmp_path / "wheels")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"tinypkg==1.0 \\\n    --hash={WRONG}\n")
    refused = pip_install(requirements, tmp_path / "wheels", tmp_path / "wrong")
    assert refused.returncode != 0 and "DO NOT MATCH THE HASHES" in refused.stderr
    assert not (tmp_path / "wrong" / "tinypkg").exists()
    requirements.write_text(f"tinypkg==1.0 \\\n    --hash={WRONG} \\\n    --hash={right}\n")
    accepted = pip_install(requirements, tmp_path / "wheels", tmp_path / "right")
    assert accepted.returncode == 0, accepted.stderr
    assert (tmp_path / "right" / "tinypkg" / "__init__.py").exists()


@pytest.mark.slow
def test_set_up_installs_the_pins_hash_checked(tmp_path):
    """A pin without a hash, or with a wrong one, fails set-up and leaves the install marker
    unwritten; the right hash installs, and the next set-up installs nothing."""
    project = project_copy(tmp_path / "project")
    _, right = tiny_wheel(tmp_path / "wheels")
    # The venv's own pip already meets this pin, so nothing is fetched for it.
    (project / "requirements-pip.txt").write_text(f"pip=={ensurepip.version()} --hash={WRONG}\n")
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp_path / "wheels")}
    step = "install_own_package() { echo own package; } && install_python_packages"
    unhashed, wrong = "tinypkg==1.0", f"tinypkg==1.0 \\\n    --hash={WRONG}"
    for pin, says in [(unhashed, "Hashes are required"), (wrong, "DO NOT MATCH THE HASHES")]:
        (project / "requirements.txt").write_text(f"# pins\n{pin}\n")
        refused = run_step(project, step, env=offline)
        assert refused.returncode != 0 and says in refused.stderr, refused.stderr
        assert not (project / ".venv" / ".installed-requirements.txt").exists()
    (project / "requirements.txt").write_text(f"# pins\ntinypkg==1.0 \\\n    --hash={right}\n")
    installed = run_step(project, step, env=offline)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "hash-checked" in installed.stdout and "own package" in installed.stdout
    python = project / ".venv" / "bin" / "python"
    assert subprocess.run([python, "-c", "import tinypkg"]).returncode == 0
    again = run_step(project, step, env=offline)
    assert again.returncode == 0 and again.stdout == "", again.stdout
