"""bnbook.paths.write_atomically: whole or not at all, with the user's permissions; the
temporary files of killed writes are removed, those of writes in progress never."""

import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bnbook import paths


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_a_written_file_has_the_users_umask_not_0600(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        paths.write_atomically(tmp_path / "summary.json", lambda f: f.write("{}"))
    finally:
        os.umask(old)
    assert (tmp_path / "summary.json").stat().st_mode & 0o777 == mode


# A write_atomically call in its own process, stopped mid-write until told to go on.
# Its file may carry any pid: a writer in another pid namespace (a container sharing
# the folder) can have the cleaner's pid, or one that is dead or reused where it runs.
WRITER = """
import os, sys
from pathlib import Path
from bnbook import paths
if sys.argv[2] != "own":
    os.getpid = lambda: int(sys.argv[2])  # the pid its file is named with
def write(f):
    f.write("{")
    f.flush()
    print("writing", flush=True)
    sys.stdin.readline()
    f.write("}")
paths.write_atomically(Path(sys.argv[1]), write)
"""


def start_writer(path, named_pid="own"):
    """A writer process mid-write to `path` (its temporary file exists and is half full)."""
    cmd = [sys.executable, "-c", WRITER, str(path), str(named_pid)]
    writer = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([writer.stdout], [], [], 30)
    if not ready or writer.stdout.readline() != "writing\n":
        writer.kill()
        raise AssertionError("the writer did not start writing")
    return writer


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


@pytest.mark.parametrize("named_pid", ["own", "cleaner", "dead"])
def test_a_write_in_progress_in_another_process_is_never_removed(tmp_path, named_pid):
    pid = {"own": "own", "cleaner": os.getpid(), "dead": dead_pid()}[named_pid]
    writer = start_writer(tmp_path / "r.json", pid)
    try:
        (tmp,) = tmp_path.glob(".r.json.*.tmp")
        assert paths.remove_leftovers(tmp_path) == [] and tmp.exists()
        writer.communicate("go on\n", timeout=30)
    finally:
        writer.kill()
    assert writer.returncode == 0 and (tmp_path / "r.json").read_text() == "{}"


def test_a_killed_writes_file_is_removed_whatever_pid_it_names(tmp_path):
    # a pid reused by a live process (here the test's parent), and the writer's own
    killed = [start_writer(tmp_path / "a.json", os.getppid()), start_writer(tmp_path / "b.json")]
    for writer in killed:
        writer.kill()
        writer.wait(timeout=10)
    leftovers = sorted(tmp_path.glob(".*.tmp"))
    assert len(leftovers) == 2
    leftovers.append(tmp_path / ".summary.json.a8b7c6d5.tmp")  # named by the code before pids
    leftovers.append(tmp_path / f".r.json.{2**80}.x.tmp")  # no such pid at all
    kept = tmp_path / "mnist.npz"
    for path in (*leftovers[2:], kept):
        path.write_text("x")
    assert sorted(paths.remove_leftovers(tmp_path)) == sorted(leftovers)
    assert list(tmp_path.iterdir()) == [kept]


def test_the_temporary_file_names_its_writer(tmp_path):
    seen = []
    paths.write_atomically(tmp_path / "r.json", lambda f: seen.extend(os.listdir(tmp_path)))
    (name,) = seen
    assert paths.TEMPORARY.match(name)["pid"] == str(os.getpid()), name


def test_a_cleaner_between_creation_and_lock_costs_the_writer_a_new_file(tmp_path, monkeypatch):
    made, mkstemp = [], tempfile.mkstemp

    def mkstemp_then_clean(**kwargs):  # a cleaner runs before the writer locks its file
        fd, name = mkstemp(**kwargs)
        made.append(name)
        if len(made) == 1:
            assert paths.remove_leftovers(tmp_path) == [Path(name)]
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_clean)
    paths.write_atomically(tmp_path / "r.json", lambda f: f.write("{}"))
    assert len(made) == 2 and (tmp_path / "r.json").read_text() == "{}"
    assert list(tmp_path.iterdir()) == [tmp_path / "r.json"]
