"""The build lock after `kill -9` of the build: jupyter-book and the training workers
it started hold it while they live (a second build waits, naming the killed build),
and a worker does not outlive the build."""

import fcntl
import select
import subprocess
import sys
import time

import psutil

# A build cut down to what holds the lock: it takes the lock as the build does, then
# starts jupyter-book (a stand-in that sleeps) or one training worker, as the build does.
BUILD = """
import os, sys
from pathlib import Path
from bnbook.tooling import build, training_pool

if __name__ == "__main__":
    root, child = Path(sys.argv[1]), sys.argv[2]
    build.lock_output(root)
    if child == "jupyter-book":
        sys.executable = str(root / "bin" / "python")  # so its jupyter-book is the stand-in
        build.jupyter_book(root, "html", fresh=False)
    else:
        pool, _ = training_pool.worker_pool(1)
        print("child", pool.submit(os.getpid).result(), flush=True)
        pool.shutdown()
"""
STAND_IN = '#!/bin/sh\necho "child $$"\nexec sleep 60\n'
SECOND_BUILD = """
import sys
from pathlib import Path
from bnbook.tooling.build import lock_output

lock_output(Path(sys.argv[1]))
print("locked", flush=True)
"""


def line(process, timeout=60) -> str:
    """The next line `process` prints, waiting at most `timeout` seconds."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"nothing printed in {timeout} s"
    return process.stdout.readline()


def killed_build(root, child: str) -> tuple[psutil.Process, list[str]]:
    """Start a build that starts `child`, kill -9 it once the child runs; the child and
    the files it had open before the kill."""
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "jupyter-book").write_text(STAND_IN)
    (root / "bin" / "jupyter-book").chmod(0o755)
    cmd = [sys.executable, "-c", BUILD, str(root), child]
    build = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        words = line(build).split()
        while words[0] != "child":  # the pool's "training on 1 worker(s)"
            words = line(build).split()
        started = psutil.Process(int(words[1]))
        open_files = [f.path for f in started.open_files()]
    finally:
        build.kill()
        build.wait(timeout=10)
    return started, open_files


def lock_is_free(root) -> bool:
    with open(root / "_build" / ".build.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE  # ended: its descriptors are closed
    except psutil.NoSuchProcess:
        return True


def test_a_killed_builds_jupyter_book_holds_the_lock_until_it_ends(tmp_path):
    jupyter_book, _ = killed_build(tmp_path, "jupyter-book")
    second = None
    try:
        assert not gone(jupyter_book), "the stand-in ended by itself"
        cmd = [sys.executable, "-c", SECOND_BUILD, str(tmp_path)]
        second = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        waiting = line(second, timeout=30)
        assert waiting.startswith("waiting: another build (pid ") and "ended" in waiting, waiting
        time.sleep(1)
        assert second.poll() is None, "the second build took the lock beside jupyter-book"
        jupyter_book.kill()
        assert line(second, timeout=10) == "locked\n"
    finally:
        if not gone(jupyter_book):
            jupyter_book.kill()
        if second is not None:
            second.kill()
            second.wait(timeout=10)


def test_a_killed_builds_worker_holds_the_lock_and_ends_with_the_build(tmp_path):
    worker, open_files = killed_build(tmp_path, "worker")
    try:
        assert str(tmp_path / "_build" / ".build.lock") in open_files, "not handed the lock"
        deadline = time.monotonic() + 5
        while not lock_is_free(tmp_path):
            assert time.monotonic() < deadline, "the worker outlived the build by 5 s"
            time.sleep(0.05)
        assert gone(worker), "the lock was free while the killed build's worker still ran"
    finally:
        if not gone(worker):
            worker.kill()
