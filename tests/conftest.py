"""Shared fixtures: the smoke-profile book is built once per test session."""

import subprocess
import sys

import pytest

from bnbook.tooling.build import output_root


@pytest.fixture(scope="session")
def smoke_book():
    """Build the whole book (HTML and PDF) in the smoke profile; returns its _build folder."""
    builders = "html,pdflatex"
    cmd = [
        sys.executable,
        "-m",
        "bnbook.tooling.build",
        "--profile",
        "smoke",
        "--builders",
        builders,
    ]
    subprocess.run(cmd, check=True)
    return output_root("smoke") / "_build"
