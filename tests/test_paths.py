"""bnbook.paths.write_atomically: whole or not at all, with the user's permissions, and
the temporary files of killed writes recognisable."""

import os
import subprocess
import sys

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


def test_a_killed_writes_file_is_removed_and_a_live_writers_is_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    killed = tmp_path / f".mnist.npz.{dead}.k1ll3d_x.tmp"
    old_code = tmp_path / ".summary.json.a8b7c6d5.tmp"  # named by the code before pids
    no_pid = tmp_path / f".r.json.{2**80}.x.tmp"
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as writer:
        live = tmp_path / f".abc.json.{writer.pid}.w0rk1ng_.tmp"
        kept = tmp_path / "mnist.npz"
        for path in (killed, old_code, no_pid, live, kept):
            path.write_text("x")
        try:
            removed = paths.remove_leftovers(tmp_path)
        finally:
            writer.kill()
    assert sorted(removed) == sorted([killed, old_code, no_pid])
    assert live.exists() and kept.exists()


def test_the_temporary_file_names_its_writer(tmp_path):
    seen = []
    paths.write_atomically(tmp_path / "r.json", lambda f: seen.extend(os.listdir(tmp_path)))
    (name,) = seen
    assert paths.TEMPORARY.match(name)["pid"] == str(os.getpid()), name
