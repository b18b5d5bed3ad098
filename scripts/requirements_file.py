"""How the scripts read a pip requirements file: its logical lines and its exact pins.

A pin may span lines (`\\` continuations) and carry options (`--hash=sha256:...`), as
`make freeze` writes them. As in pip, a `#` at a line's start or after a space starts a
comment, and the options begin at the first word that starts with `-`.
"""

import re
from dataclasses import dataclass

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)\s*(?:;\s*(.+?))?\s*$")
COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str | None
    hashes: tuple[str, ...]  # as written: "sha256:<hex>"

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


def logical_lines(text: str) -> list[list[str]]:
    """The file's logical lines, each as the physical lines it spans (kept verbatim)."""
    groups, current = [], []
    for line in text.splitlines():
        current.append(line)
        if not COMMENT.sub("", line).rstrip().endswith("\\"):
            groups.append(current)
            current = []
    return groups + ([current] if current else [])


def joined(group: list[str]) -> str:
    """One logical line as pip reads it: comments dropped, continuations joined."""
    parts = [COMMENT.sub("", line).strip() for line in group]
    return " ".join(part.removesuffix("\\").strip() for part in parts).strip()


def parse_pin(line: str) -> Pin | None:
    """`name==version[; marker] [--hash=...]...` as a Pin; None for anything else."""
    words = line.split()
    first_option = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
    match = PIN.match(" ".join(words[:first_option]))
    if not match:
        return None
    options = words[first_option:]
    hashes = [w.removeprefix("--hash=") for w in options if w.startswith("--hash=")]
    hashes += [v for o, v in zip(options, options[1:], strict=False) if o == "--hash"]
    return Pin(match.group(1), match.group(2), match.group(3), tuple(hashes))


def pins(text: str) -> list[Pin]:
    """Every exact pin of a requirements file, in order."""
    return [pin for group in logical_lines(text) if (pin := parse_pin(joined(group)))]
