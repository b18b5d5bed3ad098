"""Computational graphs as data: Problems 2 and 3's graphs, drawn by presentation.graph_drawing.

A computation is a list of nodes (inputs, parameters, the loss and what lies
between) and a list of ops, each reading some values and writing one, with its
local derivative and the gradient it sends back to each input. Notation as in
book/notation.md: the homework's ``h = W x + b`` with a batch of m examples as
columns, so X is (D, m); δ1 = ∂L/∂h1, δ2 = ∂L/∂h2, δo = ∂L/∂o.

``Node`` is a quantity of the drawing (a name and a shape), not a tf.Tensor and
not a value that carries a gradient (as in micrograd).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    """A node of the drawing: a named array with its shape, e.g. Node("h1", "(H1, m)")."""

    name: str
    shape: str
    kind: str = "value"  # "input", "param", "value" or "loss"


@dataclass(frozen=True)
class Op:
    """One operation: reads ``inputs``, writes ``output`` as ``label`` (e.g. "W1 X + b1").

    local: its local derivative, shown in backward mode; sends: the gradient it
    sends back to each input, in the order of ``inputs`` ("" for data that needs
    none, such as the labels y); ``^{...}`` marks a superscript.
    """

    label: str
    inputs: tuple[str, ...]
    output: str
    local: str = ""
    sends: tuple[str, ...] = ()


@dataclass(frozen=True)
class Computation:
    """Values and the ops between them, checked for consistency on creation."""

    title: str
    values: tuple[Node, ...]
    ops: tuple[Op, ...]

    def __post_init__(self):
        names = [v.name for v in self.values]
        if len(set(names)) != len(names):
            raise ValueError("value names must be distinct")
        produced = [op.output for op in self.ops]
        if len(set(produced)) != len(produced):
            raise ValueError("each value is written by at most one op")
        for op in self.ops:
            missing = {*op.inputs, op.output} - set(names)
            if missing:
                raise ValueError(f"op {op.label!r} uses unknown values {sorted(missing)}")
            if len(op.sends) != len(op.inputs):
                raise ValueError(f"op {op.label!r}: one gradient per input")
        for v in self.values:
            if (v.name in produced) == (v.kind in ("input", "param")):
                raise ValueError(f"value {v.name}: only inputs and parameters have no op")

    def op_writing(self, name: str) -> Op | None:
        """The op whose output is the value ``name`` (None for inputs and parameters)."""
        return next((op for op in self.ops if op.output == name), None)


def _linear(i: int, x: str, out: str, width: str, fan_in: str) -> tuple[tuple, Op]:
    values = (
        Node(f"W{i}", f"({width}, {fan_in})", "param"),
        Node(f"b{i}", f"({width}, 1)", "param"),
    )
    d = "δo" if out == "o" else f"δ{i}"
    op = Op(
        f"W{i} {x} + b{i}",
        (x, f"W{i}", f"b{i}"),
        out,
        f"(∂{out}/∂{x})ᵀ = W{i}ᵀ,  ∂{out}/∂b{i} = 1",
        (f"W{i}ᵀ {d}", f"{d} {x}ᵀ", f"Σ over batch of {d}"),
    )
    return values, op


_L1, _OP1 = _linear(1, "X", "h1", "H1", "D")
_L2, _OP2 = _linear(2, "a1", "h2", "H2", "H1")
_L3, _OP3 = _linear(3, "a2", "o", "C", "H2")

NETWORK = Computation(
    "network",
    values=(
        Node("X", "(D, m)", "input"),
        *_L1,
        Node("h1", "(H1, m)"),
        Node("a1", "(H1, m)"),
        *_L2,
        Node("h2", "(H2, m)"),
        Node("a2", "(H2, m)"),
        *_L3,
        Node("o", "(C, m)"),
        Node("p", "(C, m)"),
        Node("y", "(C, m)", "input"),
        Node("L", "scalar", "loss"),
    ),
    ops=(
        _OP1,
        Op(
            "sigmoid(h1)",
            ("h1",),
            "a1",
            "∂a1/∂h1 = a1 ⊙ (1 − a1)",
            ("δ1 = ∂L/∂a1 ⊙ a1 ⊙ (1 − a1)",),
        ),
        _OP2,
        Op("tanh(h2)", ("h2",), "a2", "∂a2/∂h2 = 1 − a2 ⊙ a2", ("δ2 = ∂L/∂a2 ⊙ (1 − a2 ⊙ a2)",)),
        _OP3,
        Op("softmax(o)", ("o",), "p", "∂p/∂o = diag(p) − p pᵀ", ("δo = (p − y)/m",)),
        Op("−(1/m) Σ y log p", ("p", "y"), "L", "∂L/∂L = 1", ("∂L/∂p = −y/(m p)", "")),
    ),
)

# --- Problem 3: batch normalization of one feature over a batch of m ----------------------

BATCHNORM = Computation(
    "batchnorm",
    values=(
        Node("x", "(m)", "input"),
        Node("μ", "scalar"),
        Node("σ²", "scalar"),
        Node("x̂", "(m)"),
        Node("γ", "scalar", "param"),
        Node("β", "scalar", "param"),
        Node("y", "(m)"),
        Node("F", "scalar", "loss"),
    ),
    ops=(
        Op("(1/m) Σᵢ xᵢ", ("x",), "μ", "∂μ/∂xᵢ = 1/m", ("(1/m) ∂F/∂μ",)),
        Op(
            "(1/m) Σᵢ (xᵢ − μ)²",
            ("x", "μ"),
            "σ²",
            "∂σ²/∂xᵢ = 2(xᵢ − μ)/m",
            ("∂F/∂σ² · 2(xᵢ − μ)/m", "∂F/∂σ² · (−2/m) Σᵢ (xᵢ − μ) = 0"),
        ),
        Op(
            "(x − μ) / √(σ² + ε)",
            ("x", "μ", "σ²"),
            "x̂",
            "∂x̂ᵢ/∂xᵢ = 1/√(σ² + ε)",
            (
                "∂F/∂x̂ᵢ / √(σ² + ε)",
                "−Σᵢ ∂F/∂x̂ᵢ / √(σ² + ε)",
                "−½ Σᵢ ∂F/∂x̂ᵢ (xᵢ − μ) (σ² + ε)^{−3/2}",
            ),
        ),
        Op(
            "γ x̂ + β",
            ("x̂", "γ", "β"),
            "y",
            "∂yᵢ/∂x̂ᵢ = γ",
            ("γ ∂F/∂yᵢ", "Σᵢ ∂F/∂yᵢ x̂ᵢ", "Σᵢ ∂F/∂yᵢ"),
        ),
        Op("F(y)", ("y",), "F", "∂F/∂F = 1", ("∂F/∂yᵢ (given)",)),
    ),
)

COMPUTATIONS = {c.title: c for c in (NETWORK, BATCHNORM)}
