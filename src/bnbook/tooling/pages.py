"""Sphinx extension for the book's pages: the PDF title page, the source-code appendix,
and one fix to the HTML.

- Title page: course, assignment, title, author and collaborator, each set once in
  `_config.yml` (`author` at the top, the others under `sphinx.config`). The HTML
  footer shows the collaborator next to the author as well.
- Appendix: the page `book/appendix_source` gets one line-numbered listing per
  module of `src/bnbook`, found when the page is read, so a new module can never
  be missing from the printed code.
- HTML: sphinx-thebe 0.3.1 registers its inline configuration script twice, and the
  second `const THEBE_JS_URL` is a SyntaxError in every page's console; each page
  gets each script once. With an empty localStorage the theme logs "invalid theme
  mode" unless `html_context.default_mode` is set (done in `_config.yml`).
"""

from pathlib import Path

from sphinx.util.texescape import escape

from bnbook.paths import PACKAGE_DIR

APPENDIX_DOCNAME = "book/appendix_source"


def package_modules() -> list[Path]:
    """Every module of the package, by subpackage, each `__init__.py` first."""
    return sorted(
        PACKAGE_DIR.rglob("*.py"),
        key=lambda p: (p.parent != PACKAGE_DIR, p.parent.name, p.name != "__init__.py", p.name),
    )


def listings_markdown() -> str:
    """One MyST section per module: a heading with its path and the numbered listing."""
    parts = []
    for path in package_modules():
        relative = f"src/bnbook/{path.relative_to(PACKAGE_DIR).as_posix()}"
        parts.append(
            f"\n## `{relative}`\n\n"
            f"```{{literalinclude}} ../{relative}\n:language: python\n:linenos:\n```\n"
        )
    return "".join(parts)


def _append_listings(app, docname, source):
    if docname == APPENDIX_DOCNAME:
        source[0] += listings_markdown()


def _title_page(config) -> str:
    c = {
        "course": escape(config.bnbook_course),
        "assignment": escape(config.bnbook_assignment),
        "title": escape(config.project if not config.html_title else config.html_title),
        "author": escape(config.bnbook_author),
        "collaborator": escape(config.bnbook_collaborator),
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
  {{\large \today\par}}
\end{{titlepage}}
"""


def _configure(app, config):
    config.bnbook_author = config.author
    if config.bnbook_collaborator:
        # Shown in the HTML footer and the PDF metadata; the title page lists them apart.
        config.author = f"{config.author} (collaborator: {config.bnbook_collaborator})"
    elements = dict(config.latex_elements)
    elements.setdefault("maketitle", _title_page(config))
    config.latex_elements = elements


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


def setup(app):
    app.add_config_value("bnbook_course", "", "env")
    app.add_config_value("bnbook_assignment", "", "env")
    app.add_config_value("bnbook_collaborator", "", "env")
    app.add_config_value("bnbook_author", "", "env")
    app.connect("config-inited", _configure)
    app.connect("source-read", _append_listings)
    # Early: a theme handler returns a value, which ends Sphinx's emit_firstresult chain.
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
