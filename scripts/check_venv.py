"""Is every pinned package of requirements.txt installed, at its pin, with its files?

Run by scripts/setup.sh with the venv's Python. Prints the `name==version` pins to
re-install, one per line; exit 1 if there are any. Environment markers are evaluated
by `packaging` (installed by the pins; pip's own copy while a venv is being repaired).
A pin may be met by the package set-up swaps in for it (SWAPS): on a machine with an
NVIDIA GPU, scripts/setup-tools.sh replaces tensorflow-cpu with tensorflow[and-cuda]
of the same version, which must not be "repaired" back at every set-up.
"""

import re
import sys
from importlib import metadata

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;\s*(.+))?$")
SWAPS = {"tensorflow-cpu": ("tensorflow",)}  # pin -> what may stand in for it, same version


def _marker(text: str):
    try:
        from packaging.markers import Marker
    except ImportError:  # a venv whose packaging is missing or broken: pip's copy
        from pip._vendor.packaging.markers import Marker
    return Marker(text)


def applies(marker: str | None) -> bool:
    """Whether a requirement's environment marker holds here (PEP 508)."""
    return not marker or _marker(marker).evaluate()


def installed(name: str):
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def intact(dist, version: str) -> bool:
    """Whether `dist` is at `version` with all its Python files."""
    files = [f for f in dist.files or [] if f.suffix == ".py"]
    return dist.version == version and all(f.locate().exists() for f in files)


def broken(requirements: str) -> list[str]:
    bad = []
    for line in open(requirements):
        match = PIN.match(line.split("#", 1)[0].strip())
        if not match or not applies(match.group(3)):
            continue
        name, version = match.group(1), match.group(2)
        dist = installed(name)
        if dist is None:  # swapped out? Only then does its stand-in count.
            dist = next(filter(None, map(installed, SWAPS.get(name.lower(), ()))), None)
        if dist is None or not intact(dist, version):
            bad.append(f"{name}=={version}")
    return bad


if __name__ == "__main__":
    pins = broken(sys.argv[1] if len(sys.argv) > 1 else "requirements.txt")
    print("\n".join(pins))
    sys.exit(1 if pins else 0)
