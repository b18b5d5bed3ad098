"""The source appendix: which modules the PDF prints, and the pages that list them.

The printed submission carries the code that computes answers, which is what the
package layout groups together: `derivations` (Problems 1-3 and their checks),
`networks` (the batch-norm layer, the models, the training loop) and `runs` (the
experiment configurations, their selection on validation, the split and data
loading), and of `presentation` the statistics every claim about batch norm rests
on (`comparisons`: paired differences, t-intervals, verdicts). Of `runs`, the
records cache (store, keys, digests, resolving the plan against it), the machine
decisions (profiles, precision, devices) and the MNIST sources and their verification are machinery,
not the experiment, so they join the rest of `presentation` and `tooling`
(plots, the chapters' facts, graph drawing, tables, build, benchmarks, Sphinx
extensions): named in a table in the PDF, printed in the HTML book only.

In HTML every module gets a page of its own, written into `book/source/` (which
`_toc.yml` globs) when the book is built, so a new module is never missing.
"""

import ast
from pathlib import Path

from bnbook.paths import PACKAGE_DIR, PROJECT_ROOT, write_atomically

PRINTED_SUBPACKAGES = ("derivations", "networks", "runs")
ALSO_PRINTED = ("presentation/comparisons.py",)  # the statistics behind every verdict
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
    """True for the modules the PDF prints (see the module docstring)."""
    name = relative(path)
    in_printed = name.split("/")[0] in PRINTED_SUBPACKAGES or name in ALSO_PRINTED
    return in_printed and name not in NOT_PRINTED


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


def listing(path: Path, heading: str, from_dir: str) -> str:
    """A heading and the module's line-numbered listing; `from_dir`: the page's folder."""
    return (
        f"\n{heading} `src/bnbook/{relative(path)}`\n\n"
        f"```{{literalinclude}} {from_dir}src/bnbook/{relative(path)}\n"
        ":language: python\n:linenos:\n```\n"
    )


def printed_appendix() -> str:
    """What the PDF appendix adds to its page: the listings, then the other modules' table
    (last, so the listings start on the appendix's first page)."""
    modules = package_modules()
    printed = [p for p in modules if is_printed(p)]
    others = [p for p in modules if not is_printed(p)]
    parts = [listing(p, "##", "../") for p in printed]
    parts.append(
        "\n## The other modules\n\n"
        "They build the book, store and key the cache, and draw the tables and figures; "
        "they answer nothing, and the HTML book prints them:\n\n"
        "```{raw} latex\n\\begingroup\\footnotesize\n```\n\n"
        "```{table}\n:class: longtable\n:widths: 3 5\n\n" + module_table(others) + "```\n\n"
        "```{raw} latex\n\\endgroup\n```\n"
    )
    return "".join(parts)


def html_index() -> str:
    """What the HTML appendix adds to its page: every module, each linked to its page."""
    return "\n" + module_table(package_modules(), link=True)


def module_page(path: Path) -> str:
    """One module's HTML page: its name, purpose and line-numbered listing."""
    text = listing(path, "#", "../../").lstrip("\n")
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
    for name, text in wanted.items():
        target = pages_dir / name
        if not target.exists() or target.read_text() != text:
            write_atomically(target, lambda f, text=text: f.write(text))  # never half a page
