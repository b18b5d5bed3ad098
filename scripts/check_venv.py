"""Is every pinned package of requirements.txt installed, at its pin, with its files?

Run by scripts/setup.sh with the venv's Python. Prints the `name==version` pins to
re-install, one per line; exit 1 if there are any (`--as-requirements`: their whole
requirement lines instead, hashes included, for a hash-checked re-install). The file is
read as pip reads it (scripts/requirements_file.py). Environment markers are evaluated
by `packaging` (installed by the pins; pip's own copy while a venv is being repaired).
A pin may be met by the package set-up swaps in for it (SWAPS): on a machine with an
NVIDIA GPU, scripts/setup-tools.sh replaces tensorflow-cpu with tensorflow[and-cuda]
of the same version, which must not be "repaired" back at every set-up.
"""

import sys
from importlib import metadata

from requirements_file import Pin, pins

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


def broken(requirements: str) -> list[Pin]:
    bad = []
    with open(requirements) as file:
        for pin in pins(file.read()):
            if not applies(pin.marker):
                continue
            dist = installed(pin.name)
            if dist is None:  # swapped out? Only then does its stand-in count.
                dist = next(filter(None, map(installed, SWAPS.get(pin.name.lower(), ()))), None)
            if dist is None or not intact(dist, pin.version):
                bad.append(pin)
    return bad


def as_requirement(pin: Pin) -> str:
    return " ".join([pin.spec, *(f"--hash={h}" for h in pin.hashes)])


if __name__ == "__main__":
    args = sys.argv[1:]
    whole_lines = "--as-requirements" in args
    bad = broken(next((a for a in args if a != "--as-requirements"), "requirements.txt"))
    print("\n".join(as_requirement(pin) if whole_lines else pin.spec for pin in bad))
    sys.exit(1 if bad else 0)
