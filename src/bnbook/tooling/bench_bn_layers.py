"""The CNN's batch-norm layers alone: forward and backward with the ReLU that follows each.

At the book's batch size, on random activations of each batch-norm layer's
input shape: ReLU alone, then batch norm + ReLU as two layers and in one layer
one; a variant's time minus ReLU's is batch norm's own cost. Optionally for
batch norm placed before each pool (4x the values).
"""

import keras
import numpy as np
import tensorflow as tf

from bnbook.networks.batchnorm import BatchNorm
from bnbook.networks.train import precision_policy
from bnbook.tooling.bench_step_ratios import model_with_norm
from bnbook.tooling.bench_timing import clock, time_steps


def bn_layer_shapes(config, before_pool=False) -> list[tuple]:
    """Input shapes, batch included, of the batch-norm layers of `config`'s model with BN.

    before_pool: where a pool precedes the batch norm, the shape it would see
    before that pool instead (conv -> BN -> ReLU -> pool: 4x the values).
    """
    layers = model_with_norm(config, BatchNorm).layers
    shapes = []
    for previous, layer in zip(layers, layers[1:], strict=False):
        if isinstance(layer, BatchNorm):
            pooled = before_pool and isinstance(previous, keras.layers.MaxPooling2D)
            shapes.append((config.batch_size, *(previous if pooled else layer).input.shape[1:]))
    return shapes


def _relu():
    return keras.layers.Activation("relu")


# Per-layer variants: each makes the stage for one batch-norm position ("relu" is the baseline).
BN_LAYER_VARIANTS = {
    "relu": lambda: [_relu()],
    "bn_relu": lambda: [BatchNorm(), _relu()],
    "bn_relu_one_layer": lambda: [BatchNorm(activation="relu")],
    "keras_bn_relu": lambda: [keras.layers.BatchNormalization(), _relu()],
}


def _forward_backward(layers_per_shape):
    """A tf.function (xs, dys) -> gradients: each input through its layers in training mode,
    backpropagated from upstream gradients `dys` to the inputs and the layers' weights."""

    @tf.function
    def step(xs, dys):
        with tf.GradientTape() as tape:
            tape.watch(xs)
            ys = []
            for x, layers in zip(xs, layers_per_shape, strict=True):
                for layer in layers:
                    x = layer(x, training=True)
                ys.append(x)
        weights = [w for layers in layers_per_shape for la in layers for w in la.trainable_weights]
        return tape.gradient(ys, xs + weights, output_gradients=dys)

    return step


def measure_bn_layers(
    config, variants=None, repeats=25, steps_per_repeat=5, warmup=3, before_pool=False
):
    """Forward + backward time of `config`'s CNN batch-norm stages alone, in its precision.

    Each variant of `variants` ({name: () -> [layer, ...]}, default
    BN_LAYER_VARIANTS, the first being the baseline) is applied to random
    activations of every shape of `bn_layer_shapes(config, before_pool)`, in
    training mode, and backpropagated from a random upstream gradient. Returns
    the dict of `measure_step_ratios`, plus "own_ms": {name: ms over the
    baseline's} and "shapes".
    """
    variants = variants or BN_LAYER_VARIANTS
    with precision_policy(config.precision):
        shapes = bn_layer_shapes(config, before_pool)
        stages = {name: [make() for _ in shapes] for name, make in variants.items()}
        dtype = keras.mixed_precision.global_policy().compute_dtype
    rng = np.random.default_rng(config.seed)
    xs = [tf.constant(rng.normal(size=s), dtype) for s in shapes]
    dys = [tf.constant(rng.normal(size=s), dtype) for s in shapes]

    def run(step, num_steps):
        stop = clock()
        for _ in range(num_steps):
            grads = step(xs, dys)
        grads[0].numpy()  # CPU functions return when done; this only makes sure
        return stop()

    steps = {name: _forward_backward(layers) for name, layers in stages.items()}
    result = time_steps(run, steps, steps_per_repeat, repeats, warmup)
    baseline = next(iter(variants))
    result["own_ms"] = {name: ms - result["ms"][baseline] for name, ms in result["ms"].items()}
    result["shapes"] = shapes
    return result
