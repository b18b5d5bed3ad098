"""What produced a result: library versions and a digest of our own source.

Cache keys are built from these, so a cached result is never reused after the
code or a library that made it changed.
"""

import hashlib
import json
import platform
from importlib import metadata

from bnbook.paths import PACKAGE_DIR

# Distributions whose versions can change a number in the book.
LIBRARIES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "matplotlib", "graphviz")


def library_versions() -> dict:
    """Installed versions of the libraries that shape our results (no heavy imports)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def source_digest(module_names=None) -> str:
    """sha256 over our package's source files (all of them, or the named dotted modules,
    e.g. "networks.train")."""
    if module_names is None:
        paths = sorted(PACKAGE_DIR.rglob("*.py"))
    else:
        paths = sorted(
            PACKAGE_DIR.joinpath(*name.split(".")).with_suffix(".py") for name in module_names
        )
    h = hashlib.sha256()
    for path in paths:
        name = path.relative_to(PACKAGE_DIR).as_posix()
        h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def digest(obj) -> str:
    """sha256 of a JSON-serialisable object, independent of dict order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
