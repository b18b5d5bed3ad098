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

APPENDIX_DOC = "book/appendix_code"  # the PDF's appendix (HTML: book/appendix_source)
IMAGE_MIMES = ("image/svg+xml", "image/png", "image/jpeg", "application/pdf")
REMOVING_TAGS = {"remove-output", "remove-cell", "remove_output", "remove_cell"}
RAW_TEX = ("\\frac", "$$", "\\partial", "\\begin{", "\\mathbf", "\\hat{")
PLACEHOLDERS = ("<graphviz", "<Figure size", "Traceback (most recent call last)")


# ---------------------------------------------------------------- the book's sources


HTML_TOC, PDF_TOC = "_toc.yml", "_toc_pdf.yml"


def toc_docnames(toc_file: str = HTML_TOC) -> list[str]:
    """Every page of a book (the HTML one by default), in reading order."""
    toc = yaml.safe_load((PROJECT_ROOT / toc_file).read_text())
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            if "glob" in entry:
                found = sorted(PROJECT_ROOT.glob(entry["glob"] + ".md"))
                names.extend(p.relative_to(PROJECT_ROOT).with_suffix("").as_posix() for p in found)
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("parts"))
    walk(toc.get("chapters"))
    return names


def pdf_docnames() -> list[str]:
    return toc_docnames(PDF_TOC)


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
    for docname in pdf_docnames():
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
    return text.decode().split("\f")[:-1]  # every page ends with a form feed


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
    docs = pdf_docnames()
    assert APPENDIX_DOC in starts, f"the appendix is not in the PDF (pages found: {starts})"
    later = [starts[d] for d in docs[docs.index(APPENDIX_DOC) + 1 :] if d in starts]
    end = min(later) - 1 if later else len(pages)
    return range(starts[APPENDIX_DOC] - 1, end)


def test_every_chapter_title_is_in_the_pdf(pages):
    text = letters_and_digits(" ".join(pages))
    for docname in pdf_docnames():
        # A title with inline math: look for each stretch of words around the math.
        for piece in re.split(r"\$[^$]*\$", page_title(docname)):
            assert letters_and_digits(piece) in text, f"{docname}: title {piece!r} not in PDF"


