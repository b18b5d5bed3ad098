"""Where things are: the package's source and the project around it."""

import os
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
