"""What the printed book leaves out: cells by their tags, and in the source appendix
everything of a docstring but its first line."""

import ast
import sys
from pathlib import Path

from bnbook.tooling import listings
from bnbook.tooling.print_tags import parts_left_out

SOURCE = '''"""A module.

More about it.
"""

import math


def f(x):
    """Square root, checked.

    Long explanation.
    """
    y = math.sqrt(x)

    text = """keep

    this blank line"""
    return y, text


class A:
    """One line."""

    def g(self):
        return 1
'''


def test_print_form_keeps_code_and_first_docstring_lines():
    printed = listings.print_form(SOURCE)
    assert printed.splitlines()[0] == '"""A module."""'
    assert '    """Square root, checked."""' in printed
    assert "Long explanation" not in printed and "More about it" not in printed
    assert '    text = """keep\n\n    this blank line"""' in printed  # a string's own blank
    assert "    y = math.sqrt(x)\n    text" in printed  # no blank line inside a function
    assert "\n\n\ndef" not in printed and "\n\ndef f(x):" in printed
    assert ast.dump(ast.parse(printed).body[1]) == ast.dump(ast.parse(SOURCE).body[1])


def test_print_form_of_every_printed_module_is_the_same_code():
    """Only docstrings and blank lines change: the statements are the module's own."""

    def without_docstrings(tree):
        for node in listings.docstring_nodes(tree):
            node.value.value = ""
        return ast.dump(tree)

    for path in (p for p in listings.package_modules() if listings.is_printed(p)):
        source = path.read_text()
        printed = ast.parse(listings.print_form(source))
        assert without_docstrings(printed) == without_docstrings(ast.parse(source)), path


def test_parts_left_out_in_print():
    assert parts_left_out(["hide-input"]) == {"input"}
    assert parts_left_out(["remove-output"]) == {"output"}
    assert parts_left_out(["hide-cell"]) == {"input", "output"}
    assert parts_left_out(["hide-input", "hide-output"]) == {"input", "output"}
    assert parts_left_out(None) == set() == parts_left_out(["full-width"])


def test_a_cell_that_only_shows_a_table_is_recognised():
    sys.path.insert(0, str(Path(__file__).parent))
    from tests.book.test_pdf import only_displays

    assert only_displays("table") and only_displays("arms_table(runs)")
    assert not only_displays("table = make()\ntable") and not only_displays("draw(graph)")


MAX_CELL_LINES = 10  # a chapter's cell calls and glues; logic lives in the library


def test_no_chapter_cell_is_long():
    import json

    from bnbook.paths import PROJECT_ROOT

    long = []
    for path in sorted((PROJECT_ROOT / "notebooks").glob("0*.ipynb")):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            lines = [line for line in "".join(cell["source"]).splitlines() if line.strip()]
            if cell["cell_type"] == "code" and len(lines) > MAX_CELL_LINES:
                long.append(f"{path.name} cell {index}: {len(lines)} lines")
    assert not long, long
