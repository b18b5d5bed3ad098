"""Our BatchNorm layer against Keras' layer and against the Problem 3 formula."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bnbook.derivations.reference import batchnorm_backward_compact, batchnorm_forward
from bnbook.networks.batchnorm import BatchNorm

SHAPES = {"dense": (16, 5), "conv": (4, 6, 5, 3)}
EPS, MOMENTUM = 1e-3, 0.9  # momentum != default so the update rule is exercised


def assert_close(actual, expected, rtol=1e-4):
    """Float32 tolerance relative to the array's scale (entries near 0 cancel)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    atol = rtol * max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def random_batch(shape, seed, loc=1.5, scale=2.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(loc, scale, size=shape).astype(np.float32)
    dy = rng.normal(size=shape).astype(np.float32)
    return x, dy


def built_pair(shape, impl, seed=0):
    """Ours and Keras' layer, built for `shape`, sharing random gamma and beta."""
    ours = BatchNorm(momentum=MOMENTUM, epsilon=EPS, impl=impl)
    theirs = keras.layers.BatchNormalization(momentum=MOMENTUM, epsilon=EPS)
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(0.5, 2.0, size=shape[-1:]).astype(np.float32)
    beta = rng.normal(size=shape[-1:]).astype(np.float32)
    for layer in (ours, theirs):
        layer.build(shape)
        layer.gamma.assign(gamma)
        layer.beta.assign(beta)
    return ours, theirs


