"""Where things are (the package's source, the project around it), and how a file is
written there: whole or not at all."""

import fcntl
import os
import re
import tempfile
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent  # src/bnbook
PROJECT_ROOT = PACKAGE_DIR.parents[1]


def env_dir(name: str, default: Path) -> Path:
    """The folder named by environment variable `name` (else `default`), as an absolute path.

    A relative value is taken from the project root, not the working directory:
    the build runs there but notebook kernels run in notebooks/, and both must
    read the same folder.
    """
    value = os.environ.get(name)
    return (PROJECT_ROOT / value).resolve() if value else default


TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[A-Za-z0-9_]+\.tmp$")


def _umask() -> int:
    """This process's umask, read without changing it (os.umask can only set it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no /proc: set and restore (a moment's race with other threads)
    os.umask(mask)
    return mask


def write_atomically(path: Path, write, binary: bool = False) -> None:
    """Write `path` whole or not at all: `write(file)` fills a temporary file in the same
    folder (`.<name>.<pid>.*.tmp`), which is then renamed over `path` (atomic within a
    folder). The file gets the permissions of any new file (0666 less the umask), not
    mkstemp's 0600. The writer holds an flock on it from creation to rename, so
    `remove_leftovers` (in any process) never deletes it mid-write."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _locked_temporary(path)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.replace(tmp, path)  # still locked: a cleaner never sees it unlocked under tmp
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _locked_temporary(path: Path) -> tuple[int, str]:
    """A new temporary file beside `path`, open and flocked by this process.

    A cleaner may lock and delete it between its creation and our lock; then we
    hold the lock on a file with no name (no links) and make another.
    """
    while True:
        prefix = f".{path.name}.{os.getpid()}."  # the pid: which process wrote it
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # a cleaner holds it for a moment at most
        except OSError:  # no flock on this file system: no cleaner can lock it either
            return fd, tmp
        if os.fstat(fd).st_nlink > 0:
            return fd, tmp
        os.close(fd)


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files of `write_atomically` calls that were killed in `folder`.

    A file is deleted only while this process holds its flock, which its writer
    holds until it is renamed: a write still running in any process (another
    build, another pid namespace, a reused pid) is never touched, and every
    killed write's file goes, whatever pid its name says. Returns those removed.
    """
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        if _remove_if_unlocked(tmp):
            removed.append(tmp)
    return removed


def _remove_if_unlocked(tmp: Path) -> bool:
    """Delete `tmp` if no process holds its flock; whether it was deleted."""
    try:
        fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except OSError:  # gone (renamed into place), a symlink, or not ours to open
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.path.samestat(os.fstat(fd), os.stat(tmp)):  # the name is still this file
            tmp.unlink()
            return True
    except OSError:  # held by its writer, renamed meanwhile, or a folder
        pass
    finally:
        os.close(fd)
    return False
