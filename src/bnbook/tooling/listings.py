"""The source appendix: which modules the PDF prints, and the pages that list them.

The printed submission carries the code that computes answers, which is what the
package layout groups together: `derivations` (Problems 1-3 and their checks),
`networks` (the batch-norm layer, the models, the training loop), `runs` (the
experiment configurations, their selection on validation, the split) and
`presentation` (the paired statistics, the chapters' facts and tables, the figures
and graph drawing), with the one table writer (`tables`). Of `runs`, the records
cache (store, keys, digests, resolving the plan against it), the machine decisions
(profiles, precision, devices) and the MNIST sources and their verification are
machinery, not the experiment, so they join `tooling` (build, benchmarks, Sphinx
extensions) and the exercises: named in a table in the PDF, printed in the HTML book.
tests/book/test_pdf.py checks that this covers every module the chapters compute with.

In HTML every module gets a page of its own, written into `book/source/` (which
`_toc.yml` globs) when the book is built, so a new module is never missing. The PDF
prints each module in its print form (`print_form`): every docstring cut to its first
line and no blank lines inside functions, written into `book/source/print/`; the HTML
pages keep every word.
"""

import ast
import io
import tokenize
from pathlib import Path

from bnbook.paths import PACKAGE_DIR, PROJECT_ROOT, write_atomically

PRINTED_SUBPACKAGES = ("derivations", "networks", "runs", "presentation")
ALSO_PRINTED = ("tables.py",)  # the one table writer every printed table goes through
NOT_PRINTED = (  # the records cache, the machine decisions, the data sources (see above)
    "runs/data.py",
    "runs/resolution.py",
    "runs/experiments.py",
    "runs/records.py",
    "runs/provenance.py",
    "runs/profiles.py",
    "runs/precision.py",
    "runs/cpu.py",
    "runs/devices.py",
    "runs/mnist_wheel.py",
)
PAGES_DIR = PROJECT_ROOT / "book" / "source"
PRINT_DIR = PAGES_DIR / "print"  # the print forms the PDF appendix includes


def package_modules() -> list[Path]:
    """Every module of the package, top level first, then by subpackage, `__init__.py` first."""
    return sorted(
        PACKAGE_DIR.rglob("*.py"),
        key=lambda p: (p.parent != PACKAGE_DIR, p.parent.name, p.name != "__init__.py", p.name),
    )


def relative(path: Path) -> str:
    """'derivations/reference.py' for src/bnbook/derivations/reference.py."""
    return path.relative_to(PACKAGE_DIR).as_posix()


def is_printed(path: Path) -> bool:
    """True for the modules the PDF prints (see the module docstring); a module that is
    only a docstring (a package's `__init__.py`) is named, not printed."""
    name = relative(path)
    in_printed = name.split("/")[0] in PRINTED_SUBPACKAGES or name in ALSO_PRINTED
    return in_printed and name not in NOT_PRINTED and has_code(path)


def has_code(path: Path) -> bool:
    """Whether a module has any statement besides its docstring."""
    body = ast.parse(path.read_text()).body
    return len(body) > (1 if ast.get_docstring(ast.Module(body=body)) is not None else 0)


def purpose(path: Path) -> str:
    """The first sentence of the module's docstring, on one line."""
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    paragraph = " ".join(docstring.strip().split("\n\n")[0].split())
    sentence, dot, _ = paragraph.partition(". ")
    return sentence + dot.strip()


def page_name(path: Path) -> str:
    """The HTML page of a module (docname): book/source/<subpackage>-<module>."""
    parts = relative(path).removesuffix(".py").split("/")
    return "book/source/" + "-".join(parts if len(parts) > 1 else ["bnbook", *parts])


def module_table(paths: list[Path], link: bool = False) -> str:
    """A MyST table (module in src/bnbook/, purpose); with `link`, each module links to
    its HTML page."""
    rows = ["| module (in `src/bnbook/`) | purpose |", "|---|---|"]
    for path in paths:
        name = relative(path)
        name = f"{{doc}}`{name} </{page_name(path)}>`" if link else f"`{name}`"
        text = purpose(path).replace("|", r"\|")
        rows.append(f"| {name} | {text} |")
    return "\n".join(rows) + "\n"


def listing(path: Path, heading: str, include: str) -> str:
    """A heading and a line-numbered listing of `include` (relative to the page)."""
    return (
        f"\n{heading} `src/bnbook/{relative(path)}`\n\n"
        f"```{{literalinclude}} {include}\n"
        ":language: python\n:linenos:\n```\n"
    )


