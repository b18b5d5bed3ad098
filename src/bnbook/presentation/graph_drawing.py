"""Draws a computational graph (derivations.graphs) with graphviz, legible in print.

Every op is one box together with the value it writes (``h1 = W1 X + b1``), inputs
and parameters are ellipses (parameters shaded) and the loss is doubly outlined.
Forward, every node shows its shape (edges stay unlabelled, which keeps the drawing
short enough to share a printed page); with ``backward=True`` the edges point back
and carry the gradient sent along them, in italics, and each box shows its local
derivative upright. Gradients are dark blue (near black in grayscale print: the
italics, not the hue, tell them apart); an input that receives no gradient (data,
such as the labels y) keeps a dotted forward edge. ``^{...}`` in a gradient prints
as a superscript.
"""

import html
import re

import graphviz

from bnbook.derivations.graphs import Computation

# The printed page (_config.yml): graphs are drawn 6.3 in wide, inside the 6.5 in text
# block; a graph taller than 7 in would leave no room on its page for the text that introduces it.
PAGE_WIDTH_IN = 6.3
MAX_HEIGHT_IN = 7.0
MIN_PRINTED_PT = 7.0
NODE_FONT_PT = 10
EDGE_FONT_PT = 9
FONT = "DejaVu Serif"


STYLE = {
    "input": {"shape": "ellipse"},
    "param": {"shape": "ellipse", "style": "filled", "fillcolor": "#dde8f4"},
    "value": {"shape": "box", "style": "rounded"},
    "loss": {"shape": "box", "style": "rounded", "peripheries": "2"},
}
BACKWARD_COLOR = "#08306b"  # dark blue: about 20% grey in black-and-white print
NO_GRADIENT_COLOR = "#404040"


def gradient_label(text: str) -> str:
    """A gradient as a graphviz HTML-like label: italic, ``^{...}`` as a superscript."""
    parts = re.split(r"\^\{([^}]*)\}", text)  # even: text, odd: superscripts
    body = "".join(
        f"<SUP>{html.escape(part)}</SUP>" if i % 2 else html.escape(part)
        for i, part in enumerate(parts)
    )
    return f"< <I>{body}</I> >"


def _spine(comp: Computation) -> set[str]:
    """The values on the longest path through the graph (for batch norm x, μ, σ², x̂, y,
    F): drawn in one straight column, so the edges that skip along it go round the
    column on either side instead of crossing it."""
    longest: dict[str, list[str]] = {}
    for v in comp.values:  # values are listed in order of computation
        op = comp.op_writing(v.name)
        before = max((longest[i] for i in op.inputs), key=len) if op else []
        longest[v.name] = [*before, v.name]
    return set(max(longest.values(), key=len))


def draw(comp: Computation, backward: bool = False) -> graphviz.Digraph:
    """The graph of ``comp``, top to bottom: forward (nodes labelled with shapes) or
    backward (edges labelled with the gradients sent back, boxes with local derivatives).

    Fonts are chosen so that, scaled to fit PAGE_WIDTH_IN x MAX_HEIGHT_IN, every label
    still prints at MIN_PRINTED_PT or more (tests/derivations/test_graphs.py measures it).
    """
    g = graphviz.Digraph(comp.title, format="svg")
    g.attr(rankdir="TB", size=f"{PAGE_WIDTH_IN},{MAX_HEIGHT_IN}", nodesep="0.2", ranksep="0.1")
    # Name the font the SVG will be rendered with (fontconfig's serif here), so the
    # boxes graphviz sizes are the boxes the text fills.
    g.attr("node", fontsize=str(NODE_FONT_PT), fontname=FONT, margin="0.1,0.03", height="0.3")
    g.attr("edge", fontsize=str(EDGE_FONT_PT), fontname=FONT, arrowsize="0.7")
    spine = _spine(comp)
    for v in comp.values:
        op = comp.op_writing(v.name)
        label = v.name if op is None else f"{v.name} = {op.label}"
        if not backward:  # an input's shape fits on its line; a box has two
            sep = "\n" if op is not None else " " if v.shape.startswith("(") else ", "
            label += f"{sep}{v.shape}"
        elif op is not None and op.local:
            label += f"\n{op.local}"
        group = {"group": "spine"} if v.name in spine else {}
        g.node(v.name, label, **STYLE[v.kind], **group)
    for op in comp.ops:
        for name, grad in zip(op.inputs, op.sends, strict=True):
            if backward and grad:
                # Same layout as the forward graph, arrows reversed: gradients flow back.
                g.edge(name, op.output, label=gradient_label(grad), color=BACKWARD_COLOR,
                       fontcolor=BACKWARD_COLOR, penwidth="1.3", dir="back")  # fmt: skip
            elif backward:  # read, but sent no gradient (data)
                g.edge(name, op.output, style="dotted", color=NO_GRADIENT_COLOR)
            else:
                g.edge(name, op.output)
    return g


def printed_font_sizes(svg: str, column_width_in: float = PAGE_WIDTH_IN) -> list[float]:
    """Size in pt of every text of a graphviz SVG as it prints: the SVG is included at
    its natural size, or scaled down to the column width if wider."""
    width_pt = float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))
    view_width = float(re.search(r'viewBox="[\d.\-]+ [\d.\-]+ ([\d.]+) ', svg).group(1))
    scale = (width_pt / view_width) * min(1.0, column_width_in * 72 / width_pt)
    return [float(s) * scale for s in re.findall(r'<text[^>]*font-size="([\d.]+)"', svg)]


# --- Problem 2: the network (batch of m examples as columns) -----------------------------
