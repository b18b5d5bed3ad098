"""What a run records about its network while it trains, besides the loss.

At every evaluation of a run with `probe=True`: percentiles of each
nonlinearity's input (on fixed validation images), the gradient norm of each
kernel, the percentiles of each batch-norm layer's gamma and beta, and the
loss landscape along the gradient (Santurkar et al. 2018's test of why batch
norm helps: how much the loss and its gradient change when we step along
the gradient). Probes restore every weight they touch, so a run with probes
trains exactly as one without.
"""

import numpy as np
import tensorflow as tf

PROBE_PERCENTILES = (5, 15, 50, 85, 95)
# Step sizes along -gradient for the landscape probe; the same for every run,
# so runs with and without batch norm are compared on the same scale.
LANDSCAPE_STEP_SIZES = (0.05, 0.1, 0.2, 0.4)


def activation_probe(model, x_probe):
    """A callable giving percentiles of each nonlinearity's input on fixed examples."""
    import keras

    from bnbook.networks.models import nonlinearity_input

    layers = [la for la in model.layers if la.name.startswith("act_in_")]
    probe = keras.Model(model.input, [nonlinearity_input(la) for la in layers])

    def run():
        outs = probe(x_probe, training=False)
        outs = outs if isinstance(outs, list) else [outs]
        return {
            la.name: {
                "all": percentiles(o),
                # One fixed unit (channel 0), as in Ioffe & Szegedy's Figure 1.
                "unit0": percentiles(o[..., 0]),
            }
            for la, o in zip(layers, outs, strict=True)
        }

    return run


def percentiles(values) -> list[float]:
    """PROBE_PERCENTILES of `values`, as plain floats (JSON-ready)."""
    return np.percentile(np.asarray(values, np.float32), PROBE_PERCENTILES).tolist()


def scale_and_shift(model) -> dict:
    """{batch-norm layer name: {"gamma": percentiles, "beta": percentiles}}."""
    return {
        la.name: {"gamma": percentiles(la.gamma), "beta": percentiles(la.beta)}
        for la in model.layers
        if hasattr(la, "gamma") and hasattr(la, "moving_mean")
    }


def loss_landscape(model, loss_fn, x, y, step_sizes=LANDSCAPE_STEP_SIZES) -> dict:
    """Loss and gradient change along -gradient, in training mode, on one fixed batch.

    For each step size s: loss(w - s g) and |grad(w - s g) - g| / |g|, where g is
    the gradient at the current weights w. Returns {"loss": L(w), "step_sizes": [...],
    "loss_at": [...], "grad_change": [...]}. Every variable (moving averages
    included) is restored afterwards.
    """
    saved = [v.numpy() for v in model.variables]
    weights = model.trainable_variables

    def loss_and_grad():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, weights)
        return float(loss), [tf.cast(g, tf.float32) for g in grads]

    try:
        loss0, g0 = loss_and_grad()
        norm0 = float(tf.linalg.global_norm(g0))
        start = [w.numpy() for w in weights]
        loss_at, grad_change = [], []
        for s in step_sizes:
            for w, w0, g in zip(weights, start, g0, strict=True):
                w.assign(w0 - s * tf.cast(g, w.dtype))
            loss, grads = loss_and_grad()
            diff = tf.linalg.global_norm([a - b for a, b in zip(grads, g0, strict=True)])
            loss_at.append(loss)
            grad_change.append(float(diff) / max(norm0, 1e-12))
    finally:
        for v, value in zip(model.variables, saved, strict=True):
            v.assign(value)
    return {
        "loss": loss0,
        "step_sizes": list(step_sizes),
        "loss_at": loss_at,
        "grad_change": grad_change,
    }
