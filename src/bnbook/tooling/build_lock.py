"""The build's lock on its output folder: one build at a time, held by every process
the build starts (jupyter-book, the training workers), so that a build killed with
`kill -9` still holds it until the last of its processes has ended.

An flock belongs to the open file, not to a process: it lasts until every copy of
its descriptor is closed, in the build and in each child it was handed to.
"""

import fcntl
import os
from multiprocessing import reduction
from pathlib import Path

_held = None  # this process's open lock file, if it holds one


def lock_output(root: Path):
    """Hold the output folder for this build; a second build waits here, saying for whom.

    Returns the open lock file (the lock lasts as long as it, or a child's copy, is open).
    """
    global _held
    path = root / "_build" / ".build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = open(path, "a+")  # noqa: SIM115 - held open for the whole build
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"waiting: another build ({holder(lock)}) is using {root / '_build'}", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}\n")
    lock.flush()
    _held = lock
    return lock


def holder(lock) -> str:
    """Who holds `lock`: the build that wrote its pid there, and whether it has ended
    (then a process it started, jupyter-book or a worker, still runs)."""
    lock.seek(0)
    text = lock.read().strip()
    if not text.startswith("pid ") or not text[4:].isdigit():
        return text or "another process"
    try:
        os.kill(int(text[4:]), 0)
    except ProcessLookupError:
        return f"{text}, ended; a process it started still runs"
    except (PermissionError, OverflowError):
        pass
    return text


def held_fds() -> tuple[int, ...]:
    """The held lock's descriptor, for `subprocess.Popen(pass_fds=...)`; () if none."""
    return (_held.fileno(),) if _held is not None and not _held.closed else ()


class HandedDown:
    """The held lock, as an argument of a multiprocessing "spawn" child: pickled while
    the child is spawned, its descriptor joins the few that multiprocessing passes on
    (as it does a Connection's); unpickled there, it is that descriptor's number."""

    def __reduce__(self):
        return _descriptor, tuple(reduction.DupFd(fd) for fd in held_fds())


def _descriptor(*duplicates) -> int | None:
    return duplicates[0].detach() if duplicates else None
