"""The inputs each check runs the learner's function on, and the answers it must give.

Every case has its own seed, so a message names a case the learner can reproduce.
Each output the learner must (or may) return has its value from the float64
reference (`derivations.reference`), where the reference computes it, and its
central-difference estimate (`derivations.gradcheck.numerical_gradient`) of the loss,
or of F = sum(y * dy) for batch norm, as a function of that value. For the values
in between (do, da2, ..., dmu) that function is the homework's forward equations from
that value on; the reference's backward passes keep them to themselves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from bnbook.derivations import gradcheck, reference

SEED = 2018


@dataclass(frozen=True)
class Expected:
    """One output: its reference value (None if the reference computes no such value),
    its central-difference estimate, and whether the learner must return it."""

    reference: np.ndarray | None
    numerical: np.ndarray
    required: bool = True


@dataclass(frozen=True)
class Case:
    """One call of the learner's function: a label for messages ("N=4, C=3"), the
    arguments, and the expected outputs by name, in backprop order."""

    label: str
    args: tuple
    expected: dict[str, Expected]

    def fresh_args(self) -> tuple:
        """A copy of the arguments, so a function that changes its inputs changes nothing here."""
        return copy.deepcopy(self.args)


def _rng(case: int) -> np.random.Generator:
    """The random numbers of one case (its own seed)."""
    return np.random.default_rng(SEED + case)


def _numerical(f: Callable[[np.ndarray], float], at: np.ndarray, h: float = 1e-2) -> np.ndarray:
    """Central differences of the scalar f at a copy of `at`."""
    x = np.array(at, dtype=np.float64)
    return gradcheck.numerical_gradient(lambda: f(x), x, h=h)


# --- Problem 1 ----------------------------------------------------------------------------
SOFTMAX_SHAPES = ((4, 3, 0.0), (1, 5, 0.0), (5, 2, 0.0), (3, 4, 1000.0), (2, 10, -1000.0))


def _softmax_case(rng: np.random.Generator, N: int, C: int, shift: float) -> Case:
    o, y = gradcheck.random_softmax_inputs(rng, N, C, shift)
    _, do = reference.softmax_cross_entropy(o, y)
    numerical = _numerical(lambda o_: reference.softmax_cross_entropy(o_, y)[0], o)
    label = f"N={N}, C={C}" + (f", logits near {shift:+g}" if shift else "")
    return Case(label, (o, y), {"dL/do": Expected(do, numerical)})


@cache
def softmax_cases() -> tuple[Case, ...]:
    """(o (N, C), y (N, C)) -> dL/do; N = 1, C = 2 and logits near +-1000 included."""
    return tuple(_softmax_case(_rng(i), *shape) for i, shape in enumerate(SOFTMAX_SHAPES))


# --- Problem 2 ----------------------------------------------------------------------------
NETWORK_SHAPES = ((4, 3, 5, 4, 3), (1, 2, 3, 3, 2), (6, 4, 3, 3, 3), (2, 5, 4, 2, 4))
NETWORK_ORDER = ("do", "dW3", "db3", "da2", "dh2", "dW2", "db2", "da1", "dh1", "dW1", "db1")
NETWORK_INTERMEDIATES = ("do", "da2", "dh2", "da1", "dh1")


def _network_tails(params: dict, Y: np.ndarray) -> dict[str, Callable]:
    """The mean loss as a function of each value between X and L (row batches)."""

    def from_o(o):
        return reference.softmax_cross_entropy(o, Y)[0]

    def from_a2(a2):
        return from_o(a2 @ params["W3"].T + params["b3"])

    def from_h2(h2):
        return from_a2(np.tanh(h2))

    def from_a1(a1):
        return from_h2(a1 @ params["W2"].T + params["b2"])

    def from_h1(h1):
        return from_a1(reference.sigmoid(h1))

    return {"o": from_o, "a2": from_a2, "h2": from_h2, "a1": from_a1, "h1": from_h1}


def _network_case(rng: np.random.Generator, N: int, D: int, H1: int, H2: int, C: int) -> Case:
    params, X, Y = gradcheck.random_network_inputs(rng, N, D, H1, H2, C)
    _, forward = reference.network_forward(params, X)
    # The reference's backward gives the six gradients and Problem 1 gives do;
    # da2 ... dh1 are checked against central differences only.
    values = reference.network_backward(forward, Y)
    values["do"] = reference.softmax_cross_entropy(forward.o, Y)[1]
    tails = _network_tails(params, Y)

    def numerical(name: str) -> np.ndarray:
        value = name[1:]  # "dW1" -> "W1", "dh1" -> "h1"
        if name in NETWORK_INTERMEDIATES:
            return _numerical(tails[value], getattr(forward, value))
        return _numerical(lambda v: reference.network_loss({**params, value: v}, X, Y),
                          params[value])  # fmt: skip

    expected = {
        name: Expected(values.get(name), numerical(name), name not in NETWORK_INTERMEDIATES)
        for name in NETWORK_ORDER
    }
    return Case(f"N={N}, D={D}, H1={H1}, H2={H2}, C={C}", (params, X, Y), expected)


@cache
def network_cases() -> tuple[Case, ...]:
    """(params, X (N, D), y (N, C)) -> the six gradients (and, optionally, do ... dh1);
    N = 1 and C = 2 included."""
    return tuple(_network_case(_rng(i), *shape) for i, shape in enumerate(NETWORK_SHAPES))


# --- Problem 3 ----------------------------------------------------------------------------
# (m, D, eps): m = 2 with Keras's eps, so central differences resolve dx (gradcheck's note).
BATCHNORM_SHAPES = ((8, 3, 1e-5), (1, 4, 1e-5), (2, 3, 1e-3), (5, 5, 1e-5))
BATCHNORM_ORDER = ("dbeta", "dgamma", "dxhat", "dvar", "dmu", "dx")
BATCHNORM_INTERMEDIATES = ("dxhat", "dvar", "dmu")


def _batchnorm_inputs(rng: np.random.Generator, m: int, D: int) -> tuple[np.ndarray, ...]:
    """x (m, D), gamma, beta (D,), dy (m, D); gradcheck's inputs, which need m >= 2."""
    if m >= 2:
        return gradcheck.random_batchnorm_inputs(rng, m, D)
    x, gamma, beta, dy = (rng.normal(size=s) for s in ((m, D), D, D, (m, D)))
    return x, gamma, beta, dy


