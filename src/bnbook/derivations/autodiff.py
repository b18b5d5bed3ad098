"""The same three computations written again with TensorFlow ops, differentiated by
``tf.GradientTape`` in float64.

These are independent re-implementations (nothing here calls bnbook.derivations.reference), so
agreement with the hand-derived gradients is evidence, not a tautology. Shapes use
the letters of bnbook.derivations.reference: N batch, D features, H1/H2 hidden, C classes.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _f64(a) -> tf.Tensor:
    return tf.constant(np.asarray(a, dtype=np.float64))


def tf_softmax_cross_entropy(o: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and dL/do by autodiff. o, y (N, C) -> (loss, do (N, C))."""
    o_t, y_t = _f64(o), _f64(y)
    with tf.GradientTape() as tape:
        tape.watch(o_t)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_t, logits=o_t))
    return float(loss.numpy()), tape.gradient(loss, o_t).numpy()


def tf_network_gradients(
    params: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """Mean cross-entropy of the homework's network and its six gradients by autodiff.

    params: W1 (H1, D), b1 (H1,), W2 (H2, H1), b2 (H2,), W3 (C, H2), b3 (C,);
    X (N, D); Y (N, C) one-hot. Returns (loss, {"dW1": ..., ..., "db3": ...}).
    """
    variables = {name: tf.Variable(_f64(value)) for name, value in params.items()}
    X_t, Y_t = _f64(X), _f64(Y)
    with tf.GradientTape() as tape:
        a1 = tf.sigmoid(tf.matmul(X_t, variables["W1"], transpose_b=True) + variables["b1"])
        a2 = tf.tanh(tf.matmul(a1, variables["W2"], transpose_b=True) + variables["b2"])
        o = tf.matmul(a2, variables["W3"], transpose_b=True) + variables["b3"]
        loss = tf.reduce_mean(-tf.reduce_sum(Y_t * tf.nn.log_softmax(o, axis=1), axis=1))
    grads = tape.gradient(loss, variables)
    return float(loss.numpy()), {"d" + name: g.numpy() for name, g in grads.items()}


def tf_batchnorm_gradients(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float, dy: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dx (N, D), dgamma (D,), dbeta (D,) of F = sum(y * dy), y = TF's own batch norm.

    Uses ``tf.nn.moments`` and ``tf.nn.batch_normalization`` (statistics over N),
    so dF/dy = dy exactly as in Problem 3.
    """
    x_t, g_t, b_t, dy_t = _f64(x), _f64(gamma), _f64(beta), _f64(dy)
    with tf.GradientTape() as tape:
        tape.watch([x_t, g_t, b_t])
        mean, variance = tf.nn.moments(x_t, axes=[0])
        y = tf.nn.batch_normalization(x_t, mean, variance, b_t, g_t, eps)
        F = tf.reduce_sum(y * dy_t)
    dx, dgamma, dbeta = tape.gradient(F, [x_t, g_t, b_t])
    return dx.numpy(), dgamma.numpy(), dbeta.numpy()
