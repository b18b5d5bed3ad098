"""The book's figures decode without colour: every series in a legend, none told apart by
hue alone, and no point left out of a panel without a word."""

import ast
import inspect
import json
import math

import matplotlib
import pytest

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402

from bnbook.paths import PROJECT_ROOT  # noqa: E402
from bnbook.presentation import plots  # noqa: E402
from bnbook.tooling import figure_check  # noqa: E402


@pytest.fixture(autouse=True)
def book_style():
    plots.use_book_style()
    yield
    plt.close("all")


def test_series_problems_finds_unlabelled_series_and_hue_only_pairs():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1, 2], color="#1b4f8a", label="a")
    ax.plot([1, 2], [2, 3], color="#2b5f9a", label="b")  # same dash, nearly the same grey
    ax.plot([1, 2], [0, 1], color="black", linestyle=":")  # no legend entry
    ax.legend()
    problems = figure_check.series_problems(fig)
    assert any("no legend entry" in p for p in problems), problems
    assert any("'a' and 'b' differ in hue only" in p for p in problems), problems
    with pytest.raises(figure_check.FigureProblem):
        figure_check.checked(fig)


def test_the_arm_palette_survives_greyscale():
    """Without and with batch norm: different dashes and markers, and greys far apart."""
    plain, bn = plots.style(False), plots.style(True)
    assert plain["linestyle"] != bn["linestyle"] and plots.marker(False) != plots.marker(True)
    assert (
        abs(figure_check.grey(plain["color"]) - figure_check.grey(bn["color"]))
        >= figure_check.MIN_GREY_STEP
    )


def sweep_record(lr, batch_norm, seed, loss):
    return {"config": {"lr": lr, "batch_norm": batch_norm, "seed": seed},
            "losses": [2.0] * 10 + [loss] * 50, "val_accuracy": 0.1 if math.isnan(loss) else 0.9,
            "steps": 60}  # fmt: skip


def test_the_sweep_says_where_a_run_diverged():
    records = [sweep_record(lr, bn, seed, math.nan if (lr == 3.0 and not bn) else 0.1 / lr)
               for lr in (0.1, 1.0, 3.0) for bn in (False, True) for seed in (0, 1)]  # fmt: skip
    fig = plots.sweep_curves(records)  # checked: every series in a legend
    loss_panel = fig.axes[0]
    assert any("diverged" in t.get_text() for t in loss_panel.texts), "no word on the panel"
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert any("diverged" in label for label in labels), labels
    assert any("with batch norm" in label for label in labels), labels


def glued_figures() -> list[tuple[str, str]]:
    """(notebook, the plots function whose figure it glues) for every glued figure."""
    found = []
    for path in sorted((PROJECT_ROOT / "notebooks").glob("0*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        source = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        made = {}  # variable -> the plots function that made it (the latest, in order)
        for statement in ast.parse(source).body:
            value = getattr(statement, "value", None)
            if isinstance(statement, ast.Assign):
                func = value.func if isinstance(value, ast.Call) else None
                by_plots = isinstance(func, ast.Attribute) and ast.unparse(func.value) == "plots"
                for target in statement.targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            made[name.id] = func.attr if by_plots else "(not plots)"
            for node in ast.walk(statement):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "glue":
                    name, value = node.args[0].value, node.args[1]
                    if name.endswith("_fig"):
                        root = value.value if isinstance(value, ast.Attribute) else value
                        made_by = made.get(getattr(root, "id", ""), "(not plots)")
                        found.append((path.stem, made_by))
    return found


def test_every_glued_figure_is_made_and_checked_by_plots():
    """A figure assembled in a notebook would escape series_problems: each glued figure
    comes from a plots function that checks it."""
    figures = glued_figures()
    assert len(figures) >= 8, figures
    source = {fn: inspect.getsource(getattr(plots, fn, lambda: None)) for _, fn in figures}
    unchecked = [(nb, fn) for nb, fn in figures if "checked(" not in source[fn]]
    assert not unchecked, unchecked
