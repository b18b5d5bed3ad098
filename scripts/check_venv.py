"""Is every pinned package of requirements.txt installed, at its pin, with its files?

Run by scripts/setup.sh with the venv's Python (standard library only). Prints
the `name==version` pins to re-install, one per line; exit 1 if there are any.
"""

import re
import sys
from importlib import metadata

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;\s*(.+))?$")


def applies(marker: str | None) -> bool:
    """Our requirements use only sys_platform and platform_machine markers."""
    if not marker:
        return True
    import platform

    env = {"sys_platform": sys.platform, "platform_machine": platform.machine()}
    expr = marker
    for name, value in env.items():
        expr = expr.replace(name, repr(value))
    return bool(eval(expr, {"__builtins__": {}}))  # noqa: S307 - our own file, two names


def broken(requirements: str) -> list[str]:
    bad = []
    for line in open(requirements):
        match = PIN.match(line.split("#", 1)[0].strip())
        if not match or not applies(match.group(3)):
            continue
        name, version = match.group(1), match.group(2)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            bad.append(f"{name}=={version}")
            continue
        files = [f for f in dist.files or [] if f.suffix == ".py"]
        if dist.version != version or any(not f.locate().exists() for f in files):
            bad.append(f"{name}=={version}")
    return bad


if __name__ == "__main__":
    pins = broken(sys.argv[1] if len(sys.argv) > 1 else "requirements.txt")
    print("\n".join(pins))
    sys.exit(1 if pins else 0)
