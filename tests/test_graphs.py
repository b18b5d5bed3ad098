"""The graph descriptions and their drawing: counts, labels, validation, SVG output."""

import re
import shutil

import pytest

from bnbook.derivations.graphs import (
    BATCHNORM,
    COMPUTATIONS,
    NETWORK,
    SOFTMAX_CROSS_ENTROPY,
    Op,
    Tensor,
    draw,
)
from bnbook.derivations.graphs import Computation as Comp


def nodes_and_edges(dot_source: str) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Node ids and (tail, head, label) edges parsed back from graphviz source."""
    nodes = re.findall(r'^\t"?([^\s"]+)"? \[label=', dot_source, flags=re.M)
    edges = re.findall(r'^\t"?([^\s"]+)"? -> "?([^\s"]+)"? \[(.*)\]$', dot_source, flags=re.M)
    return nodes, [(a, b, re.search(r'label="([^"]*)"', attrs)) for a, b, attrs in edges]


@pytest.mark.parametrize(
    "comp, n_tensors, n_ops, n_edges",
    [(SOFTMAX_CROSS_ENTROPY, 4, 2, 5), (NETWORK, 15, 7, 21), (BATCHNORM, 8, 5, 15)],
)
def test_counts(comp, n_tensors, n_ops, n_edges):
    for backward in (False, True):
        nodes, edges = nodes_and_edges(draw(comp, backward=backward).source)
        assert len(nodes) == n_tensors + n_ops
        assert len(edges) == n_edges


def test_network_edges_carry_shapes_forward():
    nodes, edges = nodes_and_edges(draw(NETWORK).source)
    labels = {(a, b): m.group(1).strip() for a, b, m in edges}
    assert labels[("X", "linear1")] == "(N, D)"
    assert labels[("W1", "linear1")] == "(H1, D)"
    assert labels[("W3", "linear3")] == "(C, H2)"
    assert labels[("linear2", "h2")] == "(N, H2)"
    assert labels[("xent", "L")] == "()"
    source = draw(NETWORK).source
    assert "shape=box" in source and "shape=ellipse" in source
    assert source.count("shape=box") == 7  # one shape for every op


def test_network_backward_labels_gradients_and_local_derivatives():
    source = draw(NETWORK, backward=True).source
    nodes, edges = nodes_and_edges(source)
    labels = {(a, b): m.group(1).strip() for a, b, m in edges if m}
    assert labels[("W1", "linear1")] == "(∂L/∂h1)ᵀ X"
    assert labels[("linear3", "o")] == "∂L/∂o"
    assert labels[("o", "softmax")] == "(P − Y)/N"
    assert "a1 ⊙ (1 − a1)" in source and "1 − a2²" in source
    assert source.count("dir=back") == 21  # every edge points back


def test_batchnorm_reaches_y_from_x_by_three_paths():
    comp = BATCHNORM
    consumers = [op.name for op in comp.ops if "x" in op.inputs]
    assert sorted(consumers) == ["mean", "normalize", "variance"]
    normalize = next(op for op in comp.ops if op.name == "normalize")
    assert normalize.inputs == ("x", "μ", "σ²")
    sends = dict(zip(normalize.inputs, normalize.sends, strict=True))
    assert "−3/2" in sends["σ²"]


def test_every_description_is_consistent():
    for comp in COMPUTATIONS.values():
        produced = {op.output for op in comp.ops}
        for t in comp.tensors:
            assert (t.name in produced) == (t.kind not in ("input", "param")), t.name
        assert comp.rankdir in ("LR", "TB")


def test_descriptions_are_validated():
    x, y = Tensor("x", "(N,)", "input"), Tensor("y", "(N,)")
    with pytest.raises(ValueError, match="unknown"):
        Comp("bad", (x,), (Op("f", "f", ("x",), "y"),))
    with pytest.raises(ValueError, match="distinct"):
        Comp("bad", (x, y), (Op("y", "f", ("x",), "y"),))
    with pytest.raises(ValueError, match="one gradient per input"):
        Comp("bad", (x, y), (Op("f", "f", ("x",), "y", sends=("a", "b")),))


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz 'dot' not installed")
@pytest.mark.parametrize("name", sorted(COMPUTATIONS))
def test_renders_svg_within_page_width(name):
    for backward in (False, True):
        svg = draw(COMPUTATIONS[name], backward=backward).pipe(format="svg").decode()
        width = float(re.search(r'<svg width="([\d.]+)pt"', svg).group(1))
        height = float(re.search(r'height="([\d.]+)pt"', svg).group(1))
        assert 0 < width <= 6.3 * 72 + 1  # 16 cm
        assert 0 < height <= 9 * 72 + 1
        assert "<text" in svg
