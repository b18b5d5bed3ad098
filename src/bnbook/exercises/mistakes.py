"""Known mistakes, as data: each a small wrong answer to one exercise, its name and the fix.

When a check finds a wrong output, it runs every known mistake of that exercise on the
same inputs; if one returns the learner's wrong value, the message names it. Adding a
mistake is adding one entry to MISTAKES. The network's and batch norm's wrong answers
are the backward pass below with one step replaced (its default steps are the right
ones: tests/exercises/test_checks.py holds it to the reference).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from bnbook.derivations import reference


@dataclass(frozen=True)
class Mistake:
    """exercise: "softmax_cross_entropy", "network_backward" or "batchnorm_backward";
    name: what the message calls it; fix: the right step, in one clause;
    wrong: the wrong answer, with the arguments and return of the learner's function."""

    exercise: str
    name: str
    fix: str
    wrong: Callable


# --- Problem 1: fn(o, y) -> dL/do ---------------------------------------------------------
def _sign_flipped(o, y):
    return (y - reference.softmax(o)) / len(o)


def _not_averaged(o, y):
    return reference.softmax(o) - y


def _unstable(o, y):
    p = np.exp(o) / np.exp(o).sum(axis=1, keepdims=True)
    return (p - y) / len(o)


# --- Problem 2: fn(params, X, y) -> {"dW1": ..., "db3": ..., "do": ..., "dh1": ...} -------
def network_backward_with(
    params,
    X,
    Y,
    weight_grad=lambda dh, a: dh.T @ a,
    bias_grad=lambda dh: dh.sum(axis=0),
    sigmoid_prime=lambda a: a * (1 - a),
    tanh_prime=lambda a: 1 - a**2,
):
    """Backprop through the homework's network (row batches) with each local step
    replaceable; returns the six gradients and the intermediates."""
    _, f = reference.network_forward(params, X)
    do = (f.p - Y) / len(X)
    da2 = do @ params["W3"]
    dh2 = da2 * tanh_prime(f.a2)
    da1 = dh2 @ params["W2"]
    dh1 = da1 * sigmoid_prime(f.a1)
    grads = {"do": do, "da2": da2, "dh2": dh2, "da1": da1, "dh1": dh1}
    for n, dh, a in ((3, do, f.a2), (2, dh2, f.a1), (1, dh1, f.X)):
        grads[f"dW{n}"], grads[f"db{n}"] = weight_grad(dh, a), bias_grad(dh)
    return grads


# --- Problem 3: fn(dy, x, gamma, beta, eps) -> (dx, dgamma, dbeta) or a dict --------------
def batchnorm_backward_with(
    dy, x, gamma, beta, eps, ddof=0, through_mu=True, through_var=True, scale=True, axis=0
):
    """Batch norm forward and backward, node by node, with one step replaceable: the
    variance's divisor m - ddof, the paths through mu and var, gamma's scaling of dxhat,
    the axis dgamma and dbeta sum over; returns a dict with the staged intermediates."""
    m = len(x)
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).sum(axis=0) / (m - ddof)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    dxhat = dy * gamma if scale else dy
    dvar = (dxhat * (x - mu)).sum(axis=0) * -0.5 * inv_std**3
    dmu = -(dxhat * inv_std).sum(axis=0)  # its path through var adds 0: sum(x - mu) = 0
    dx = dxhat * inv_std
    dx = dx + (dvar * 2 * (x - mu) / (m - ddof) if through_var else 0)
    dx = dx + (dmu / m if through_mu else 0)
    dgamma, dbeta = (dy * x_hat).sum(axis=axis), dy.sum(axis=axis)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta, "dxhat": dxhat, "dvar": dvar, "dmu": dmu}


P1, P2, P3 = "softmax_cross_entropy", "network_backward", "batchnorm_backward"
MISTAKES: tuple[Mistake, ...] = (
    Mistake(
        P1,
        "the sign (y - p)",
        "dL/do = (p - y)/N: raising the true class's logit lowers the loss",
        _sign_flipped,
    ),
    Mistake(
        P1,
        "the missing 1/N",
        "L is the mean over the batch, so dL/do = (p - y)/N",
        _not_averaged,
    ),
    Mistake(
        P1,
        "an unstable softmax",
        "exp overflows for large logits: subtract each row's maximum first",
        _unstable,
    ),
    Mistake(
        P2,
        "a missing transpose",
        "dW = dh.T @ a has W's shape; a.T @ dh is its transpose",
        partial(network_backward_with, weight_grad=lambda dh, a: a.T @ dh),
    ),
    Mistake(
        P2,
        "the sigmoid's derivative written as a(1+a)",
        "sigmoid'(h1) = a1 (1 - a1)",
        partial(network_backward_with, sigmoid_prime=lambda a: a * (1 + a)),
    ),
    Mistake(
        P2,
        "tanh's derivative written as 1 - a",
        "tanh'(h2) = 1 - a2**2",
        partial(network_backward_with, tanh_prime=lambda a: 1 - a),
    ),
    Mistake(
        P2,
        "the bias gradient not summed over the batch",
        "every example uses b, so db = dh.sum(axis=0)",
        partial(network_backward_with, bias_grad=lambda dh: dh),
    ),
    Mistake(
        P3,
        "unbiased variance 1/(m-1)",
        "Algorithm 1 normalizes with the batch variance (1/m) sum (x - mu)**2",
        partial(batchnorm_backward_with, ddof=1),
    ),
    Mistake(
        P3,
        "the path through mu left out",
        "x reaches xhat through mu too: dx needs + dmu / m",
        partial(batchnorm_backward_with, through_mu=False),
    ),
    Mistake(
        P3,
        "the path through sigma^2 left out",
        "x reaches xhat through sigma^2 too: dx needs + dvar * 2 (x - mu) / m",
        partial(batchnorm_backward_with, through_var=False),
    ),
    Mistake(
        P3,
        "gamma forgotten",
        "y = gamma xhat + beta, so dxhat = gamma * dy",
        partial(batchnorm_backward_with, scale=False),
    ),
    Mistake(
        P3,
        "sums over the wrong axis",
        "dgamma and dbeta sum over the batch (axis=0), one value per feature",
        partial(batchnorm_backward_with, axis=1),
    ),
)


def known_mistakes(exercise: str) -> list[Mistake]:
    """The known mistakes of one exercise, in MISTAKES' order."""
    return [mistake for mistake in MISTAKES if mistake.exercise == exercise]