def imported_modules(source: str, package: str = "") -> set[str]:
    """The bnbook modules (dotted, without 'bnbook.') a piece of code imports;
    `package`: the importing module's package, for relative imports."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(filter(None, [package, base]))
            elif not base.startswith("bnbook"):
                continue
            base = base.removeprefix("bnbook").lstrip(".")
            for alias in node.names:  # `from bnbook.presentation import plots` imports a module
                found.add(f"{base}.{alias.name}".lstrip("."))
                found.add(base)
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix("bnbook.") for a in node.names if a.name.startswith("bnbook.")
            }
    package_dir = PROJECT_ROOT / "src" / "bnbook"
    return {m for m in found if m and (package_dir / f"{m.replace('.', '/')}.py").is_file()}


def chapter_modules() -> list[Path]:
    """Every module the PDF's chapters compute with: what their code cells import, and
    what those modules import in turn, short of the machinery the appendix only names
    (listings.NOT_PRINTED: the records cache, the machine, the data sources; tooling)."""
    from bnbook.tooling import listings

    package_dir = PROJECT_ROOT / "src" / "bnbook"
    todo = set()
    for docname in pdf_docnames():
        if source_path(docname).suffix == ".ipynb":
            cells = json.loads(source_path(docname).read_text())["cells"]
            todo |= imported_modules("\n".join("".join(c["source"]) for c in cells
                                               if c["cell_type"] == "code"))  # fmt: skip
    seen = set()
    while todo:
        module = todo.pop()
        path = package_dir / f"{module.replace('.', '/')}.py"
        name = listings.relative(path)
        if module in seen or name in listings.NOT_PRINTED or name.startswith("tooling/"):
            continue
        seen.add(module)
        todo |= imported_modules(path.read_text(), module.rpartition(".")[0])
    return sorted(package_dir / f"{m.replace('.', '/')}.py" for m in seen)


def answer_modules() -> list[Path]:
    """What the PDF appendix prints: listings.is_printed."""
    from bnbook.tooling import listings

    return sorted(p for p in listings.package_modules() if listings.is_printed(p))


def appendix_listings(latex_dir: Path) -> list[str]:
    """The module named by each section heading of the appendix chapter, in book.tex."""
    tex = (latex_dir / "book.tex").read_text()
    appendix = tex[tex.index("\\chapter{Appendix") :]
    headings = re.findall(r"\\section\{.*?(src/bnbook/[\w/\\]+?\.py)", appendix)
    return [h.replace("\\_", "_").replace("\\", "") for h in headings]


def test_every_module_the_chapters_compute_with_is_printed():
    """Derived from the chapters' imports: a module they use that the appendix does not
    print would be a number or figure the grader cannot check."""
    required = chapter_modules()
    assert any(p.name == "evidence.py" for p in required), "the imports were not followed"
    missing = sorted(set(required) - set(answer_modules()))
    assert not missing, f"the chapters compute with unprinted modules: {missing}"


def test_no_reference_to_an_unprinted_file(pages, appendix_pages):
    """A file the text names (`something.py`) is one the grader can read in the appendix."""
    from bnbook.tooling import listings

    printed = {listings.relative(p) for p in answer_modules()}
    problems = []
    for index in range(appendix_pages.start):
        for name in re.findall(r"[\w./-]+\.py\b", pages[index]):
            module = name.removeprefix("src/").removeprefix("bnbook/")
            if module not in printed:
                problems.append(f"page {index + 1}: {name}")
    assert not problems, "the text names files the PDF does not print:\n" + "\n".join(problems)


def test_appendix_prints_exactly_the_answer_computing_modules(latex_dir, pages, appendix_pages):
    expected = [f"src/{p.relative_to(PROJECT_ROOT / 'src').as_posix()}" for p in answer_modules()]
    assert len(expected) > 8
    assert sorted(appendix_listings(latex_dir)) == expected
    appendix = letters_and_digits(" ".join(pages[i] for i in appendix_pages))
    assert appendix.startswith(letters_and_digits("Appendix: the code"))
    # The listings themselves, not only their headings: each module's last code line.
    for path in answer_modules():
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        if lines:
            assert letters_and_digits(lines[-1]) in appendix, f"{path.name} is not listed in full"
    # Every other module is named, in the table (module, purpose), and not listed.
    package = PROJECT_ROOT / "src" / "bnbook"
    others = sorted(set(package.rglob("*.py")) - set(answer_modules()))
    for path in others:
        name = path.relative_to(package).as_posix()  # the table's column is src/bnbook/
        assert letters_and_digits(name) in appendix, f"{name} is not named in the appendix"


def test_page_counts_per_part(pages, appendix_pages):
    """Main matter (title and contents included) <= 40 pages, appendix <= 30, all <= 70."""
    total = len(pages)
    main, appendix = appendix_pages.start, len(appendix_pages)
    print(f"\nPDF pages: main matter {main}, appendix {appendix}, total {total}")
    assert main + appendix == total
    assert main <= 40 and appendix <= 30 and total <= 70, (main, appendix, total)


def test_every_character_has_a_glyph(latex_dir):
    """XeLaTeX drops a character its font lacks (only a log line says so): ᵀ would vanish."""
    log = (latex_dir / "book.log").read_text(errors="replace")
    missing = sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))
    assert not missing, f"characters printed as nothing: {missing}"


def test_code_split_across_pages_carries_no_empty_marks(pages):
    """Sphinx's "continued on next page" hints, emptied, would print a bare "()"."""
    marks = [i + 1 for i, page in enumerate(pages) for line in page.splitlines()
             if line.strip() == "()"]  # fmt: skip
    assert not marks, f"bare continuation marks on pages {marks}"


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
    for docname in pdf_docnames():
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
    for docname in pdf_docnames():
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


# ---------------------------------------------------------------- the answers page

ANSWERS_DOC = "notebooks/00_answers"
ANSWER_LABELS = ("ans-p1", "ans-p2", "ans-p3", "ans-p4-1", "ans-p4-2", "ans-p4-3")
FIGURE_LABELS = ("fig-p2-graph", "fig-p3-graph", "fig-p4-1-loss", "fig-p4-2-loss", "fig-p4-3-loss")
# Each answer's left-hand side, as pdftotext prints it (NFKC, spaces removed).
ANSWER_SYMBOLS = ("∂o", "p−y", "∂W3", "∂b3", "∂W2", "∂b2", "∂W1", "∂b1", "∂γ", "∂β", "∂xi")


def answers_text(latex_dir: Path, pdf: Path, pages: list[str]) -> tuple[int, str]:
    """(first page, text) of the answers page(s)."""
    starts = doc_start_pages(latex_dir, pdf)
    first = starts[ANSWERS_DOC]
    end = min([p for p in starts.values() if p > first] or [len(pages) + 1])
    text = unicodedata.normalize("NFKC", " ".join(pages[first - 1 : end - 1]))
    return first, text


