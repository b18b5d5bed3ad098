"""The data and record folders: relative folders mean the same everywhere; a read-only or
full folder, a vanished cache or a huge archive member is one line, not a traceback."""

import os
import subprocess
import sys
import tracemalloc
import zipfile

import pytest

from bnbook.paths import PROJECT_ROOT
from bnbook.runs import data, mnist_wheel


def test_relative_env_folders_mean_the_same_in_the_build_and_the_kernels():
    code = "from bnbook.runs import data, records; print(records.RECORDS_DIR, data.DATA_DIR)"
    env = {**os.environ, "BNBOOK_RECORDS_DIR": "out/records", "BNBOOK_DATA_DIR": "out/data"}
    seen = [
        subprocess.run(
            [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
        ).stdout.split()
        for cwd in (PROJECT_ROOT, PROJECT_ROOT / "notebooks")
    ]
    assert seen[0] == seen[1] == [str(PROJECT_ROOT / "out/records"), str(PROJECT_ROOT / "out/data")]


def test_a_read_only_or_full_data_folder_is_one_line(tmp_path, monkeypatch):
    import errno
    import tempfile

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    arrays = {k: [0] for k in data.KEYS}
    monkeypatch.setattr(tempfile, "mkstemp", no_space)
    with pytest.raises(data.DataError, match="cannot write"):
        data.write_npz_atomically(arrays, tmp_path / "mnist.npz")
    monkeypatch.undo()
    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(
        data.np,
        "savez",
        lambda f, **a: (_ for _ in ()).throw(OSError(errno.EROFS, "Read-only file system")),
    )
    with pytest.raises(data.DataError, match="Read-only"):
        data.write_npz_atomically(arrays, tmp_path / "ro" / "mnist.npz")
    assert list((tmp_path / "ro").iterdir()) == [], "a temporary file was left behind"


def test_a_cache_removed_by_another_process_is_not_a_traceback(tmp_path, monkeypatch):
    (tmp_path / data.CACHE_NAME).write_bytes(b"corrupt")

    def read_and_vanish(path):
        path.unlink()  # the other process removes it while we read
        raise data.DataError(f"{path} is unreadable (BadZipFile)")

    monkeypatch.setattr(data, "read_npz", read_and_vanish)
    with pytest.raises(data.DataError, match="no MNIST source"):
        data.load_mnist(tmp_path, keras_cache=None)


def test_a_huge_archive_member_is_refused_before_it_is_read(tmp_path):
    wheel = tmp_path / mnist_wheel.WHEEL_NAME
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(mnist_wheel.PICKLE_MEMBER, bytes(64 * 2**20))  # 64 MB of zeros, ~64 kB zipped
    tracemalloc.start()
    try:
        with pytest.raises(data.DataError, match="bytes, expected"):
            mnist_wheel.read_verified_pickle(wheel)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"read {peak / 2**20:.0f} MB before checking the size"
