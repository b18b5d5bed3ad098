"""The size of every text run in a figure's PDF, read from its content streams.

Poppler's tools report rounded or font-dependent sizes, so this reads the PDF's own
drawing instructions: each shown string's size is its font size (`Tf`) times the
scale of the text matrix (`Tm`, `Td`) and of the graphics state (`cm`, `q`/`Q`).
It reads the files matplotlib and cairo (graphviz via rsvg-convert) write: plain
Flate-compressed content streams; each is read from an identity transform, which is
the page transform of both (forms are drawn unscaled).
"""

import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

TOKEN = re.compile(
    rb"\((?:\\.|[^\\()])*\)"  # literal string (escaped parentheses only)
    rb"|<[0-9A-Fa-f\s]*>"  # hex string
    rb"|<<|>>|\[|\]"
    rb"|/[^\s/\[\]()<>{}%]*"  # name
    rb"|[-+]?(?:\d+\.?\d*|\.\d+)"  # number
    rb"|[A-Za-z'\"*]+"  # operator
)
SKIPPED = (b"/Length1", b"/Length2", b"/Subtype /Image", b"/Subtype/Image", b"/Type /XRef",
           b"/Type/XRef", b"/Type /ObjStm", b"/Type/ObjStm", b"/Subtype /Type1C")  # fmt: skip


@dataclass(frozen=True)
class TextRun:
    size: float  # points, in the figure's own coordinates
    x: float
    y: float
    text: str  # as stored (glyph codes for cairo's subset fonts)


def _multiply(a, b):
    """The PDF matrix product a x b, matrices as (a, b, c, d, e, f)."""
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    )


def content_streams(pdf: Path) -> list[bytes]:
    """Every decompressed stream that draws text."""
    data = pdf.read_bytes()
    streams = []
    for match in re.finditer(rb"stream\r?\n", data):
        header = data[max(0, match.start() - 300) : match.start()]
        if any(key in header[header.rfind(b"<<") :] for key in SKIPPED):
            continue
        end = data.find(b"endstream", match.end())
        try:
            stream = zlib.decompress(data[match.end() : end])
        except zlib.error:
            continue
        if b"BT" in stream and b"Tf" in stream:
            streams.append(stream)
    return streams


def text_runs(stream: bytes) -> list[TextRun]:
    """Interpret one content stream's text and transform operators."""
    identity = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    ctm, stack, operands, runs = identity, [], [], []
    tm = tlm = identity
    font_size, leading = 0.0, 0.0
    for token in TOKEN.findall(stream):
        if token[:1].isalpha() or token in (b"'", b'"', b"*"):
            op = token.decode("latin-1")
            numbers = [float(t) for t in operands if re.fullmatch(rb"[-+]?[\d.]+", t)]
            if op == "q":
                stack.append(ctm)
            elif op == "Q" and stack:
                ctm = stack.pop()
            elif op == "cm" and len(numbers) == 6:
                ctm = _multiply(tuple(numbers), ctm)
            elif op == "BT":
                tm = tlm = identity
            elif op == "Tf" and numbers:
                font_size = numbers[-1]
            elif op == "TL" and numbers:
                leading = numbers[-1]
            elif op == "Tm" and len(numbers) == 6:
                tm = tlm = tuple(numbers)
            elif op in ("Td", "TD") and len(numbers) == 2:
                tm = tlm = _multiply((1, 0, 0, 1, numbers[0], numbers[1]), tlm)
                leading = -numbers[1] if op == "TD" else leading
            elif op in ("T*", "'", '"'):
                tm = tlm = _multiply((1, 0, 0, 1, 0, -leading), tlm)
            if op in ("Tj", "TJ", "'", '"'):
                m = _multiply(tm, ctm)
                scale = math.sqrt(abs(m[0] * m[3] - m[1] * m[2]))
                text = b"".join(t for t in operands if t[:1] in (b"(", b"<"))
                runs.append(TextRun(font_size * scale, m[4], m[5], text.decode("latin-1")))
            operands = []
        else:
            operands.append(token)
    return runs


def figure_text(pdf: Path) -> list[TextRun]:
    """Every text run of a figure PDF."""
    return [run for stream in content_streams(pdf) for run in text_runs(stream)]


def page_width(pdf: Path) -> float:
    """The width of the figure's first page (its MediaBox), in points."""
    match = re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+[-\d.]+\s+([-\d.]+)", pdf.read_bytes())
    assert match, f"{pdf.name}: no MediaBox"
    return float(match[2]) - float(match[1])


def is_script(run: TextRun, runs: list[TextRun]) -> bool:
    """A math sub- or superscript: about 0.7 of a neighbouring run's size, right beside it
    (TeX and matplotlib's mathtext both shrink scripts to 0.7)."""
    for other in runs:
        ratio = run.size / other.size if other.size else 0
        near = abs(run.x - other.x) < 4 * other.size and abs(run.y - other.y) < other.size
        if 0.6 <= ratio <= 0.8 and near and run.x > other.x:
            return True
    return False
