"""Shared fixtures: the smoke-profile book is built once per test session.

Every test that needs it is marked `book` (so `make test-fast` leaves them out), and
the session fails if any test left a full-profile record behind: tests train only
the smoke book and the tiny runs they name.
"""

import json
import subprocess
import sys
import time

import pytest

from bnbook.runs.records import RecordStore
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


def pytest_collection_modifyitems(items):
    for item in items:
        if "smoke_book" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.book)


_STARTED = time.time()


def full_profile_records_since(started: float) -> list[str]:
    """Records of the full profile written to the project's store since `started`."""
    from bnbook.runs.records import RECORDS_DIR

    found = []
    for path in RECORDS_DIR.glob("*.json"):
        if path.stat().st_mtime < started:
            continue
        try:
            if json.loads(path.read_text()).get("profile") == "full":
                found.append(path.name)
        except (OSError, ValueError):
            pass
    return found


def pytest_sessionfinish(session, exitstatus):
    trained = full_profile_records_since(_STARTED)
    if trained:
        print(f"\nerror: the tests trained {len(trained)} full-profile run(s): {trained[:3]}")
        session.exitstatus = 1


@pytest.fixture
def store(tmp_path):
    """An empty record store of its own."""
    return RecordStore(tmp_path / "records")