def test_answers_page_comes_first_with_every_answer(latex_dir, pdf, pages, smoke_book):
    first, text = answers_text(latex_dir, pdf, pages)
    assert first <= 8, f"the answers start on page {first}"
    assert pdf_docnames()[1] == ANSWERS_DOC, "the answers are not the first chapter"
    squashed = re.sub(r"\s+", "", text)
    missing = [symbol for symbol in ANSWER_SYMBOLS if symbol not in squashed]
    assert not missing, f"answers page lacks {missing}"
    # Problem 4: the four matched-pair accuracies of the build's own summary (mean ± std).
    pairs = json.loads((smoke_book / "results" / "summary.json").read_text())["pairs"]
    # (a table cell may wrap inside a number's "±")
    shown = [re.sub(r"\s+", " ", m) for m in re.findall(r"\d+\.\d\d\s*±\s*\d+\.\d\d%", text)]
    for net in ("mlp", "cnn"):
        for arm in ("without", "with"):
            p = pairs[net][arm]
            expected = f"{100 * p['mean']:.2f} ± {100 * p['std']:.2f}%"
            assert expected in shown, f"{net} {arm}: {expected} not on the answers page ({shown})"
    assert "without" in squashed and "batchnorm" in squashed  # the headers (cells wrap)


def test_answers_point_to_their_sections_and_figures(latex_dir):
    tex = (latex_dir / "book.tex").read_text()
    start = tex.index("\\chapter{Answers")
    answers = tex[start : tex.index("\\chapter{", start + 1)]
    targets = set(re.findall(r"\\hyperref\[\\detokenize\{[^}:]+:([\w-]+)\}\]", answers))
    missing = set(ANSWER_LABELS + FIGURE_LABELS) - targets
    assert not missing, f"the answers page does not point to {sorted(missing)}"


# ---------------------------------------------------------------- figure text in print

MIN_FIGURE_TEXT_PT = 7.0


def log_lines(latex_dir: Path) -> list[str]:
    """book.log with TeX's wrapping (at 79 characters) undone."""
    lines, joined = (latex_dir / "book.log").read_text(errors="replace").splitlines(), []
    for line in lines:
        if joined and len(joined[-1]) == 79:
            joined[-1] += line
        else:
            joined.append(line)
    return joined


def printed_figures(latex_dir: Path) -> list[tuple[str, int, float]]:
    """(file, page, printed width in points) of every figure, as the preamble logs them."""
    found = []
    for line in log_lines(latex_dir):
        match = re.match(r"bnbook-figure ([\d.]+)pt (\S+) (.+)$", line)
        if match:
            name = match[3].replace("{", "").replace("}", "").strip()
            found.append((name, match[2], float(match[1]) * 72 / 72.27))
    return found


def test_figure_text_prints_at_7pt_or_more(latex_dir):
    """Every text in every figure, at the size the figure is printed (math scripts aside)."""
    from tests.book.figure_text import figure_text, is_script, page_width

    figures = printed_figures(latex_dir)
    assert len(figures) == len(included_graphics(latex_dir)), "a figure was not logged"
    too_small = []
    for name, page, width in figures:
        path = latex_dir / name
        scale = width / page_width(path)
        runs = figure_text(path)
        assert runs, f"{name} (page {page}) has no text: is the parser still reading it?"
        sizes = [run.size * scale for run in runs if not is_script(run, runs)]
        if min(sizes) < MIN_FIGURE_TEXT_PT:
            small = sum(size < MIN_FIGURE_TEXT_PT for size in sizes)
            too_small.append(f"page {page}: {name}: {small} texts, smallest {min(sizes):.1f} pt")
    assert not too_small, "figure text under 7 pt in print:\n" + "\n".join(too_small)


def test_figure_text_measurement(tmp_path):
    """The measurement itself, on a figure whose sizes are known."""
    import matplotlib

    matplotlib.use("agg")
    import matplotlib.pyplot as plt

    from bnbook.presentation.plots import use_book_style
    from tests.book.figure_text import figure_text, is_script, page_width

    use_book_style()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_yscale("log")  # tick labels 10^k: superscripts at 0.7 of the tick size
    ax.plot([1, 2, 3], [0.1, 1, 10])
    ax.set_xlabel("seven", fontsize=7)
    ax.set_title("ten", fontsize=10)
    fig.savefig(tmp_path / "f.pdf")
    plt.close(fig)
    runs = figure_text(tmp_path / "f.pdf")
    assert page_width(tmp_path / "f.pdf") == 4 * 72
    sizes = sorted({round(r.size, 2) for r in runs if not is_script(r, runs)})
    assert sizes == [7.0, 9.0, 10.0], sizes  # label, ticks (use_book_style), title
    assert {round(r.size, 2) for r in runs if is_script(r, runs)} == {6.3}


