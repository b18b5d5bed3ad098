"""requirements.txt and requirements-pip.txt: every pin carries well-formed hashes and every
dependency is pinned (else `--require-hashes` refuses); scripts/hash_pins.py, offline."""

import json
import re
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bnbook.paths import PROJECT_ROOT
from tests.tooling.setup_steps import SCRIPTS

sys.path.insert(0, str(SCRIPTS))
import hash_pins  # noqa: E402
from requirements_file import logical_lines, parse_pin, pins  # noqa: E402

sys.path.remove(str(SCRIPTS))

PIN_FILES = ("requirements.txt", "requirements-pip.txt")
SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


@pytest.mark.parametrize("name", PIN_FILES)
def test_every_pin_has_well_formed_hashes(name):
    text = (PROJECT_ROOT / name).read_text()
    found = pins(text)
    assert found
    for pin in found:
        assert pin.hashes, f"{pin.spec} has no --hash"
        assert all(SHA256.match(h) for h in pin.hashes), pin.spec
        assert len(set(pin.hashes)) == len(pin.hashes), pin.spec
    requirements = [g for g in logical_lines(text) if not g[0].startswith("#")]
    assert len(requirements) == len(found), "a line that is neither a comment nor a pin"


def test_every_dependency_of_a_pin_is_pinned():
    """`--require-hashes` needs every package it installs pinned: setuptools and wheel too."""
    pinned = {canonicalize_name(p.name): p for p in pins((PROJECT_ROOT / PIN_FILES[0]).read_text())}
    for pin in pinned.values():
        try:
            dist = metadata.distribution(pin.name)
        except metadata.PackageNotFoundError:  # the other platform's tensorflow
            continue
        for line in dist.requires or []:
            need = Requirement(line)
            if need.marker is None or need.marker.evaluate({"extra": ""}):
                assert canonicalize_name(need.name) in pinned, f"{pin.spec} needs {need.name}"


# The pinned version's universal wheel, Windows wheel and sdist; another version; an .exe.
INDEX_FILES = {
    "tiny_pkg-1.0-py3-none-any.whl": "a",
    "tiny_pkg-1.0-cp311-cp311-win_amd64.whl": "b",
    "tiny-pkg-1.0.tar.gz": "c",
    "tiny_pkg-1.0.1-py3-none-any.whl": "d",
    "tiny-pkg-1.0.win32.exe": "e",
}
JSON_INDEX = json.dumps(
    {
        "meta": {"api-version": "1.1"},
        "files": [{"filename": f, "hashes": {"sha256": c * 64}} for f, c in INDEX_FILES.items()],
    }
)
HTML_INDEX = """<html><body>
<a href="https://files.example/tiny_pkg-1.0-py3-none-any.whl#sha256={}">tiny_pkg-1.0-py3-none-any.whl</a>
<a href="../tiny-pkg-1.0.zip#sha256={}" data-requires-python="&gt;=3.8">tiny-pkg-1.0.zip</a>
<a href="../tiny-pkg-10.tar.gz#sha256={}">tiny-pkg-10.tar.gz</a>
</body></html>""".format(*(c * 64 for c in "abf"))  # fmt: skip


def test_every_file_of_exactly_the_pinned_version_is_hashed():
    pin = parse_pin("tiny.pkg==1.0")
    assert hash_pins.hashes_of(pin, hash_pins.files_of_json(JSON_INDEX)) == [
        "a" * 64,
        "b" * 64,
        "c" * 64,
    ]
    assert hash_pins.hashes_of(pin, hash_pins.files_of_html(HTML_INDEX)) == ["a" * 64, "b" * 64]
    with pytest.raises(SystemExit, match="no file of tiny.pkg==2.0"):
        hash_pins.hashes_of(parse_pin("tiny.pkg==2.0"), hash_pins.files_of_json(JSON_INDEX))


def test_re_hashing_keeps_comments_versions_and_markers():
    text = (
        "# top comment\n"
        "tiny-pkg==1.0; sys_platform == 'linux' \\\n    --hash=sha256:" + "9" * 64 + "\n"
        "other==2.0\n"
        "-e .\n"
    )
    other = [("other-2.0.tar.gz", "d" * 64), ("other-2.1.tar.gz", "e" * 64)]
    fetch = {"tiny-pkg": hash_pins.files_of_json(JSON_INDEX), "other": other}.get
    out = hash_pins.hashed(text, fetch=fetch)
    assert out.startswith("# top comment\ntiny-pkg==1.0; sys_platform == 'linux' \\\n    --hash=")
    assert out.endswith("other==2.0 \\\n    --hash=sha256:" + "d" * 64 + "\n-e .\n")
    first = pins(out)[0]
    assert (first.version, first.marker) == ("1.0", "sys_platform == 'linux'")
    assert first.hashes == tuple(f"sha256:{c * 64}" for c in "abc")
    assert hash_pins.hashed(out, fetch=fetch) == out  # re-hashing is idempotent
