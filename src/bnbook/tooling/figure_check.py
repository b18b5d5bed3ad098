"""The build's guard on figures: a figure a reader cannot decode stops the build.

Every figure a chapter glues is made by a `presentation.plots` function that ends in
`checked`: each drawn line has a legend entry of the same look (colour, dash, marker),
and no two lines of a panel differ in hue only (same dash and marker, greys closer
than MIN_GREY_STEP), so the figures survive black-and-white print.
"""

import itertools


class FigureProblem(ValueError):
    """A figure a reader cannot decode: a series with no legend entry, or two told
    apart by hue alone."""


MIN_GREY_STEP = 0.2  # two colours this far apart in grey survive black-and-white print


def series_style(line) -> tuple:
    """What tells a line apart without colour: its dash (if drawn) and marker."""
    dash = line.get_linestyle() if line.get_linestyle() not in ("None", "none", "") else None
    mark = line.get_marker() if line.get_marker() not in ("None", "none", "", None) else None
    return dash, mark


def grey(color) -> float:
    """A colour's lightness in greyscale print (Rec. 601 luma)."""
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return 0.299 * r + 0.587 * g + 0.114 * b


def series_problems(fig) -> list[str]:
    """Every drawn line of every panel: covered by a legend entry of the same look, and
    in each panel no two looks that differ in hue only (same dash and marker, greys
    closer than MIN_GREY_STEP)."""
    from matplotlib.colors import to_hex

    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    handles = [h for legend in legends for h in legend.legend_handles if hasattr(h, "get_marker")]
    keys = {(to_hex(h.get_color()), *series_style(h)) for h in handles}
    problems = []
    for number, ax in enumerate(fig.axes, start=1):
        looks = {}
        for line in ax.get_lines():
            if len(line.get_xdata()) == 0 or not line.get_visible():
                continue
            key = (to_hex(line.get_color()), *series_style(line))
            looks[key] = line.get_label()
            if key not in keys:
                problems.append(f"panel {number}: {line.get_label()!r} has no legend entry")
        for a, b in itertools.combinations(looks, 2):
            if a[1:] == b[1:] and a[0] != b[0] and abs(grey(a[0]) - grey(b[0])) < MIN_GREY_STEP:
                problems.append(f"panel {number}: {looks[a]!r} and {looks[b]!r} differ in hue only")
    return problems


def checked(fig):
    """The figure, if series_problems finds nothing (else the build stops, naming them)."""
    if problems := series_problems(fig):
        raise FigureProblem("; ".join(problems))
    return fig
