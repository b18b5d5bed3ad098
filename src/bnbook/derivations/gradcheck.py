"""Checking hand-derived gradients: relative error, central differences, and the
comparison table the derivation chapters print (ours vs tf.GradientTape vs
central differences).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bnbook import tables
from bnbook.derivations import autodiff, reference


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest elementwise relative error, max |a-b| / max(1e-8, |a|+|b|) (CS231n)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)), initial=0.0))


# Central-difference weights c_k for f'(x) ~ sum_k c_k (f(x + k h) - f(x - k h)) / h.
# Order 2 is the textbook (f(x+h) - f(x-h)) / 2h; order 8 cancels the h^2 ... h^6 error
# terms (Fornberg's weights), so a large step can be used and rounding stays small.
CENTRAL_WEIGHTS = {
    2: ((1, 1 / 2),),
    4: ((1, 2 / 3), (2, -1 / 12)),
    8: ((1, 4 / 5), (2, -1 / 5), (3, 4 / 105), (4, -1 / 280)),
}


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, h: float = 1e-2, order: int = 8
) -> np.ndarray:
    """Gradient of the scalar f() with respect to the float64 array x, by central
    differences, one element at a time.

    f takes no arguments and reads x, which is perturbed in place and restored.
    With order=2, h=1e-5 (the textbook choice) the error is about 1e-10 absolute,
    i.e. relative errors up to ~1e-7 on small entries; order=8, h=1e-2 brings it
    to about 1e-14, which the 1e-8 bar of the tests needs. Returns an array shaped like x.
    """
    if x.dtype != np.float64:
        raise TypeError("numerical_gradient needs a float64 array")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        x0 = float(x[index])
        total = 0.0
        try:
            for k, weight in CENTRAL_WEIGHTS[order]:
                x[index] = x0 + k * h
                f_plus = float(f())
                x[index] = x0 - k * h
                f_minus = float(f())
                total += weight * (f_plus - f_minus)
        finally:
            x[index] = x0
        grad[index] = total / h
    return grad


def _html_table(columns, cells) -> str:
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in cells)
    table = '<table class="docutils align-default">'  # styled like the book's tables
    return f"{table}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class GradientTable:
    """Rows of {"case" (optional), "gradient", "shape", "vs tf.GradientTape",
    "vs central differences"}, shown as a table in both the HTML and the PDF book."""

    rows: list[dict]

    ERRORS = ("vs tf.GradientTape", "vs central differences")

    @property
    def columns(self) -> tuple[str, ...]:
        """The table's columns: the case (when rows have one), gradient, shape, the errors."""
        case = ("case",) if any("case" in row for row in self.rows) else ()
        return (*case, "gradient", "shape", *self.ERRORS)

    def worst(self, column: str | None = None, gradient: str | None = None) -> float:
        """Worst relative error in one comparison column (or both), for one gradient
        (or all)."""
        columns = [column] if column else list(self.ERRORS)
        rows = [r for r in self.rows if gradient is None or r["gradient"] == gradient]
        return max(row[c] for row in rows for c in columns)

    def _cells(self) -> list[list[str]]:
        return [
            [f"{r[c]:.1e}" if c in self.ERRORS else str(r.get(c, "")) for c in self.columns]
            for r in self.rows
        ]

    def _repr_markdown_(self) -> str:
        return tables.markdown(list(self.columns), self._cells())

    def _repr_html_(self) -> str:
        return _html_table(self.columns, self._cells())

    def __repr__(self) -> str:
        return self._repr_markdown_()


def stack_tables(cases: dict[str, GradientTable]) -> GradientTable:
    """One table from several, each row tagged with the name of its case."""
    return GradientTable([{"case": case, **row} for case, t in cases.items() for row in t.rows])


def check_cases(check, make_inputs, rng: np.random.Generator, cases: dict) -> GradientTable:
    """`check(*make_inputs(rng, *case))` for each named case, in order, as one table."""
    return stack_tables({name: check(*make_inputs(rng, *case)) for name, case in cases.items()})


def gradient_table(
    ours: dict[str, np.ndarray], autodiff_grads: dict[str, np.ndarray], numerical: dict
) -> GradientTable:
    """One row per gradient name: its shape and our relative error against each reference."""
    rows = [
        {
            "gradient": name,
            "shape": str(tuple(ours[name].shape)),
            "vs tf.GradientTape": rel_error(ours[name], autodiff_grads[name]),
            "vs central differences": rel_error(ours[name], numerical[name]),
        }
        for name in ours
    ]
    return GradientTable(rows)


