"""The printable book: the smoke-profile PDF, checked the way a grader would read it.

Each check guards a trap that is silent in the build itself: a chapter that never
made it into the PDF, math printed as raw TeX, a graph replaced by its Python
repr, a figure LaTeX could not include, or a code line cut at the right margin.
"""

import json
import re
import subprocess
import unicodedata
from pathlib import Path

import pytest
import yaml

from bnbook.runs.data import PROJECT_ROOT
from bnbook.tooling.build import pdf_path

pytestmark = pytest.mark.book

APPENDIX_DOC = "book/appendix_source"
IMAGE_MIMES = ("image/svg+xml", "image/png", "image/jpeg", "application/pdf")
REMOVING_TAGS = {"remove-output", "remove-cell", "remove_output", "remove_cell"}
RAW_TEX = ("\\frac", "$$", "\\partial", "\\begin{", "\\mathbf", "\\hat{")
PLACEHOLDERS = ("<graphviz", "<Figure size", "Traceback (most recent call last)")


# ---------------------------------------------------------------- the book's sources


def toc_docnames() -> list[str]:
    """Every page of the book, in reading order."""
    toc = yaml.safe_load((PROJECT_ROOT / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return names


def source_path(docname: str) -> Path:
    for suffix in (".md", ".ipynb"):
        path = PROJECT_ROOT / f"{docname}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(docname)


def page_markdown(docname: str) -> str:
    """A page's prose: a Markdown file, or a notebook's Markdown cells."""
    path = source_path(docname)
    if path.suffix == ".md":
        return path.read_text()
    cells = json.loads(path.read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def page_title(docname: str) -> str:
    match = re.search(r"^# (.+)$", page_markdown(docname), re.MULTILINE)
    assert match, f"{docname} has no top-level heading"
    return match.group(1)


def code_corpus() -> str:
    """All code a page can print: notebook code cells and the package source."""
    parts = [p.read_text() for p in sorted((PROJECT_ROOT / "src" / "bnbook").rglob("*.py"))]
    for docname in toc_docnames():
        path = source_path(docname)
        if path.suffix == ".ipynb":
            cells = json.loads(path.read_text())["cells"]
            parts += ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    return squash_spaces("\n".join(parts))


def squash_spaces(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def letters_and_digits(text: str) -> str:
    """Compare text across line breaks, hyphenation, ligatures, case and punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[^0-9a-z]", "", text)


# ---------------------------------------------------------------- the built PDF


@pytest.fixture(scope="module")
def latex_dir(smoke_book) -> Path:
    return smoke_book / "latex"


@pytest.fixture(scope="module")
def pdf(smoke_book) -> Path:
    path = pdf_path("smoke")
    assert path.is_file() and path.stat().st_size > 10_000, f"no PDF at {path}"
    return path


@pytest.fixture(scope="module")
def pages(pdf) -> list[str]:
    """The PDF's text, one string per page."""
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True).stdout
    return text.decode().split("\f")


def doc_start_pages(latex_dir: Path, pdf: Path) -> dict[str, int]:
    """Physical page (1-based) on which each page of the book starts, from LaTeX's labels."""
    anchors = dict(re.findall(r"\\newlabel\{(.+?)::doc\}\{\{.*\}\{(\S+?)\}\{\}\}$",
                              (latex_dir / "book.aux").read_text(), re.MULTILINE))  # fmt: skip
    dests = subprocess.run(["pdfinfo", "-dests", str(pdf)], capture_output=True, text=True).stdout
    page_of = {m[1]: int(m[0]) for m in re.findall(r"^\s*(\d+) \[.*\] \"(.+)\"$", dests, re.M)}
    return {doc: page_of[anchor] for doc, anchor in anchors.items() if anchor in page_of}


@pytest.fixture(scope="module")
def appendix_pages(latex_dir, pdf, pages) -> range:
    """The 0-based page indices of the source-listing appendix."""
    starts = doc_start_pages(latex_dir, pdf)
    docs = toc_docnames()
    assert APPENDIX_DOC in starts, f"the appendix is not in the PDF (pages found: {starts})"
    later = [starts[d] for d in docs[docs.index(APPENDIX_DOC) + 1 :] if d in starts]
    end = min(later) - 1 if later else len(pages)
    return range(starts[APPENDIX_DOC] - 1, end)


def test_every_chapter_title_is_in_the_pdf(pages):
    text = letters_and_digits(" ".join(pages))
    for docname in toc_docnames():
        # A title with inline math: look for each stretch of words around the math.
        for piece in re.split(r"\$[^$]*\$", page_title(docname)):
            assert letters_and_digits(piece) in text, f"{docname}: title {piece!r} not in PDF"


def test_appendix_lists_every_source_file(pages, appendix_pages):
    appendix = letters_and_digits(" ".join(pages[i] for i in appendix_pages))
    assert letters_and_digits("Appendix: source listings") in appendix
    modules = sorted((PROJECT_ROOT / "src" / "bnbook").rglob("*.py"))
    assert len(modules) > 5
    missing = [
        p.name
        for p in modules
        if letters_and_digits(f"src/{p.relative_to(PROJECT_ROOT / 'src').as_posix()}")
        not in appendix
    ]
    assert not missing, f"modules missing from the appendix: {missing}"
    # The listings themselves, not only their headings: each module's last code line.
    for path in modules:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        if lines:
            assert letters_and_digits(lines[-1]) in appendix, f"{path.name} is not listed in full"


def test_no_raw_tex_placeholders_or_tracebacks(pages, appendix_pages):
    """Prose pages only: the appendix prints source code, which may well contain `$$`."""
    code = code_corpus()
    problems = []
    for index, page in enumerate(pages):
        if index in appendix_pages:
            continue
        for line in page.splitlines():
            for token in RAW_TEX:
                # A code cell printing the token is fine; the same text in prose is not.
                if token in line and squash_spaces(line.strip()) not in code:
                    problems.append(f"page {index + 1}: raw TeX {token!r} in {line.strip()!r}")
            for token in PLACEHOLDERS:
                if token in line:
                    problems.append(f"page {index + 1}: {token!r} in {line.strip()!r}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- figures


def executed_notebooks(build_dir: Path) -> dict[str, dict]:
    """Each chapter notebook with the outputs the book shows: from the book's execution cache.

    (Not _build/jupyter_execute: in cache mode myst-nb writes the notebooks there
    without their outputs.)
    """
    import os
    from unittest import mock

    import nbformat
    from jupyter_cache import get_cache

    from bnbook.runs.profiles import ENV_VAR
    from bnbook.tooling.sphinx_ext import book_key

    with mock.patch.dict(os.environ, {ENV_VAR: "smoke"}):
        cache = get_cache(build_dir / ".jupyter_cache" / book_key())
    notebooks = {}
    for docname in toc_docnames():
        path = source_path(docname)
        if path.suffix == ".ipynb":
            _, merged = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
            notebooks[docname] = merged
    return notebooks


def emitted_figures(build_dir: Path) -> int:
    """How many figures the notebooks show: image outputs in place, plus glued ones by reference."""
    shown, glued_images = 0, set()
    for notebook in executed_notebooks(build_dir).values():
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            removed = REMOVING_TAGS & set(cell.get("metadata", {}).get("tags", []))
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                scrap = output.get("metadata", {}).get("scrapbook")
                if scrap and any(k.endswith(IMAGE_MIMES) for k in data):
                    glued_images.add(scrap["name"])
                if not removed and any(k in IMAGE_MIMES for k in data):
                    shown += 1
    glue_refs = r"\{glue(?::figure|:any)?:?\}\s*`?(?:[\w./-]+::)?([\w.-]+)"
    for docname in toc_docnames():
        for key in re.findall(glue_refs, page_markdown(docname)):
            shown += key in glued_images
    return shown


def included_graphics(latex_dir: Path) -> list[str]:
    """The file named by every \\includegraphics (or Sphinx's wrapper) in the book's LaTeX."""
    tex = (latex_dir / "book.tex").read_text()
    names = []
    for match in re.finditer(r"\\(?:sphinx)?includegraphics(?:\[[^\]]*\])?\{", tex):
        depth, start = 1, match.end()
        end = start
        while depth:
            depth += {"{": 1, "}": -1}.get(tex[end], 0)
            end += 1
        names.append(tex[start : end - 1].replace("{", "").replace("}", ""))
    return names


def test_every_figure_is_included(latex_dir):
    names = included_graphics(latex_dir)
    unresolved = [n for n in names if not (latex_dir / n).is_file()]
    assert not unresolved, f"\\includegraphics of missing files: {unresolved}"
    # Notebook outputs are written under their content hash (64 hex digits).
    from_notebooks = [n for n in names if re.fullmatch(r"[0-9a-f]{64}\.\w+", Path(n).name)]
    assert len(from_notebooks) == emitted_figures(latex_dir.parent)
    assert all(Path(n).suffix in (".pdf", ".png", ".jpg") for n in names)
    # Vector where the notebooks gave vector: no matplotlib or graphviz output as PNG.
    assert all(Path(n).suffix == ".pdf" for n in from_notebooks), from_notebooks


# ---------------------------------------------------------------- code at the margin


def text_right_edge(latex_dir: Path) -> float:
    """The text block's right edge in PDF points, as the preamble (_config.yml) logs it."""
    log = (latex_dir / "book.log").read_text(errors="replace")
    match = re.search(r"bnbook-text-right-edge=([\d.]+)pt", log)
    assert match, "the LaTeX preamble no longer logs the text block's right edge"
    return float(match[1]) * 72 / 72.27  # TeX points -> PDF big points


def words_past(pdf: Path, edge: float) -> list[tuple[int, str]]:
    """(page number, description) of every word whose box ends right of `edge`."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True)
    found = []
    for number, page in enumerate(html.stdout.split("<page ")[1:], start=1):
        for x_max, word in re.findall(r'<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"'
                                      r' yMax="[\d.]+">(.*?)</word>', page):  # fmt: skip
            if float(x_max) > edge:
                found.append((number, f"page {number}: {word} (ends at {float(x_max):.0f} pt)"))
    return found


def test_no_code_line_runs_past_the_right_margin(latex_dir, pdf):
    """Long code lines must wrap, and equations must fit. The LaTeX log says nothing
    when a verbatim line overflows, so measure where each word of the PDF ends instead."""
    edge = text_right_edge(latex_dir)
    starts = sorted((page, doc) for doc, page in doc_start_pages(latex_dir, pdf).items())

    def chapter(page: int) -> str:
        return ([doc for start, doc in starts if start <= page] or ["front matter"])[-1]

    cut = [f"{where} in {chapter(page)}" for page, where in words_past(pdf, edge + 1.0)]
    assert not cut, "text past the right margin (long code lines must wrap):\n" + "\n".join(cut)
    # The measurement itself: full lines of prose do reach the edge.
    assert words_past(pdf, edge - 10.0), "no words near the right edge: is the edge wrong?"
