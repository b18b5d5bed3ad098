"""Write the SHA-256 of every file PyPI holds for each exact pin into requirements files.

    python scripts/hash_pins.py requirements.txt requirements-pip.txt

`make freeze` runs it after re-resolving the pins; run alone, it re-hashes the pins the
files already hold, their versions untouched. Each pin gets every wheel and the sdist of
its version, not only this machine's, so the file installs on every platform its markers
allow (as pip-compile --generate-hashes does). The hashes come from PyPI's simple index:
PEP 691 JSON when it is served, else the HTML links' `#sha256=` fragments.
"""

import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from html import unescape
from pathlib import Path
from urllib.request import Request, urlopen

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from requirements_file import Pin, joined, logical_lines, parse_pin

INDEX = "https://pypi.org/simple/{}/"
PEP_691 = "application/vnd.pypi.simple.v1+json"
LINK = re.compile(r"<a\s[^>]*?href=\"([^\"]+)\"[^>]*>([^<]+)</a>", re.IGNORECASE)
# Archive suffixes pip installs an sdist from (packaging parses only .tar.gz and .zip).
SDIST_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".tbz", ".tar", ".zip")


def index_files(name: str) -> list[tuple[str, str]]:
    """(filename, sha256) of every file of a project on PyPI's simple index."""
    accept = f"{PEP_691}, text/html;q=0.1"
    request = Request(INDEX.format(canonicalize_name(name)), headers={"Accept": accept})
    with urlopen(request, timeout=120) as response:
        body, kind = response.read().decode(), response.headers.get_content_type()
    return files_of_json(body) if kind == PEP_691 else files_of_html(body)


def files_of_json(body: str) -> list[tuple[str, str]]:
    files = json.loads(body)["files"]
    return [(f["filename"], f["hashes"]["sha256"]) for f in files if "sha256" in f["hashes"]]


def files_of_html(body: str) -> list[tuple[str, str]]:
    found = []
    for href, text in LINK.findall(body):
        digest = re.search(r"#sha256=([0-9a-f]{64})", unescape(href))
        if digest:
            found.append((unescape(text).strip(), digest.group(1)))
    return found


def release_of(filename: str) -> tuple[str, Version] | None:
    """The (project, version) a wheel or sdist file name says; None if it is neither."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[:2]
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)
        suffix = next((s for s in SDIST_SUFFIXES if filename.endswith(s)), None)
        if suffix:
            name, _, version = filename.removesuffix(suffix).rpartition("-")
            return canonicalize_name(name), Version(version)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        pass
    return None


def hashes_of(pin: Pin, files: list[tuple[str, str]]) -> list[str]:
    """The sorted sha256 of every file of exactly the pinned version."""
    wanted = (canonicalize_name(pin.name), Version(pin.version))
    hashes = sorted({digest for filename, digest in files if release_of(filename) == wanted})
    if not hashes:
        raise SystemExit(f"hash_pins: PyPI lists no file of {pin.spec}")
    return hashes


def pin_text(pin: Pin, hashes: list[str]) -> str:
    """A pin as pip-compile writes one: the requirement, then one hash per line."""
    head = pin.spec + (f"; {pin.marker}" if pin.marker else "")
    return " \\\n    ".join([head, *(f"--hash=sha256:{h}" for h in hashes)])


def hashed(text: str, fetch=index_files) -> str:
    """The file's text with every pin's hashes written afresh; other lines untouched."""
    groups = logical_lines(text)
    found = [parse_pin(joined(group)) for group in groups]
    names = sorted({pin.name for pin in found if pin})
    with ThreadPoolExecutor(8) as pool:  # ~200 small requests: a few at a time
        files = dict(zip(names, pool.map(fetch, names), strict=True))
    out = []
    for group, pin in zip(groups, found, strict=True):
        out.append(pin_text(pin, hashes_of(pin, files[pin.name])) if pin else "\n".join(group))
    return "\n".join(out) + "\n"


def main(paths: list[str]) -> None:
    for path in map(Path, paths):
        text = hashed(path.read_text())
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text)
        temporary.replace(path)  # never a half-written requirements file
        print(f"hash_pins: {path}: {text.count('--hash=')} hashes")


if __name__ == "__main__":
    main(sys.argv[1:] or ["requirements.txt"])
