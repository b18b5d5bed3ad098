"""After the build: no error, traceback or raw glue role in the HTML and the PDF.

Sphinx warnings catch most failures while the book is built; this reads what a
reader gets, so a page that slipped through (a stale error output, a role that
was never resolved) fails the build with its name.
"""

import re
import subprocess
from pathlib import Path

# Written in two pieces so that this file's own listing in the appendix does not match.
TRACEBACK = "Traceback (most recent" + " call last)"
RAW_GLUE = re.compile(r"\{" + r"glue(:[a-z]+)?\}")
# myst-nb marks a cell's error output and its stderr stream with these classes.
ERROR_CLASSES = re.compile(r'class="[^"]*\boutput (traceback|error|stderr)\b')
LITERAL_BLOCK = re.compile(r"<(pre|code)\b.*?</\1>", re.S)


def scan_html(html_dir: Path) -> list[str]:
    """One line per problem found in the HTML pages, naming the page."""
    problems = []
    for page in sorted(Path(html_dir).rglob("*.html")):
        name = page.relative_to(html_dir).as_posix()
        if name.startswith(("_static/", "_sources/", "genindex", "search")):
            continue
        html = page.read_text(errors="replace")
        if match := ERROR_CLASSES.search(html):
            problems.append(f"{name}: a cell shows {match.group(1)} output")
        prose = LITERAL_BLOCK.sub("", html)  # source listings may quote these strings
        if TRACEBACK in prose:
            problems.append(f"{name}: a traceback")
        if RAW_GLUE.search(prose):
            problems.append(f"{name}: a raw glue role (a number that was never filled in)")
    return problems


def scan_pdf(pdf: Path) -> list[str]:
    """One line per problem found in the PDF, naming the page number and its first line."""
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    problems = []
    for number, page in enumerate(text.split("\f"), start=1):
        first = next((line.strip() for line in page.splitlines() if line.strip()), "")
        where = f"{Path(pdf).name} page {number} ({first[:50]})"
        if TRACEBACK in page:
            problems.append(f"{where}: a traceback")
        if RAW_GLUE.search(page):
            problems.append(f"{where}: a raw glue role (a number that was never filled in)")
    return problems