def check_softmax_cross_entropy(o: np.ndarray, y: np.ndarray) -> GradientTable:
    """Problem 1: our dL/do (o, y (N, C)) against autodiff and central differences."""
    o = np.array(o, dtype=np.float64)
    _, do = reference.softmax_cross_entropy(o, y)
    _, do_tf = autodiff.tf_softmax_cross_entropy(o, y)
    do_num = numerical_gradient(lambda: reference.softmax_cross_entropy(o, y)[0], o)
    return gradient_table({"dL/do": do}, {"dL/do": do_tf}, {"dL/do": do_num})


def check_network(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> GradientTable:
    """Problem 2: our six gradients against autodiff and central differences."""
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    _, cache = reference.network_forward(params, X)
    ours = reference.network_backward(cache, Y)
    _, tf_grads = autodiff.tf_network_gradients(params, X, Y)
    numerical = {
        "d" + k: numerical_gradient(lambda: reference.network_loss(params, X, Y), params[k])
        for k in reference.PARAM_NAMES
    }
    label = {f"d{k}": f"dL/d{k}" for k in reference.PARAM_NAMES}  # dW1 -> dL/dW1
    return gradient_table(
        {label[n]: ours[n] for n in label},
        {label[n]: tf_grads[n] for n in label},
        {label[n]: numerical[n] for n in label},
    )


def check_batchnorm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, dy: np.ndarray
) -> GradientTable:
    """Problem 3: both backward forms against autodiff and central differences of
    F = sum(y * dy), whose dF/dy is dy. x, dy (N, D); gamma, beta (D,)."""
    x, gamma, beta = (np.array(a, dtype=np.float64) for a in (x, gamma, beta))
    _, cache = reference.batchnorm_forward(x, gamma, beta, eps)
    node_by_node = reference.batchnorm_backward(dy, cache)
    compact = reference.batchnorm_backward_compact(dy, cache)
    tf_grads = autodiff.tf_batchnorm_gradients(x, gamma, beta, eps, dy)

    def F() -> float:
        return float(np.sum(reference.batchnorm_forward(x, gamma, beta, eps)[0] * dy))

    numerical = [numerical_gradient(F, a) for a in (x, gamma, beta)]
    names = ("dF/dx", "dF/dgamma", "dF/dbeta")
    ours, tf_ref, num = {}, {}, {}
    for form, grads in (("node by node", node_by_node), ("compact", compact)):
        for name, g, g_tf, g_num in zip(names, grads, tf_grads, numerical, strict=True):
            key = f"{name} ({form})"
            ours[key], tf_ref[key], num[key] = g, g_tf, g_num
    return gradient_table(ours, tf_ref, num)


# --- Problem 3's graph with numbers --------------------------------------------------------


@dataclass(frozen=True)
class WorkedExample:
    """One feature's batch through batch norm: each node's forward value and the gradient
    dF/d(node) the backward pass leaves there (rows of node, value, gradient), and how
    far the three terms reaching x are from the compact form's dF/dx."""

    rows: list[tuple[str, str, str]]
    vs_compact: float
    sum_dx: float

    COLUMNS = ("node", "forward value", "∂F/∂(node)")

    def _repr_markdown_(self) -> str:
        return tables.markdown(list(self.COLUMNS), [list(r) for r in self.rows])

    def _repr_html_(self) -> str:
        return _html_table(self.COLUMNS, self.rows)


