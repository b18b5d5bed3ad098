"""MathJax is re-verified at every set-up: the installed folder must be exactly what the
sha512-checked tarball held (one digest over paths and contents), else it is re-fetched
whole. Offline: a fake `npm` hands set-up a tarball made here."""

import base64
import hashlib
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from bnbook.paths import PROJECT_ROOT
from tests.tooling.setup_steps import project_copy, run_step

MATHJAX = "book/_static/mathjax"
FILES = {"tex-mml-chtml.js": b"MathJax = 1;\n", "output/chtml/fonts/woff.js": b"fonts\n"}
FAKE_NPM = '#!/bin/sh\n[ "$1" = pack ] && cp "{tarball}" "mathjax-3.2.2.tgz"\n'


def digest_of(files: dict) -> str:
    """The digest set-up pins, computed here independently: `sha256sum` lines of every
    file, sorted by relative path, hashed once more."""
    lines = [f"{hashlib.sha256(data).hexdigest()}  ./{path}\n" for path, data in files.items()]
    return hashlib.sha256("".join(sorted(lines, key=lambda x: x[66:])).encode()).hexdigest()


def write_tree(root, files):
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)


@dataclass
class FakeProject:
    root: Path
    pins: str  # set-up's MathJax pins for the fake tarball, set after sourcing setup.sh
    env: dict

    def __truediv__(self, path):
        return self.root / path


@pytest.fixture
def project(tmp_path):
    """A project copy with a verified fake MathJax, a fake npm that serves its tarball, and
    set-up's pins for them."""
    root = project_copy(tmp_path / "project")
    write_tree(tmp_path / "package" / "es5", FILES)
    tarball = tmp_path / "mathjax.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(tmp_path / "package", arcname="package")
    npm = tmp_path / "bin" / "npm"
    npm.parent.mkdir()
    npm.write_text(FAKE_NPM.format(tarball=tarball))
    npm.chmod(0o755)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").symlink_to(sys.executable)  # checks the sha512
    write_tree(root / MATHJAX, FILES)
    sha512 = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    pins = f"MATHJAX_SHA512='{sha512}' && MATHJAX_TREE_SHA256={digest_of(FILES)}"
    return FakeProject(root, pins, {"PATH": f"{npm.parent}{os.pathsep}{os.environ['PATH']}"})


def step(project, name):
    return run_step(project.root, f"{project.pins} && {name}", env=project.env)


def test_the_installed_mathjax_is_the_verified_one():
    check = ["bash", "-c", "source scripts/setup.sh && mathjax_is_verified"]
    result = subprocess.run(check, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{MATHJAX} is not what mathjax-3.2.2.tgz held; make setup"


def test_the_digest_covers_every_path_and_content(project):
    assert step(project, "mathjax_is_verified").returncode == 0
    assert step(project, f"tree_digest {MATHJAX}").stdout.strip() == digest_of(FILES)


@pytest.mark.parametrize(
    "damage",
    [
        lambda mathjax: (mathjax / "tex-mml-chtml.js").write_bytes(b"MathJax = 2;\n"),
        lambda mathjax: (mathjax / "output/chtml/fonts/woff.js").unlink(),
        lambda mathjax: (mathjax / "extra.js").write_bytes(b""),
        lambda mathjax: (mathjax / "output").rename(mathjax / "moved"),
    ],
    ids=["edited", "deleted", "added", "renamed"],
)
def test_a_changed_mathjax_is_found_and_fetched_again_whole(project, damage):
    damage(project / MATHJAX)
    assert step(project, "mathjax_is_verified").returncode == 1
    result = step(project, "fetch_mathjax")
    assert result.returncode == 0, result.stderr
    says = result.stdout.strip().splitlines()
    assert len(says) == 1 and "re-fetching MathJax" in says[0], says
    assert step(project, "mathjax_is_verified").returncode == 0
    assert sorted(p.name for p in (project / "book/_static").iterdir()) == ["mathjax"]
    assert step(project, "fetch_mathjax").stdout == ""  # verified now: nothing fetched


@pytest.mark.parametrize("failure", ["npm fails", "wrong tree"])
def test_a_failed_fetch_leaves_the_folder_as_it_was(project, failure):
    (project / MATHJAX / "tex-mml-chtml.js").write_bytes(b"edited\n")
    if failure == "npm fails":
        (project / "bin").mkdir()
        (project / "bin" / "npm").write_text("#!/bin/sh\nexit 1\n")
        (project / "bin" / "npm").chmod(0o755)
        project.env["PATH"] = f"{project / 'bin'}{os.pathsep}{project.env['PATH']}"
        says = "could not fetch mathjax"
    else:  # the tarball passes its sha512 but does not hold the pinned tree
        project.pins += f" && MATHJAX_TREE_SHA256={'0' * 64}"
        says = "MATHJAX_TREE_SHA256 is not the digest"
    result = step(project, "fetch_mathjax")
    assert result.returncode == 1 and says in result.stderr, result.stderr
    assert (project / MATHJAX / "tex-mml-chtml.js").read_bytes() == b"edited\n"
    assert sorted(p.name for p in (project / "book/_static").iterdir()) == ["mathjax"]
