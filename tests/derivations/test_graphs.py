"""The graph descriptions and their drawing: counts, labels, validation, and the
printed size of every label (>= 7 pt on the page, graphs no taller than 7 in)."""

import html
import re
import shutil

import pytest

from bnbook.derivations.graphs import BATCHNORM, COMPUTATIONS, NETWORK, Computation, Node, Op
from bnbook.presentation.graph_drawing import (
    BACKWARD_COLOR,
    MAX_HEIGHT_IN,
    MIN_PRINTED_PT,
    PAGE_WIDTH_IN,
    draw,
    printed_font_sizes,
)

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed")


def nodes_and_edges(dot_source: str) -> tuple[list[str], dict[tuple[str, str], str]]:
    """Node ids and {(tail, head): label} parsed back from graphviz source."""
    nodes = re.findall(r'^\t"?([^\s"]+)"? \[label=', dot_source, flags=re.M)
    edge = r'^\t"?([^\s"]+)"? -> "?([^\s"]+)"?(?: \[(.*)\])?$'
    edges = re.findall(edge, dot_source, flags=re.M)
    labels = {}
    for a, b, attrs in edges:
        m = re.search(r'label="([^"]*)"', attrs) or re.search(r"label=<(.*)> ", attrs)
        text = html.unescape(re.sub(r"<[^>]*>", "", m.group(1))) if m else ""  # HTML-like
        labels[(a, b)] = text.strip()
    return nodes, labels


@pytest.mark.parametrize("comp, n_values, n_edges", [(NETWORK, 15, 14), (BATCHNORM, 8, 10)])
def test_counts(comp, n_values, n_edges):
    for backward in (False, True):
        nodes, edges = nodes_and_edges(draw(comp, backward=backward).source)
        assert len(nodes) == n_values  # one box per op, drawn with the value it writes
        assert len(edges) == n_edges


def test_network_forward_nodes_carry_homework_shapes():
    source = draw(NETWORK).source
    assert '"X (D, m)"' in source  # the homework's W1 X, examples as columns
    assert '"W1 (H1, D)"' in source and '"W3 (C, H2)"' in source
    assert '"h1 = W1 X + b1\n(H1, m)"' in source
    assert '"L = −(1/m) Σ y log p\nscalar"' in source
    assert source.count("shape=box") == len(NETWORK.ops)  # one box per op


def test_network_backward_labels_carry_transposes():
    source = draw(NETWORK, backward=True).source
    _, labels = nodes_and_edges(source)
    assert labels[("X", "h1")] == "W1ᵀ δ1"
    assert labels[("W1", "h1")] == "δ1 Xᵀ"
    assert labels[("a2", "o")] == "W3ᵀ δo"
    assert labels[("o", "p")] == "δo = (p − y)/m"  # one spelling, as in the chapters
    assert "(∂h1/∂X)ᵀ = W1ᵀ" in source
    assert "∂L/∂L = 1" in source
    assert source.count("dir=back") == 13  # every edge points back, but the labels':
    assert labels[("y", "L")] == ""  # y is data: a dotted forward edge, no gradient
    assert re.search(r"^\ty -> L \[.*style=dotted", source, flags=re.M)


def relative_luminance(hex_color: str) -> float:
    """WCAG relative luminance of "#rrggbb" (0 black, 1 white): its grey in print."""
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.mark.parametrize("comp", [NETWORK, BATCHNORM])
def test_gradients_stay_legible_in_black_and_white(comp):
    """Dark enough to print as near-black grey, and set apart by italics, not by hue."""
    assert relative_luminance(BACKWARD_COLOR) < 0.05  # contrast > 10:1 on white
    source = draw(comp, backward=True).source
    gradient_edges = re.findall(r"^\t.* -> .*dir=back.*$", source, flags=re.M)
    assert gradient_edges and all("<I>" in edge for edge in gradient_edges)
    assert "<I>" not in draw(comp).source  # forward graphs: no gradients


def test_powers_print_as_superscripts():
    source = draw(BATCHNORM, backward=True).source
    assert "^(" not in source and "^{" not in source
    assert "(σ² + ε)<SUP>−3/2</SUP>" in source


def test_one_batch_size_symbol():
    for comp in COMPUTATIONS.values():
        for backward in (False, True):
            source = draw(comp, backward=backward).source
            assert not re.search(r"\bN\b", source), comp.title  # m, as in the homework


def test_batchnorm_reaches_xhat_from_x_by_four_paths():
    def paths(src: str, dst: str) -> int:
        if src == dst:
            return 1
        return sum(paths(op.output, dst) for op in BATCHNORM.ops if src in op.inputs)

    assert paths("x", "x̂") == 4  # direct, via μ, via σ², via μ -> σ²
    assert paths("x", "F") == 4
    variance = BATCHNORM.op_writing("σ²")
    assert variance.sends[variance.inputs.index("μ")].endswith("= 0")  # x -> μ -> σ² adds 0
    assert "∂F/∂F = 1" in draw(BATCHNORM, backward=True).source


def test_descriptions_are_validated():
    x, y = Node("x", "(m)", "input"), Node("y", "(m)")
    with pytest.raises(ValueError, match="unknown"):
        Computation("bad", (x,), (Op("f", ("x",), "y", sends=("g",)),))
    with pytest.raises(ValueError, match="distinct"):
        Computation("bad", (x, x), ())
    with pytest.raises(ValueError, match="one gradient per input"):
        Computation("bad", (x, y), (Op("f", ("x",), "y", sends=("a", "b")),))
    with pytest.raises(ValueError, match="no op"):
        Computation("bad", (x, y), ())


def svg_of(name: str, backward: bool) -> str:
    return draw(COMPUTATIONS[name], backward=backward).pipe(format="svg").decode()


@needs_dot
@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("name", sorted(COMPUTATIONS))
def test_every_label_prints_at_least_7pt_within_the_page(name, backward):
    svg = svg_of(name, backward)
    width = float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))
    height = float(re.search(r'height="([\d.]+)pt"', svg).group(1))
    assert 0 < width <= PAGE_WIDTH_IN * 72 + 1
    assert 0 < height <= MAX_HEIGHT_IN * 72 + 1
    sizes = printed_font_sizes(svg)
    assert len(sizes) >= len(COMPUTATIONS[name].values)
    assert min(sizes) >= MIN_PRINTED_PT


def test_printed_font_sizes_scales_wide_svgs_to_the_column():
    # A 906 pt wide SVG drawn at 1:2 inside it, then scaled to a 453.6 pt column: 14 pt -> 3.5 pt.
    svg = (
        '<svg width="906pt" height="100pt" viewBox="0 0 1812 200"><text font-size="14.00">a</text>'
    )
    assert printed_font_sizes(svg) == pytest.approx([14 * 0.5 * 453.6 / 906])
