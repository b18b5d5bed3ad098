"""Our BatchNorm layer against Keras' layer and against the Problem 3 formula."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bnbook.derivations.reference import batchnorm_backward_compact, batchnorm_forward
from bnbook.networks.batchnorm import BatchNorm
from bnbook.networks.models import mlp, nonlinearity_input
from bnbook.networks.probes import PROBE_PERCENTILES, activation_probe
from bnbook.presentation.report import layer_table

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


def forward_and_grads(layer, x, dy, training, bn=None):
    """y and d(sum(y * dy))/d(x, gamma, beta), i.e. backprop of upstream dy.

    `bn`: the batch-norm layer whose gamma and beta (default: `layer` itself).
    """
    bn = bn or layer
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=training)
        loss = tf.reduce_sum(y * dy)
    dx, dgamma, dbeta = tape.gradient(loss, [x, bn.gamma, bn.beta])
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


# bfloat16 keeps 8 significant bits (7 stored + the implicit one): rounding a
# value to it errs by at most half a unit in the last place, 2**-8 relative.
# The layer rounds each output (y, dx) once, from float32 arithmetic on
# bfloat16 inputs; inputs are compared already rounded, so one rounding plus
# float32's error remains: 2 * 2**-8 of the array's scale is a safe bound
# that a wrong formula (or 16-bit statistics) would exceed.
BF16_RTOL = 2 * 2.0**-8


def bfloat16_batch(shape, seed, loc=1.5, scale=2.0):
    """x, dy as bfloat16 tensors, and the same values (exactly) as float64 arrays."""
    x, dy = random_batch(shape, seed, loc, scale)
    x16, dy16 = tf.constant(x, tf.bfloat16), tf.constant(dy, tf.bfloat16)
    return x16, dy16, tf.cast(x16, tf.float64).numpy(), tf.cast(dy16, tf.float64).numpy()


def mixed_bfloat16_layer(shape, **kwargs):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = BatchNorm(epsilon=EPS, **kwargs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    layer.build(shape)
    return layer


@pytest.mark.parametrize("impl", BatchNorm.IMPLS)
@pytest.mark.parametrize("kind", SHAPES)
def test_bfloat16_matches_float64_reference(kind, impl):
    shape = SHAPES[kind]
    channels = shape[-1]
    layer = mixed_bfloat16_layer(shape, impl=impl)
    gamma = np.random.default_rng(7).uniform(0.5, 2.0, channels).astype(np.float32)
    layer.gamma.assign(gamma)
    x16, dy16, x64, dy64 = bfloat16_batch(shape, seed=8, loc=50.0, scale=3.0)
    y, dx, dgamma, dbeta = forward_and_grads(layer, x16, dy16, training=True)
    assert y.dtype == dx.dtype == tf.bfloat16.as_numpy_dtype  # no float32 round trip outside

    flat = (-1, channels)
    y_ref, cache = batchnorm_forward(x64.reshape(flat), gamma.astype(np.float64), 0.0, EPS)
    dx_ref, dgamma_ref, dbeta_ref = batchnorm_backward_compact(dy64.reshape(flat), cache)
    assert_close(y.astype(np.float64).reshape(flat), y_ref, rtol=BF16_RTOL)
    assert_close(dx.astype(np.float64).reshape(flat), dx_ref, rtol=BF16_RTOL)
    # dgamma, dbeta are float32 sums of exactly represented bfloat16 inputs: float32 tolerance.
    assert_close(dgamma, dgamma_ref)
    assert_close(dbeta, dbeta_ref)
    assert_close(layer.moving_mean.numpy(), 0.01 * x64.reshape(flat).mean(0), rtol=1e-5)


@pytest.mark.parametrize("impl", BatchNorm.IMPLS)
def test_bfloat16_matches_keras_over_training_steps(impl):
    shape = SHAPES["conv"]
    ours = mixed_bfloat16_layer(shape, impl=impl, momentum=MOMENTUM)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        theirs = keras.layers.BatchNormalization(momentum=MOMENTUM, epsilon=EPS)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    theirs.build(shape)
    for step in range(3):
        x16, dy16, _, _ = bfloat16_batch(shape, seed=20 + step, loc=step)
        y, dx, dgamma, dbeta = forward_and_grads(ours, x16, dy16, training=True)
        y_k, dx_k, dgamma_k, dbeta_k = forward_and_grads(theirs, x16, dy16, training=True)
        assert_close(y.astype(np.float32), y_k.astype(np.float32), rtol=BF16_RTOL)
        assert_close(dx.astype(np.float32), dx_k.astype(np.float32), rtol=BF16_RTOL)
        assert_close(dgamma, dgamma_k)
        assert_close(dbeta, dbeta_k)
        assert_close(ours.moving_mean.numpy(), theirs.moving_mean.numpy(), rtol=1e-5)
        assert_close(ours.moving_variance.numpy(), theirs.moving_variance.numpy(), rtol=1e-5)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
@pytest.mark.parametrize("impl", BatchNorm.IMPLS)
def test_batch_norm_applying_relu_equals_batch_norm_then_relu(impl, precision):
    shape = SHAPES["conv"]
    keras.mixed_precision.set_global_policy(precision)
    try:
        one_layer = BatchNorm(momentum=MOMENTUM, epsilon=EPS, impl=impl, activation="relu")
        plain = BatchNorm(momentum=MOMENTUM, epsilon=EPS, impl=impl)
        relu = keras.layers.Activation("relu")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    dtype = one_layer.compute_dtype
    x, dy = random_batch(shape, seed=30, loc=0.5)  # about a third of outputs negative
    x, dy = tf.constant(x, dtype), tf.constant(dy, dtype)
    for layer in (one_layer, plain):
        layer.build(shape)
        layer.beta.assign([0.3, -0.2, 0.1])
    then_relu = keras.Sequential([keras.Input(shape[1:], dtype=dtype), plain, relu])

    y, *grads = forward_and_grads(one_layer, x, dy, training=True)
    y_ref, *grads_ref = forward_and_grads(then_relu, x, dy, training=True, bn=plain)
    assert 0.2 < np.mean(y_ref.astype(np.float32) == 0) < 0.8  # the mask matters
    tol = BF16_RTOL if dtype == "bfloat16" else 1e-5
    for actual, wanted in zip([y, *grads], [y_ref, *grads_ref], strict=True):
        assert_close(actual.astype(np.float32), wanted.astype(np.float32), rtol=tol)
    assert_close(one_layer.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-6)
    assert_close(one_layer.moving_variance.numpy(), plain.moving_variance.numpy(), rtol=1e-6)
    # Inference mode applies the same ReLU.
    y_infer = one_layer(x, training=False).numpy().astype(np.float32)
    assert_close(y_infer, relu(plain(x, training=False)).numpy().astype(np.float32), rtol=tol)


def graph_ops(graph_def):
    """Op types of a traced graph outside XLA-compiled functions, and the compiled functions."""
    functions = {f.signature.name: f for f in graph_def.library.function}
    compiled = {name for name, f in functions.items() if f.attr["_XlaMustCompile"].b}
    ops = [node.op for node in graph_def.node]
    for name, f in functions.items():
        if name not in compiled:
            ops += [node.op for node in f.node_def]
    return ops, compiled


@pytest.mark.parametrize("activation", BatchNorm.ACTIVATIONS)
def test_compiled_step_has_no_cast_outside_xla_under_mixed_bfloat16(activation):
    shape = SHAPES["conv"]
    layer = mixed_bfloat16_layer(shape, activation=activation)
    spec = tf.TensorSpec((None, *shape[1:]), tf.bfloat16)

    @tf.function
    def step(x, dy):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        return tape.gradient(y, [x, layer.gamma, layer.beta], output_gradients=dy)

    ops, compiled = graph_ops(step.get_concrete_function(spec, spec).graph.as_graph_def())
    assert len(compiled) == 2  # the forward and the compact backward
    assert "Cast" not in ops and "Relu" not in ops and "ReluGrad" not in ops
    # The helper does see a cast that is not compiled (what the layer used to do).
    uncompiled = tf.function(lambda x: tf.cast(x, "float32")).get_concrete_function(spec)
    assert "Cast" in graph_ops(uncompiled.graph.as_graph_def())[0]


def test_bad_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="activation must be one of"):
        BatchNorm(activation="gelu")


def test_one_layer_config_round_trip():
    layer = BatchNorm(activation="relu", name="bn")
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert clone.activation == "relu"


def test_probe_of_a_layer_applying_relu_reads_the_pre_activation():
    """act_in_<i> probes must see what enters the ReLU, negatives included."""
    keras.utils.set_random_seed(0)
    model = mlp((16, 8), batch_norm=True)
    layer = model.get_layer("act_in_0")
    assert layer.activation == "relu"
    x = np.random.default_rng(0).normal(size=(64, 28, 28, 1)).astype(np.float32)
    probe = keras.Model(model.input, nonlinearity_input(layer))
    pre = probe(x, training=False).numpy()
    post = keras.Model(model.input, layer.output)(x, training=False).numpy()
    assert pre.min() < 0 and post.min() == 0
    assert_close(np.maximum(pre, 0), post, rtol=1e-6)
    # The training loop's probe reads the same tensor.
    percentiles = activation_probe(model, x)()["act_in_0"]["all"]
    assert_close(percentiles, np.percentile(pre, PROBE_PERCENTILES), rtol=1e-6)
    assert percentiles[0] < 0


def test_model_table_names_layers_for_what_they_compute():
    table = layer_table(mlp((16,), batch_norm=True)).data
    assert "| dense, 16 units, Wx (no bias) |" in table
    assert "| batch norm + ReLU (one layer) |" in table
    assert "act_in" not in table and "Activation" not in table
    plain = layer_table(mlp((16,), batch_norm=False)).data
    assert "| dense, 16 units, Wx + b |" in plain and "| ReLU |" in plain
