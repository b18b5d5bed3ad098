"""scripts/setup.sh and scripts/check_venv.py: python3-venv is installed,
a half-made .venv is recreated, markers are PEP 508, the GPU swap is accepted; and every
notebook runs in the kernel set-up registers."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bnbook.paths import PROJECT_ROOT
from tests.tooling.setup_steps import SCRIPTS, project_copy, run_step

# Our package's editable install, left out where the project copy has no package.
WITHOUT_OWN_PACKAGE = "install_own_package() { :; } && "
# What stock Debian does without python3-venv: .venv/bin/python is made, then it fails.
DEBIAN_WITHOUT_VENV = f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  "{sys.base_prefix}/bin/python3" -m venv --without-pip "$3"
  echo "The virtual environment was not created successfully because ensurepip is not"
  echo "available.  On Debian/Ubuntu systems, you need to install the python3-venv package"
  exit 1
fi
exec "{sys.base_prefix}/bin/python3" "$@"
"""


def test_python3_venv_is_in_the_apt_list():
    setup = (SCRIPTS / "setup.sh").read_text()
    packages = setup[
        setup.index("APT_PACKAGES=(") : setup.index(")\n", setup.index("APT_PACKAGES"))
    ]
    assert "python3-venv" in [line.split("#")[0].split() for line in packages.splitlines()][1]


def test_a_half_made_venv_is_recreated(tmp_path):
    project = project_copy(tmp_path)
    python = sys.base_prefix + "/bin/python3"
    subprocess.run([python, "-m", "venv", "--without-pip", project / ".venv"], check=True)
    assert (project / ".venv" / "bin" / "python").exists()  # what a failed first run leaves
    result = run_step(project, WITHOUT_OWN_PACKAGE + "install_python_packages")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recreating .venv" in result.stdout
    pip = [project / ".venv" / "bin" / "python", "-m", "pip", "--version"]
    assert subprocess.run(pip, capture_output=True).returncode == 0
    assert (project / ".venv" / ".created").exists()
    again = run_step(project, WITHOUT_OWN_PACKAGE + "install_python_packages")  # left alone
    assert again.returncode == 0 and "venv" not in again.stdout, again.stdout


def test_a_venv_without_pip_is_one_line_and_leaves_nothing(tmp_path):
    project = project_copy(tmp_path)
    fake = tmp_path / "python3"
    fake.write_text(DEBIAN_WITHOUT_VENV)
    fake.chmod(0o755)
    result = run_step(project, "ensure_venv", python=fake)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "python3-venv" in lines[0] and "ensurepip" in lines[0], lines
    assert not (project / ".venv").exists(), "a half-made .venv was left for the next run"


def check_venv():
    sys.path.insert(0, str(SCRIPTS))
    try:
        import check_venv as module
    finally:
        sys.path.remove(str(SCRIPTS))
    return module


@pytest.mark.parametrize(
    "marker, holds",
    [
        (None, True),
        ("sys_platform == 'linux' and platform_machine == 'x86_64'", sys.platform == "linux"
         and os.uname().machine == "x86_64"),
        ("python_version >= '3.11'", True),
        ('python_version < "3"', False),
        ("sys_platform != 'linux' or platform_machine != 'x86_64'", not (
            sys.platform == "linux" and os.uname().machine == "x86_64")),
        ("os_name == 'posix' and extra == 'x'", False),
    ],
)  # fmt: skip
def test_markers_are_evaluated_as_pep_508(marker, holds):
    assert check_venv().applies(marker) is holds


def test_markers_are_not_eval(monkeypatch):
    source = (SCRIPTS / "check_venv.py").read_text()
    assert "eval(" not in source and "packaging.markers" in source


def fake_venv(tmp_path, *dists):
    """A venv holding fake distributions `(name, version)`, no `packaging` and a bare copy
    of pip's package (as in a venv being repaired: pip's vendored packaging is used)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    shutil.copytree(Path(__import__("pip").__file__).parent, site / "pip")
    for name, version in dists:
        package = name.replace("-", "_")
        (site / package).mkdir(exist_ok=True)
        (site / package / "__init__.py").write_text("")
        info = site / f"{package}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "RECORD").write_text(f"{package}/__init__.py,,\n")
    return venv


def run_check(venv, requirements):
    check = [str(venv / "bin" / "python"), str(SCRIPTS / "check_venv.py"), str(requirements)]
    return subprocess.run(check, capture_output=True, text=True)


def test_the_gpu_swap_is_accepted_and_a_missing_tensorflow_is_not(tmp_path):
    """On a GPU machine tensorflow-cpu is uninstalled for tensorflow[and-cuda] (same version);
    check_venv must not ask to re-install tensorflow-cpu at every set-up (it runs without
    `packaging` here, as in a venv being repaired: pip's own copy evaluates the marker)."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "tensorflow-cpu==2.21.0; sys_platform == 'linux' or sys_platform != 'linux'\n"
    )
    swapped = fake_venv(tmp_path / "gpu", ("tensorflow", "2.21.0"))
    result = run_check(swapped, requirements)
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout + result.stderr
    for venv in (fake_venv(tmp_path / "none"), fake_venv(tmp_path / "old", ("tensorflow", "2.20"))):
        result = run_check(venv, requirements)
        assert result.returncode == 1 and result.stdout.split() == ["tensorflow-cpu==2.21.0"]


# Item 13: the kernel ----------------------------------------------------------------


def registered_kernel() -> str:
    setup_tools = (SCRIPTS / "setup-tools.sh").read_text()
    return setup_tools.split("ipykernel install --sys-prefix --name ")[1].split()[0]


def test_every_notebook_declares_the_kernel_set_up_registers():
    name = registered_kernel()
    assert name == "bnbook"
    for notebook in sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb")):
        spec = json.loads(notebook.read_text())["metadata"]["kernelspec"]
        assert spec["name"] == name, f"{notebook.name} declares kernel {spec['name']!r}"
        assert spec["display_name"] == "Python (bnbook)", notebook.name


def test_the_registered_kernel_is_found_where_the_build_and_jupyter_execute_look():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(registered_kernel())
    assert Path(spec.resource_dir).is_relative_to(sys.prefix), spec.resource_dir
    assert Path(spec.argv[0]).resolve() == Path(sys.executable).resolve(), spec.argv


def test_the_gpu_swap_reads_tensorflows_version_from_the_hashed_pins():
    """setup-tools.sh takes the GPU build's version from requirements.txt's tensorflow-cpu
    pin, which now continues onto its `--hash` lines."""
    line = next(line for line in (SCRIPTS / "setup-tools.sh").read_text().splitlines()
                if line.strip().startswith("version=$("))  # fmt: skip
    cmd = ["bash", "-c", f'{line.strip()} && echo "$version"']
    version = subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True).stdout
    pin = next(p for p in check_venv().pins(open(PROJECT_ROOT / "requirements.txt").read())
               if p.name == "tensorflow-cpu")  # fmt: skip
    assert version.strip() == pin.version == "2.21.0"
