"""NumPy reference implementations of Problems 1-3, as forward/backward pairs.

Conventions (CS231n style): a forward function returns ``(out, cache)``, the
matching backward function takes the upstream gradient and the cache and
returns one gradient per input, each named ``d<name>`` and shaped like its
input. Everything is float64. Batches are rows: ``X`` is (N, D) and a weight
``W1`` is (H1, D) as in the homework's ``h = W x + b``, so a batch computes
``X @ W1.T + b1``: each array is the transpose of the book's column-batch matrix
(book/notation.md), and N is the book's batch size m. Shape letters: N batch,
D features, H1 and H2 hidden widths, C classes (the homework's classes 0..K, so
C = K + 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- Problem 1: softmax + cross-entropy -------------------------------------------------


def log_softmax(o: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax, stable for any logits.

    Subtracting the row maximum first (log-sum-exp trick) keeps every
    ``exp`` argument <= 0, so nothing overflows. o: (N, C) -> (N, C).
    """
    shifted = o - o.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(o: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for any logits. o: (N, C) -> p: (N, C)."""
    return np.exp(log_softmax(o))


def softmax_cross_entropy(o: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(o) against one-hot y, and its gradient.

    Inputs:  o (N, C) logits; y (N, C) one-hot targets.
    Returns: loss, a float, ``-(1/N) sum_n sum_c y_nc log p_nc``;
             do (N, C), ``(p - y) / N`` (Problem 1's ``p - y`` per example).
    """
    o, y = np.asarray(o, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = o.shape[0]
    logp = log_softmax(o)
    loss = float(-(y * logp).sum() / n)
    do = (np.exp(logp) - y) / n
    return loss, do


# --- Problem 2: the network -------------------------------------------------------------

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


@dataclass(frozen=True)
class NetworkCache:
    """What the network's backward pass needs from its forward pass.

    X (N, D); h1, a1 (N, H1); h2, a2 (N, H2); o, p (N, C); W2 (H2, H1); W3 (C, H2).
    """

    X: np.ndarray
    h1: np.ndarray
    a1: np.ndarray
    h2: np.ndarray
    a2: np.ndarray
    o: np.ndarray
    p: np.ndarray
    W2: np.ndarray
    W3: np.ndarray


def sigmoid(h: np.ndarray) -> np.ndarray:
    """Logistic sigmoid without overflow warnings for large negative h."""
    e = np.exp(-np.abs(h))
    return np.where(h >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def network_forward(
    params: dict[str, np.ndarray], X: np.ndarray
) -> tuple[np.ndarray, NetworkCache]:
    """Forward pass of the homework's network on a batch.

    Inputs:  params with W1 (H1, D), b1 (H1,), W2 (H2, H1), b2 (H2,),
             W3 (C, H2), b3 (C,); X (N, D).
    Returns: p (N, C) predicted probabilities; a NetworkCache.
    """
    X = np.asarray(X, dtype=np.float64)
    h1 = X @ params["W1"].T + params["b1"]  # (N, H1)
    a1 = sigmoid(h1)
    h2 = a1 @ params["W2"].T + params["b2"]  # (N, H2)
    a2 = np.tanh(h2)
    o = a2 @ params["W3"].T + params["b3"]  # (N, C)
    p = softmax(o)
    cache = NetworkCache(X, h1, a1, h2, a2, o, p, params["W2"], params["W3"])
    return p, cache


def network_loss(params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> float:
    """Mean cross-entropy of the network on (X (N, D), Y (N, C) one-hot)."""
    _, cache = network_forward(params, X)
    return softmax_cross_entropy(cache.o, Y)[0]


def network_backward(cache: NetworkCache, Y: np.ndarray) -> dict[str, np.ndarray]:
    """All six gradients of the mean cross-entropy, by backpropagation.

    Inputs:  cache from network_forward; Y (N, C) one-hot.
    Returns: dict with dW1 (H1, D), db1 (H1,), dW2 (H2, H1), db2 (H2,),
             dW3 (C, H2), db3 (C,). Row n of each d<h> is Problem 2's
             single-example column vector; the weight gradients are the sums
             of the single-example outer products over the batch.
    """
    N = cache.X.shape[0]
    do = (cache.p - Y) / N  # (N, C)   Problem 1, averaged over the batch
    dW3 = do.T @ cache.a2  # (C, H2)
    db3 = do.sum(axis=0)  # (C,)
    da2 = do @ cache.W3  # (N, H2)
    dh2 = da2 * (1.0 - cache.a2**2)  # (N, H2)  tanh' = 1 - a2^2
    dW2 = dh2.T @ cache.a1  # (H2, H1)
    db2 = dh2.sum(axis=0)  # (H2,)
    da1 = dh2 @ cache.W2  # (N, H1)
    dh1 = da1 * cache.a1 * (1.0 - cache.a1)  # (N, H1)  sigmoid' = a1 (1 - a1)
    dW1 = dh1.T @ cache.X  # (H1, D)
    db1 = dh1.sum(axis=0)  # (H1,)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}


# --- Problem 3: batch normalization -----------------------------------------------------


@dataclass(frozen=True)
class BatchNormCache:
    """What both batch-norm backward passes need.

    x, x_hat (N, D); mu, var (D,) batch statistics; inv_std (D,) is
    1 / sqrt(var + eps); gamma (D,).
    """

    x: np.ndarray
    x_hat: np.ndarray
    mu: np.ndarray
    var: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, BatchNormCache]:
    """Training-mode batch norm (Ioffe & Szegedy, Algorithm 1), statistics over N.

    Inputs:  x (N, D); gamma (D,); beta (D,); eps >= 0 (0 only if no column is constant).
    Returns: y (N, D); a BatchNormCache.
    """
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(axis=0)  # (D,)  mini-batch mean
    var = ((x - mu) ** 2).mean(axis=0)  # (D,)  mini-batch (biased) variance
    inv_std = 1.0 / np.sqrt(var + eps)  # (D,)
    x_hat = (x - mu) * inv_std  # (N, D)  normalize
    y = gamma * x_hat + beta  # (N, D)  scale and shift
    return y, BatchNormCache(x, x_hat, mu, var, inv_std, np.asarray(gamma, dtype=np.float64))


@dataclass(frozen=True)
class BatchNormNodeGrads:
    """dF/d(value) at every node of Problem 3's graph, and dF/dx's three terms.

    dx_hat (N, D); dvar, dmu, dgamma, dbeta (D,); dx_direct, dx_via_var,
    dx_via_mu (N, D): what reaches x from x_hat, var and mu; dx (N, D), their sum.
    """

    dx_hat: np.ndarray
    dvar: np.ndarray
    dmu: np.ndarray
    dgamma: np.ndarray
    dbeta: np.ndarray
    dx_direct: np.ndarray
    dx_via_var: np.ndarray
    dx_via_mu: np.ndarray
    dx: np.ndarray


def batchnorm_backward_nodes(dy: np.ndarray, cache: BatchNormCache) -> BatchNormNodeGrads:
    """Batch-norm backward, node by node along the computational graph, keeping every
    node's gradient. Inputs: dy (N, D) = dF/dy; cache from batchnorm_forward."""
    x, mu, inv_std = cache.x, cache.mu, cache.inv_std
    N = x.shape[0]
    dbeta = dy.sum(axis=0)  # (D,)
    dgamma = (dy * cache.x_hat).sum(axis=0)  # (D,)
    dx_hat = dy * cache.gamma  # (N, D)
    dvar = (dx_hat * (x - mu)).sum(axis=0) * (-0.5) * inv_std**3  # (D,)
    # mu reaches x_hat directly and through var; the second term is 0 (sum of x - mu).
    dmu = -(dx_hat * inv_std).sum(axis=0) + dvar * (-2.0 / N) * (x - mu).sum(axis=0)  # (D,)
    # x's three direct uses: by x_hat, by var and by mu.
    direct = dx_hat * inv_std  # (N, D)
    via_var = dvar * 2.0 * (x - mu) / N  # (N, D)
    via_mu = np.broadcast_to(dmu / N, x.shape)  # (N, D), the same for every i
    dx = direct + via_var + via_mu
    return BatchNormNodeGrads(dx_hat, dvar, dmu, dgamma, dbeta, direct, via_var, via_mu, dx)


def batchnorm_backward(
    dy: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch-norm backward, node by node along the computational graph.

    Inputs:  dy (N, D) = dF/dy; cache from batchnorm_forward.
    Returns: dx (N, D), dgamma (D,), dbeta (D,).
    """
    grads = batchnorm_backward_nodes(dy, cache)
    return grads.dx, grads.dgamma, grads.dbeta


def batchnorm_backward_compact(
    dy: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batch-norm backward in closed form:
    dx = (gamma * inv_std / N) * (N dy - sum(dy) - x_hat * sum(dy * x_hat)).

    Inputs:  dy (N, D) = dF/dy; cache from batchnorm_forward.
    Returns: dx (N, D), dgamma (D,), dbeta (D,).
    """
    N = dy.shape[0]
    dbeta = dy.sum(axis=0)
    dgamma = (dy * cache.x_hat).sum(axis=0)
    dx = (cache.gamma * cache.inv_std / N) * (N * dy - dbeta - cache.x_hat * dgamma)
    return dx, dgamma, dbeta
