"""Where things are (the package's source, the project around it), and how a file is
written there: whole or not at all."""

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
    mkstemp's 0600; the writer's pid in the name lets `remove_leftovers` tell a killed
    write's file from one being written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # no such process (or no such pid at all)
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files of `write_atomically` calls that were killed in `folder`.

    A file whose writer is still running is kept (another build may be writing it);
    one named without a pid (written by older code) is a leftover. Returns those removed.
    """
    removed = []
    for tmp in Path(folder).glob(".*.tmp"):
        match = TEMPORARY.match(tmp.name)
        if match and int(match["pid"]) != os.getpid() and _alive(int(match["pid"])):
            continue
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed
