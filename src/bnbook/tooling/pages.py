"""Sphinx extension for the pages: title page, source appendix, cells hidden in print.

It also makes one fix to the HTML.

- Title page: course, assignment, title, author, collaborator and date. The names
  come from tooling/authors.py (`_config.yml`, overridden by `make book AUTHOR=...
  COLLABORATOR=...`); the HTML footer shows the collaborator next to the author
  (HTML-escaped: any characters print as typed).
  The date is the build date unless `sphinx.config.today` sets one.
- Appendix (tooling/listings.py): the PDF's page `book/appendix_code` gets the
  listings of the modules that compute answers; the HTML index `book/appendix_source`
  gets a table of every module, each with a page of its own written at start-up.
- Cells tagged `hide-input`, `hide-output` or `hide-cell` are collapsed in HTML (by
  myst-nb) and left out of every other format (tooling/print_tags.py, the rule
  `make notebook-pdf` follows too): the printed book shows no plumbing.
- PDF and HTML read different tables of contents (`--toc _toc_pdf.yml`), so each toc
  keeps its own Sphinx environment; shared, each build would re-read every page.
- HTML: each figure's SVG (graphs, plots) links to itself, so a phone opens it full
  size on a tap instead of showing labels a few pixels high.
- HTML: sphinx-thebe 0.3.1 registers its inline configuration script twice, and the
  second `const THEBE_JS_URL` is a SyntaxError in every page's console; each page
  gets each script once. With an empty localStorage the theme logs "invalid theme
  mode" unless `html_context.default_mode` is set (done in `_config.yml`).
"""

import re
from pathlib import Path

import markupsafe
from docutils import nodes
from sphinx.util import texescape
from sphinx.util.i18n import format_date
from sphinx.util.texescape import escape

from bnbook.tooling import authors, listings, print_tags

PDF_APPENDIX = "book/appendix_code"
HTML_APPENDIX = "book/appendix_source"
CELL_PARTS = {"input": "cell_code_source", "output": "cell_code_output"}  # myst-nb's nodes


def _add_listings(app, docname, source):
    if docname == PDF_APPENDIX:
        source[0] += listings.printed_appendix()
    elif docname == HTML_APPENDIX:
        source[0] += listings.html_index()


def build_date(config) -> str:
    """`today` if the configuration sets it, else the build date in `today_fmt`."""
    return config.today or format_date(config.today_fmt or "%B %d, %Y", language="en")


def title_page(config) -> str:
    """The LaTeX title page (the `maketitle` element)."""
    # escape() knows no character until init(), which the LaTeX builder calls only after
    # config-inited (where this runs): without it `Jo$e` opened math mode, `&` broke the page.
    texescape.init()
    c = {
        "course": escape(config.bnbook_course),
        "assignment": escape(config.bnbook_assignment),
        "title": escape(config.project if not config.html_title else config.html_title),
        "author": escape(config.bnbook_author),
        "collaborator": escape(config.bnbook_collaborator),
        "date": escape(build_date(config)),
    }
    return rf"""
\begin{{titlepage}}
  \centering
  \vspace*{{2.5cm}}
  {{\large {c["course"]}\par}}
  \vspace{{0.6cm}}
  {{\Large {c["assignment"]}\par}}
  \vspace{{2cm}}
  {{\Huge\bfseries {c["title"]}\par}}
  \vspace{{2.5cm}}
  {{\Large {c["author"]}\par}}
  \vspace{{0.4cm}}
  {{\large Collaborator: {c["collaborator"]}\par}}
  \vfill
  {{\large {c["date"]}\par}}
\end{{titlepage}}
"""


def _configure(app, config):
    chosen = authors.resolve({"author": config.author, "collaborator": config.bnbook_collaborator})
    config.bnbook_author, config.bnbook_collaborator = chosen["author"], chosen["collaborator"]
    config.author = chosen["author"]
    if chosen["collaborator"]:
        # The HTML footer and the PDF metadata; the title page lists them apart.
        config.author = f"{chosen['author']} (collaborator: {chosen['collaborator']})"
    elements = dict(config.latex_elements)
    elements.setdefault("maketitle", title_page(config))
    config.latex_elements = elements
    toc = Path(config.external_toc_path).stem
    if toc != "_toc":  # one environment per table of contents (the PDF's: _toc_pdf.yml)
        doctrees = Path(app.doctreedir).with_name(f".doctrees{toc}")
        doctrees.mkdir(parents=True, exist_ok=True)
        app.doctreedir = type(app.doctreedir)(doctrees)
    listings.write_module_pages()


def _hide_in_print(app, doctree, docname):
    """Leave out of non-HTML output what print_tags says print leaves out."""
    if app.builder.format == "html":
        return
    for cell in list(doctree.findall(nodes.container)):
        if cell.get("nb_element") != "cell_code":
            continue
        parts = print_tags.parts_left_out(cell.get("cell_metadata", {}).get("tags"))
        if parts == {"input", "output"}:
            cell.parent.remove(cell)
            continue
        for child in list(cell.children):
            if child.get("nb_element") in {CELL_PARTS[part] for part in parts}:
                cell.remove(child)


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = sorted(getattr(script, "attributes", {}).items())
        # An inline script is registered once with filename None and once with "".
        key = (str(getattr(script, "filename", script) or ""), repr(attributes))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    # In place: it is the builder's list, to which later handlers (MathJax) still add.
    context["script_files"][:] = unique


FIGURE_SVG = re.compile(  # a figure's opening, then its <img> of an SVG
    r'(<figure\b(?:(?!</figure>).)*?)(<img\b[^>]*?src="([^"]+\.svg)"[^>]*>)', re.S
)


def link_figure_svgs(body: str) -> str:
    """Wrap each figure's SVG image in a link to the SVG (unless it is linked already)."""

    def wrap(match: re.Match) -> str:
        before, img, src = match.groups()
        if before.rstrip().endswith(">") and re.search(r"<a\b[^>]*>\s*$", before):
            return match[0]
        return f'{before}<a class="bnbook-full-size" href="{src}" title="full size">{img}</a>'

    return FIGURE_SVG.sub(wrap, body)


def _link_figures(app, pagename, templatename, context, doctree):
    if context.get("body"):
        context["body"] = link_figure_svgs(context["body"])


def _escape_author(app, pagename, templatename, context, doctree):
    """The theme prints `author` into every page's footer as it is (Sphinx's Jinja does
    not escape): `Jane <jane@example.edu>` would lose the address, `<img onerror=...>`
    would run. Escaped here, after the theme's handler (priority 500) has set it."""
    if context.get("author"):
        context["author"] = markupsafe.escape(str(context["author"]))


def setup(app):
    app.add_config_value("bnbook_course", "", "env")
    app.add_config_value("bnbook_assignment", "", "env")
    app.add_config_value("bnbook_collaborator", "", "env")
    app.add_config_value("bnbook_author", "", "env")
    app.connect("config-inited", _configure)
    app.connect("source-read", _add_listings)
    app.connect("doctree-resolved", _hide_in_print)
    # Early: a theme handler returns a value, which ends Sphinx's emit_firstresult chain.
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    app.connect("html-page-context", _escape_author, priority=900)
    app.connect("html-page-context", _link_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