def _batchnorm_case(rng: np.random.Generator, m: int, D: int, eps: float) -> Case:
    x, gamma, beta, dy = _batchnorm_inputs(rng, m, D)
    _, forward = reference.batchnorm_forward(x, gamma, beta, eps)
    dx, dgamma, dbeta = reference.batchnorm_backward(dy, forward)
    mu, var = forward.mu, forward.var

    def F(x=x, gamma=gamma, beta=beta) -> float:  # F = sum(y * dy), so dF/dy = dy
        return float(np.sum(reference.batchnorm_forward(x, gamma, beta, eps)[0] * dy))

    def from_xhat(x_hat) -> float:
        return float(np.sum((gamma * x_hat + beta) * dy))

    def from_var(var_) -> float:  # var alone moves, mu held
        return from_xhat((x - mu) / np.sqrt(var_ + eps))

    def from_mu(mu_) -> float:  # mu moves, and var with it
        return from_xhat((x - mu_) / np.sqrt(((x - mu_) ** 2).mean(axis=0) + eps))

    # The steps are scaled to the spread: at m = 1 the variance is 0 and F varies with
    # mu on the scale sqrt(eps), far below the default step.
    dvar = _numerical(from_var, var, h=0.05 * np.min(var + eps))
    dmu = _numerical(from_mu, mu, h=0.05 * np.min(np.sqrt(var + eps)))
    expected = {
        "dbeta": Expected(dbeta, _numerical(lambda v: F(beta=v), beta)),
        "dgamma": Expected(dgamma, _numerical(lambda v: F(gamma=v), gamma)),
        "dxhat": Expected(None, _numerical(from_xhat, forward.x_hat), required=False),
        "dvar": Expected(None, dvar, required=False),
        "dmu": Expected(None, dmu, required=False),
        "dx": Expected(dx, _numerical(lambda v: F(x=v), x)),
    }
    return Case(f"m={m}, D={D}, eps={eps:g}", (dy, x, gamma, beta, eps), expected)


@cache
def batchnorm_cases() -> tuple[Case, ...]:
    """(dy, x (m, D), gamma, beta, eps) -> (dx, dgamma, dbeta) (and, optionally, dxhat,
    dvar, dmu); m = 1 and m = 2 included."""
    return tuple(_batchnorm_case(_rng(i), *shape) for i, shape in enumerate(BATCHNORM_SHAPES))
