"""Computational graphs as data, and the one function that draws them.

A computation is a list of tensors (inputs, parameters, intermediate values, the
loss) and a list of ops, each reading some tensors and writing one. ``draw`` turns
it into a graphviz.Digraph: tensors are ellipses (parameters shaded), ops are boxes,
and every edge carries the shape of the tensor flowing along it. With
``backward=True`` the edges point the other way and carry the gradient sent back
along them, and each op shows its local derivative. Shapes use batches as rows:
N batch, D features, H1/H2 hidden, C classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import graphviz


@dataclass(frozen=True)
class Tensor:
    name: str  # node id and label, e.g. "h1"
    shape: str  # e.g. "(N, H1)"
    kind: str = "value"  # "input", "param", "value" or "loss"
    grad: str = ""  # the gradient arriving at this tensor, e.g. "∂L/∂h1"


@dataclass(frozen=True)
class Op:
    name: str  # node id, unique
    label: str  # what it computes, e.g. "sigmoid"
    inputs: tuple[str, ...]
    output: str
    local: str = ""  # its local derivative(s), shown in backward mode
    sends: tuple[str, ...] = ()  # gradient sent back to each input, in backward mode


@dataclass(frozen=True)
class Computation:
    title: str
    tensors: tuple[Tensor, ...]
    ops: tuple[Op, ...]
    rankdir: str = "LR"

    def __post_init__(self):
        names = [t.name for t in self.tensors]
        node_ids = names + [op.name for op in self.ops]  # one graphviz namespace
        if len(set(node_ids)) != len(node_ids):
            raise ValueError("tensor and op names must all be distinct")
        produced = [op.output for op in self.ops]
        if len(set(produced)) != len(produced):
            raise ValueError("each tensor is written by at most one op")
        for op in self.ops:
            missing = {*op.inputs, op.output} - set(names)
            if missing:
                raise ValueError(f"op {op.name} uses unknown tensors {sorted(missing)}")
            if op.sends and len(op.sends) != len(op.inputs):
                raise ValueError(f"op {op.name}: one gradient per input")


STYLE = {
    "input": {"shape": "ellipse"},
    "param": {"shape": "ellipse", "style": "filled", "fillcolor": "#dde8f4"},
    "value": {"shape": "ellipse"},
    "loss": {"shape": "ellipse", "peripheries": "2"},
}
BACKWARD_COLOR = "#b2182b"


def draw(comp: Computation, backward: bool = False, width_in: float = 6.3) -> graphviz.Digraph:
    """The graph of ``comp``: forward (edges labelled with shapes) or backward (edges
    labelled with gradients, ops with local derivatives). At most width_in inches wide
    (6.3 in = 16 cm, a printed page)."""
    g = graphviz.Digraph(comp.title, format="svg")
    # At most 7 in tall, so a graph shares its printed page with the text that introduces it.
    g.attr(rankdir=comp.rankdir, size=f"{width_in},7", nodesep="0.25", ranksep="0.3")
    g.attr("node", fontsize="12")
    g.attr("edge", fontsize="10")
    tensors = {t.name: t for t in comp.tensors}
    for t in comp.tensors:
        g.node(t.name, t.name, **STYLE[t.kind])
    for op in comp.ops:
        label = f"{op.label}\n{op.local}" if backward and op.local else op.label
        g.node(op.name, label, shape="box", style="rounded")
        if backward:
            # Same layout as the forward graph, arrows reversed: gradients flow back.
            color = {"color": BACKWARD_COLOR, "fontcolor": BACKWARD_COLOR, "dir": "back"}
            sends = op.sends or ("",) * len(op.inputs)
            for name, grad in zip(op.inputs, sends, strict=True):
                g.edge(name, op.name, label=f" {grad} " if grad else "", **color)
            g.edge(op.name, op.output, label=f" {tensors[op.output].grad} ", **color)
        else:
            for name in op.inputs:
                g.edge(name, op.name, label=f" {tensors[name].shape} ")
            g.edge(op.name, op.output, label=f" {tensors[op.output].shape} ")
    return g


# --- Problem 1: softmax + cross-entropy ---------------------------------------------------

SOFTMAX_CROSS_ENTROPY = Computation(
    "softmax_cross_entropy",
    tensors=(
        Tensor("o", "(N, C)", "input", "∂L/∂o = (p − y)/N"),
        Tensor("y", "(N, C)", "input"),
        Tensor("p", "(N, C)", grad="∂L/∂p = −y/(N p)"),
        Tensor("L", "()", "loss", "∂L/∂L = 1"),
    ),
    ops=(
        Op("softmax", "softmax", ("o",), "p", "∂p_i/∂o_j = p_i(δ_ij − p_j)", ("(p − y)/N",)),
        Op(
            "xent",
            "cross-entropy\n−(1/N) Σ y log p",
            ("p", "y"),
            "L",
            "∂L/∂p_c = −y_c/(N p_c)",
            ("∂L/∂p", ""),
        ),
    ),
)

# --- Problem 2: the network ---------------------------------------------------------------


def _linear(i: int, out: str, width: str, fan_in: str) -> tuple[Tensor, ...]:
    return (
        Tensor(f"W{i}", f"({width}, {fan_in})", "param", f"∂L/∂W{i}"),
        Tensor(f"b{i}", f"({width},)", "param", f"∂L/∂b{i}"),
        Tensor(out, f"(N, {width})", grad=f"∂L/∂{out}"),
    )


def _linear_op(i: int, x: str, out: str) -> Op:
    return Op(
        f"linear{i}",
        f"{x} W{i}ᵀ + b{i}",
        (x, f"W{i}", f"b{i}"),
        out,
        f"∂{out}/∂{x} = W{i}, ∂{out}/∂W{i} = {x}",
        (f"∂L/∂{out} W{i}", f"(∂L/∂{out})ᵀ {x}", f"Σ_n ∂L/∂{out}"),
    )


NETWORK = Computation(
    "network",
    tensors=(
        Tensor("X", "(N, D)", "input"),
        *_linear(1, "h1", "H1", "D"),
        Tensor("a1", "(N, H1)", grad="∂L/∂a1"),
        *_linear(2, "h2", "H2", "H1"),
        Tensor("a2", "(N, H2)", grad="∂L/∂a2"),
        *_linear(3, "o", "C", "H2"),
        Tensor("p", "(N, C)", grad="∂L/∂p"),
        Tensor("Y", "(N, C)", "input"),
        Tensor("L", "()", "loss", "1"),
    ),
    ops=(
        _linear_op(1, "X", "h1"),
        Op("sigmoid", "sigmoid", ("h1",), "a1", "a1 ⊙ (1 − a1)", ("∂L/∂a1 ⊙ a1(1 − a1)",)),
        _linear_op(2, "a1", "h2"),
        Op("tanh", "tanh", ("h2",), "a2", "1 − a2²", ("∂L/∂a2 ⊙ (1 − a2²)",)),
        _linear_op(3, "a2", "o"),
        Op("softmax", "softmax", ("o",), "p", "Problem 1", ("(P − Y)/N",)),
        Op("xent", "cross-entropy", ("p", "Y"), "L", "", ("∂L/∂p", "")),
    ),
    rankdir="TB",
)

# --- Problem 3: batch normalization -------------------------------------------------------

BATCHNORM = Computation(
    "batchnorm",
    tensors=(
        Tensor("x", "(N, D)", "input", "∂F/∂x"),
        Tensor("μ", "(D,)", grad="∂F/∂μ"),
        Tensor("σ²", "(D,)", grad="∂F/∂σ²"),
        Tensor("x̂", "(N, D)", grad="∂F/∂x̂ = γ ∂F/∂y"),
        Tensor("γ", "(D,)", "param", "∂F/∂γ"),
        Tensor("β", "(D,)", "param", "∂F/∂β"),
        Tensor("y", "(N, D)", grad="∂F/∂y (given)"),
        Tensor("F", "()", "loss", "1"),
    ),
    ops=(
        Op("mean", "mean over N", ("x",), "μ", "∂μ/∂x_i = 1/N", ("(1/N) ∂F/∂μ",)),
        Op(
            "variance",
            "(1/N) Σ (x_i − μ)²",
            ("x", "μ"),
            "σ²",
            "∂σ²/∂x_i = 2(x_i − μ)/N",
            ("∂F/∂σ² · 2(x_i − μ)/N", "∂F/∂σ² · (−2/N) Σ (x_i − μ) = 0"),
        ),
        Op(
            "normalize",
            "(x − μ) / √(σ² + ε)",
            ("x", "μ", "σ²"),
            "x̂",
            "∂x̂_i/∂x_i = 1/√(σ²+ε)",
            ("∂F/∂x̂_i / √(σ²+ε)", "−Σ ∂F/∂x̂_i / √(σ²+ε)", "−½ Σ ∂F/∂x̂_i (x_i − μ)(σ²+ε)^−3/2"),
        ),
        Op(
            "scale_shift",
            "γ x̂ + β",
            ("x̂", "γ", "β"),
            "y",
            "∂y/∂x̂ = γ",
            ("γ ∂F/∂y", "Σ ∂F/∂y_i x̂_i", "Σ ∂F/∂y_i"),
        ),
        Op("apply_F", "F(y)", ("y",), "F", "", ("∂F/∂y",)),
    ),
    rankdir="TB",
)

COMPUTATIONS = {c.title: c for c in (SOFTMAX_CROSS_ENTROPY, NETWORK, BATCHNORM)}