# ---------------------------------------------------------------- printed code

PLUMBING = ("glue(", "getsource", "display(", "use_book_style", "profile_note", "set_matplotlib")


def printed_cells(docname: str) -> list[str]:
    """The source of every code cell whose input the PDF shows (tooling/print_tags)."""
    from bnbook.tooling.print_tags import parts_left_out

    cells = json.loads(source_path(docname).read_text())["cells"]
    return [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "input" not in parts_left_out(c["metadata"].get("tags"))
    ]


def only_displays(source: str) -> bool:
    """A cell whose one statement shows a value or a table: `table`, `arms_table(...)`."""
    import ast

    body = ast.parse(source).body
    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        return False
    value = body[0].value
    if isinstance(value, (ast.Name, ast.Attribute)):
        return True
    return isinstance(value, ast.Call) and ast.unparse(value.func).endswith("table")


def cell_kind(source: str, project_names: set[str]) -> str | None:
    """Why a printed cell is there, or None: it must call the project's code (a graph, a
    model, training, a check, a table) or draw with matplotlib. Imports, constants and
    glue alone are not."""
    import ast

    calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)]
    for call in calls:
        root = call.func
        while isinstance(root, (ast.Attribute, ast.Call, ast.Subscript)):
            root = root.value if not isinstance(root, ast.Call) else root.func
        if isinstance(root, ast.Name) and root.id in project_names:
            return "calls the project's code"
        if isinstance(root, ast.Name) and root.id in ("plt", "ax", "axes", "fig"):
            return "draws a figure"
    return None


def imported_project_names(docname: str) -> set[str]:
    import ast

    names = set()
    cells = json.loads(source_path(docname).read_text())["cells"]
    for cell in (c for c in cells if c["cell_type"] == "code"):
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bnbook"):
                names |= {alias.asname or alias.name for alias in node.names}
    return names


def test_printed_cells_are_only_of_allowed_kinds():
    problems = []
    for docname in pdf_docnames():
        if source_path(docname).suffix != ".ipynb":
            continue
        project = imported_project_names(docname)
        for source in printed_cells(docname):
            first = source.strip().splitlines()[0] if source.strip() else "(empty)"
            plumbing = [token for token in PLUMBING if token in source]
            if plumbing:
                problems.append(f"{docname}: prints {plumbing} in the cell {first!r}")
            elif only_displays(source):
                problems.append(f"{docname}: prints a cell that only shows its output: {first!r}")
            elif cell_kind(source, project) is None:
                problems.append(f"{docname}: prints a cell that computes nothing: {first!r}")
    assert not problems, "cells to tag remove-input/hide-input:\n" + "\n".join(problems)


def test_no_plumbing_is_visible_in_the_pdf(pages, appendix_pages):
    visible = [
        f"page {i + 1}: {token}"
        for i, page in enumerate(pages[: appendix_pages.start])
        for token in PLUMBING
        if token in page
    ]
    assert not visible, "\n".join(visible)


# ---------------------------------------------------------------- one chapter as PDF

CHAPTER = "notebooks/03_problem2_backprop"


def test_one_chapter_as_pdf(tmp_path):
    """`make notebook-pdf`: the chapter's title, both names, no TensorFlow log, figures
    at their own size (as in the book)."""
    out = PROJECT_ROOT / "_build" / "notebook-pdf" / f"{Path(CHAPTER).name}.pdf"
    env = {**__import__("os").environ, "BNBOOK_AUTHOR": "Ada Lovelace",
           "BNBOOK_COLLABORATOR": "Charles Babbage"}  # fmt: skip
    cmd = ["make", "-s", "notebook-pdf", f"NB={CHAPTER}.ipynb", "BNBOOK_PROFILE=smoke"]
    subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    first_page = text.split("\f")[0]
    assert letters_and_digits(page_title(CHAPTER)) in letters_and_digits(first_page)
    assert "03_problem2_backprop" not in first_page
    assert "Ada Lovelace" in first_page and "Charles Babbage" in first_page
    for log_line in ("oneDNN", "cpu_feature_guard", "absl::InitializeLog", "TF_ENABLE"):
        assert log_line not in text, f"TensorFlow's log ({log_line}) is printed"
