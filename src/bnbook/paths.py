"""Where things are (the package's source, the project around it), and how a file is
written there: whole or not at all."""

import os
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


def write_atomically(path: Path, write, binary: bool = False) -> None:
    """Write `path` whole or not at all: `write(file)` fills a temporary file in the same
    folder (`.<name>.*.tmp`), which is then renamed over `path` (atomic within a folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