def forward_and_grads(layer, x, dy, training):
    """y and d(sum(y * dy))/d(x, gamma, beta), i.e. backprop of upstream dy."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(y * dy)
    dx, dgamma, dbeta = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return y.numpy(), dx.numpy(), dgamma.numpy(), dbeta.numpy()


def assert_same_forward_and_grads(ours, theirs, x, dy, training):
    """y, dx, dgamma, dbeta of the two layers agree to float32 tolerance."""
    expected = forward_and_grads(theirs, x, dy, training)
    for actual, wanted in zip(forward_and_grads(ours, x, dy, training), expected, strict=True):
        assert_close(actual, wanted)


@pytest.mark.parametrize("impl", BatchNorm.IMPLS)
@pytest.mark.parametrize("kind", SHAPES)
def test_matches_keras_over_training_steps_then_inference(kind, impl):
    shape = SHAPES[kind]
    ours, theirs = built_pair(shape, impl)
    for step in range(3):
        x, dy = random_batch(shape, seed=step, loc=step)
        assert_same_forward_and_grads(ours, theirs, x, dy, training=True)
        assert_close(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), rtol=1e-5)
        assert_close(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=1e-5)
    x, dy = random_batch(shape, seed=10)
    assert_same_forward_and_grads(ours, theirs, x, dy, training=False)


@pytest.mark.parametrize("impl", BatchNorm.IMPLS)
@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(2, 9),
    spatial=st.sampled_from([(), (1, 1), (2, 3), (5, 4)]),
    channels=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
@example(n=2, spatial=(), channels=3, seed=0)
@example(n=2, spatial=(3, 3), channels=4, seed=1)
def test_gradients_equal_compact_formula_float64(impl, n, spatial, channels, seed):
    shape = (n, *spatial, channels)
    x, dy = random_batch(shape, seed)
    layer = BatchNorm(epsilon=EPS, impl=impl)
    layer.build(shape)
    gamma = np.random.default_rng(seed + 1).uniform(0.5, 2.0, channels).astype(np.float32)
    layer.gamma.assign(gamma)
    _, dx, dgamma, dbeta = forward_and_grads(layer, x, dy, training=True)

    # Per channel, an (N, H, W, C) batch is an (N*H*W, C) batch; the reference is float64.
    flat = (-1, channels)
    x64, dy64 = x.reshape(flat).astype(np.float64), dy.reshape(flat).astype(np.float64)
    _, cache = batchnorm_forward(x64, gamma.astype(np.float64), np.zeros(channels), EPS)
    dx_ref, dgamma_ref, dbeta_ref = batchnorm_backward_compact(dy64, cache)
    assert_close(dx.reshape(flat), dx_ref)
    assert_close(dgamma, dgamma_ref)
    assert_close(dbeta, dbeta_ref)


@pytest.mark.parametrize("impl", BatchNorm.IMPLS)
def test_inference_uses_moving_statistics_and_leaves_them_alone(impl):
    x, _ = random_batch((32, 4), seed=3)
    layer = BatchNorm(epsilon=EPS, impl=impl)
    layer.build(x.shape)
    layer.moving_mean.assign([5.0, -1.0, 0.0, 2.0])
    layer.moving_variance.assign([4.0, 0.25, 1.0, 9.0])

    y = layer(x, training=False).numpy()
    expected = (x - layer.moving_mean.numpy()) / np.sqrt(layer.moving_variance.numpy() + EPS)
    assert_close(y, expected)
    # Batch statistics would give every channel mean 0; moving ones do not here.
    assert np.abs(y.mean(0)).max() > 0.5
    assert_close(layer.moving_mean.numpy(), [5.0, -1.0, 0.0, 2.0], rtol=0)

    y_train = layer(x, training=True).numpy()
    assert_close(y_train.mean(0), np.zeros(4), rtol=1e-5)
    assert not np.allclose(layer.moving_mean.numpy(), [5.0, -1.0, 0.0, 2.0])


@pytest.mark.parametrize("impl", BatchNorm.IMPLS)
def test_mixed_bfloat16_policy(impl):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = BatchNorm(impl=impl)
        x, dy = random_batch(SHAPES["conv"], seed=4, loc=100.0, scale=30.0)
        y, dx, dgamma, dbeta = forward_and_grads(layer, x, dy.astype(np.float32), True)
        y_infer = layer(x, training=False)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert layer.compute_dtype == "bfloat16" and y.dtype == tf.bfloat16.as_numpy_dtype
    assert y_infer.dtype == tf.bfloat16
    assert layer.gamma.dtype == "float32" and layer.moving_variance.dtype == "float32"
    y = y.astype(np.float32)
    # A large offset would wreck 16-bit statistics; float32 ones normalize fine.
    assert np.all(np.isfinite(y)) and np.abs(y.mean((0, 1, 2))).max() < 0.05
    for grad in (dx, dgamma, dbeta):
        assert np.all(np.isfinite(np.asarray(grad, np.float32)))


def test_config_round_trip():
    layer = BatchNorm(momentum=0.9, epsilon=1e-5, impl="ops", name="bn")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(clone, BatchNorm)
    assert (clone.momentum, clone.epsilon, clone.impl, clone.name) == (0.9, 1e-5, "ops", "bn")


def test_frozen_layer_runs_in_inference_mode_like_keras():
    x, _ = random_batch((8, 3), seed=5)
    layer = BatchNorm()
    layer.build(x.shape)
    layer.trainable = False
    y = layer(x, training=True).numpy()
    assert_close(y, x / np.sqrt(1.0 + 1e-3))
    assert_close(layer.moving_mean.numpy(), np.zeros(3), rtol=0)


@pytest.mark.parametrize("impl", BatchNorm.IMPLS)
def test_graph_mode_with_unknown_batch_size_matches_eager(impl):
    shape = SHAPES["conv"]
    x, dy = random_batch(shape, seed=6)
    layer = BatchNorm(impl=impl)
    layer.build(shape)
    spec = tf.TensorSpec((None, *shape[1:]), tf.float32)

    # The training loop traces its step with a None batch dimension.
    @tf.function(input_signature=[spec, spec])
    def graph_grads(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x, training=True) * dy)
        return tape.gradient(loss, [x, layer.gamma, layer.beta])

    for actual, wanted in zip(
        graph_grads(x, dy), forward_and_grads(layer, x, dy, True)[1:], strict=True
    ):
        assert_close(actual.numpy(), wanted)