def batchnorm_worked_example(
    x: list[float], gamma: float, beta: float, eps: float, dy: list[float]
) -> WorkedExample:
    """Problem 3 by the numbers, as CS231n annotates its circuits: x and dy = dF/dy
    (the given gradient) are one feature's m values; F = sum_i y_i dy_i. Computed by
    reference.batchnorm_forward and batchnorm_backward_nodes; 4 significant digits."""
    x, dy = (np.asarray(a, dtype=np.float64).reshape(-1, 1) for a in (x, dy))  # (m, 1)
    y, cache = reference.batchnorm_forward(x, np.array([gamma]), np.array([beta]), eps)
    g = reference.batchnorm_backward_nodes(dy, cache)
    dx_compact = reference.batchnorm_backward_compact(dy, cache)[0]

    def show(a) -> str:
        a = np.ravel(a)
        a = a + 0.0  # -0.0 prints as 0
        return ", ".join(f"{v:.4g}" for v in a) if a.size > 1 else f"{a[0]:.4g}"

    rows = [
        ("x", show(x), f"{show(g.dx)} (sum of the next 3 rows)"),
        ("… from x̂ (directly)", "", show(g.dx_direct)),
        ("… from σ²", "", show(g.dx_via_var)),
        ("… from μ", "", show(g.dx_via_mu)),
        ("μ", show(cache.mu), show(g.dmu)),
        ("σ²", show(cache.var), show(g.dvar)),
        ("x̂", show(cache.x_hat), show(g.dx_hat)),
        ("γ", show(gamma), show(g.dgamma)),
        ("β", show(beta), show(g.dbeta)),
        ("y", show(y), f"{show(dy)} (given)"),
        ("F = Σᵢ yᵢ ∂F/∂yᵢ", show(np.sum(y * dy)), "1"),
    ]
    return WorkedExample(rows, rel_error(g.dx, dx_compact), float(abs(g.dx.sum())))


# --- Random inputs for the checks ---------------------------------------------------------
# Central differences in float64 resolve a derivative to about 1e-14 in absolute terms,
# so an elementwise relative error below 1e-8 needs gradient entries above about 1e-6.
# The inputs below keep entries that size in all but rare draws (no saturated units, no
# constant batch-norm columns); tf.GradientTape, exact up to rounding, has no such limit.


def random_softmax_inputs(
    rng: np.random.Generator, N: int, C: int, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Logits o (N, C) with unit spread around ``shift`` (use shift > 710 to overflow a
    naive exp in float64) and one-hot targets y (N, C)."""
    o = rng.normal(size=(N, C)) + shift
    y = np.eye(C)[rng.integers(0, C, size=N)]
    return o, y


def random_network_inputs(
    rng: np.random.Generator, N: int, D: int, H1: int, H2: int, C: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """params (W1 (H1, D) ... b3 (C,)), X (N, D) and one-hot Y (N, C), all float64."""
    shapes = {"W1": (H1, D), "b1": (H1,), "W2": (H2, H1), "b2": (H2,), "W3": (C, H2), "b3": (C,)}
    fan_in = {"W1": D, "b1": D, "W2": H1, "b2": H1, "W3": H2, "b3": H2}
    # Scaled like a freshly initialised network, so pre-activations are O(1).
    params = {n: rng.normal(size=s) / np.sqrt(fan_in[n]) for n, s in shapes.items()}
    X = rng.normal(size=(N, D))
    Y = np.eye(C)[rng.integers(0, C, size=N)]
    return params, X, Y


def random_batchnorm_inputs(
    rng: np.random.Generator, N: int, D: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x (N, D), gamma (D,), beta (D,), dy (N, D); N >= 2.

    Each column of x gets a random mean and a standard deviation in [0.3, 1.5], so that
    no column is (nearly) constant. For N = 2 the normalised output is about +-1 whatever
    x is and dx shrinks like eps / spread^3: check N = 2 with eps >= 1e-3 (Keras's
    default) so central differences can still resolve dx.
    """
    z = rng.normal(size=(N, D))
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    x = rng.normal(size=D) + rng.uniform(0.3, 1.5, size=D) * z
    gamma, beta = rng.normal(size=D), rng.normal(size=D)
    dy = rng.normal(size=(N, D))
    return x, gamma, beta, dy


def batchnorm_identities(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, dy: np.ndarray
) -> dict[str, np.ndarray]:
    """Problem 3's two identities on one batch, per feature (each (D,)):
    "sum dx" = sum_i dF/dx_i (exactly 0), "sum x_hat dx" = sum_i x_hat_i dF/dx_i, and
    "predicted" = gamma eps (var + eps)^(-3/2) sum_i dF/dy_i x_hat_i, its exact value
    (0 when eps = 0). x, dy (N, D); gamma, beta (D,); eps >= 0."""
    _, cache = reference.batchnorm_forward(x, gamma, beta, eps)
    dx, dgamma, _ = reference.batchnorm_backward_compact(dy, cache)
    return {
        "sum dx": dx.sum(axis=0),
        "sum x_hat dx": (cache.x_hat * dx).sum(axis=0),
        "predicted": cache.gamma * eps * cache.inv_std**3 * dgamma,
    }