def docstring_nodes(tree: ast.Module) -> list[ast.Expr]:
    """The docstring statement of the module and of every class and function."""
    owners = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef,
              ast.FunctionDef, ast.AsyncFunctionDef))]  # fmt: skip
    return [o.body[0] for o in owners if ast.get_docstring(o, clean=False) is not None]


def first_line_docstring(lines: list[str], node: ast.Expr) -> str:
    """A docstring cut to its first line, marked with "..." where it went on."""
    first = lines[node.lineno - 1].rstrip()
    quote = '"""' if '"""' in first else "'''"
    text = first.rstrip(quote).rstrip()
    ends = text.endswith((".", ":", "?", ")", quote))
    return f"{text}{'' if ends else ' ...'}{quote}"


def string_lines(source: str) -> set[int]:
    """Lines inside a multi-line string (their blank lines are part of the value)."""
    inside = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            inside |= set(range(token.start[0] + 1, token.end[0] + 1))
    return inside


def print_form(source: str) -> str:
    """A module as the PDF prints it: every docstring cut to its first line, and no blank
    line but the one after the imports (a top-level `def` or `class` starts at column 0,
    which is separation enough on a numbered listing; the HTML pages keep the source)."""
    lines = source.splitlines()
    tree = ast.parse(source)
    cut = {}
    for node in docstring_nodes(tree):
        if node.end_lineno > node.lineno:
            cut[node.lineno] = (node.end_lineno, first_line_docstring(lines, node))
    keep_blank = string_lines(source) - set(cut)
    out, number = [], 1
    while number <= len(lines):
        if number in cut:
            end, text = cut[number]
            out.append(text)
            number = end + 1
            continue
        line = lines[number - 1]
        if line.strip() or number in keep_blank:
            out.append(line)
        else:
            following = next((n for n in lines[number:] if n.strip()), "")
            nested = following[:1].isspace() or following.startswith((")", "]", "}"))
            after_imports = out and out[-1].startswith(("import ", "from "))
            if not nested and after_imports and not following.startswith(("import ", "from ")):
                out.append("")  # the one blank line: after the imports
        number += 1
    return "\n".join(out).rstrip() + "\n"


def print_copy(path: Path) -> Path:
    """Where a printed module's print form is written (book/source/print/...)."""
    return PRINT_DIR / relative(path)


def write_print_forms() -> None:
    """Write (only when changed) the print form of every printed module."""
    for path in (p for p in package_modules() if is_printed(p)):
        target, text = print_copy(path), print_form(path.read_text())
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            write_atomically(target, lambda f, text=text: f.write(text))


def printed_appendix() -> str:
    """What the PDF appendix adds to its page: the listings, then the other modules' table
    (last, so the listings start on the appendix's first page)."""
    modules = package_modules()
    printed = [p for p in modules if is_printed(p)]
    others = [p for p in modules if not is_printed(p)]
    parts = [listing(p, "##", print_copy(p).relative_to(PROJECT_ROOT / "book").as_posix())
             for p in printed]  # fmt: skip
    entries = "; ".join(f"`{relative(p)}`: {purpose(p).rstrip('.')}" for p in others)
    parts.append(
        "\n## The other modules\n\n"
        "They build the book, store and key the cache and check the exercises; they answer "
        "nothing, and the HTML book prints them (module in `src/bnbook/`: purpose):\n\n"
        "```{raw} latex\n\\begingroup\\footnotesize\n```\n\n"
        f"{entries}.\n\n"
        "```{raw} latex\n\\endgroup\n```\n"
    )
    return "".join(parts)


def html_index() -> str:
    """What the HTML appendix adds to its page: every module, each linked to its page."""
    return "\n" + module_table(package_modules(), link=True)


def module_page(path: Path) -> str:
    """One module's HTML page: its name, purpose and line-numbered listing."""
    text = listing(path, "#", f"../../src/bnbook/{relative(path)}").lstrip("\n")
    title, body = text.split("\n", 1)
    return f"{title}\n\n{purpose(path)}\n{body}"


def write_module_pages(pages_dir: Path = PAGES_DIR) -> None:
    """Write (only when changed) one page per module; remove pages of removed modules."""
    pages_dir.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for path in package_modules():
        wanted[(PROJECT_ROOT / f"{page_name(path)}.md").name] = module_page(path)
    for old in pages_dir.glob("*.md"):
        if old.name not in wanted:
            old.unlink()
    write_print_forms()
    for name, text in wanted.items():
        target = pages_dir / name
        if not target.exists() or target.read_text() != text:
            write_atomically(target, lambda f, text=text: f.write(text))  # never half a page
