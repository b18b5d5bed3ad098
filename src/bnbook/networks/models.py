"""Builders for every network the book trains, with batch norm on or off.

All models output logits (the softmax lives in the loss). With batch norm, each
hidden layer is linear (no bias: beta replaces it) -> BatchNorm -> nonlinearity,
the placement of Ioffe & Szegedy; our BatchNorm applies a following ReLU
itself (one pass over memory less). The tensor fed to each nonlinearity comes
from a layer named `act_in_<i>` (`nonlinearity_input`), so probes can watch
its distribution.

A convolution followed by 2x2 max pooling is pooled *before* its ReLU:
max(relu(a), relu(b)) = relu(max(a, b)), so without batch norm the network
computes exactly the same function as conv -> ReLU -> pool, with the ReLU (and,
with batch norm, the normalization) applied to 4x fewer values. With batch
norm the statistics are then those of the pooled maps, the values the next
layer actually receives.
"""

from functools import partial

import keras

from bnbook.networks.batchnorm import BatchNorm, fuses

NUM_CLASSES = 10


def _hidden(x, layer, index: int, norm, activation: str, pool=False, **layer_args):
    """layer -> (2x2 max pool) -> (norm) -> activation; the activation's input is act_in_<index>.

    `norm`: None (no batch norm) or a layer class such as BatchNorm. When the
    norm can apply the activation itself (our BatchNorm with ReLU), it does, in
    one pass: the layer act_in_<index> is then the norm with the activation
    fused, and `nonlinearity_input` gives the tensor its activation receives.
    """
    name = f"act_in_{index}"
    fused = fuses(norm, activation)
    stages = [lambda n: layer(**layer_args, use_bias=norm is None, name=n)]
    if pool:
        stages.append(lambda n: keras.layers.MaxPooling2D(2, name=n))
    if norm is not None:
        stages.append(lambda n: norm(name=n, activation=activation) if fused else norm(name=n))
    for i, stage in enumerate(stages):
        x = stage(name if i == len(stages) - 1 else None)(x)  # the last stage feeds the activation
    return x if fused else keras.layers.Activation(activation)(x)


def nonlinearity_input(layer):
    """The symbolic tensor the nonlinearity receives at layer `act_in_<i>`, for probes.

    The layer's output, or for a batch norm with its activation fused, the same
    layer's output without the activation (a second call on its input: the
    trained model never computes it).
    """
    if isinstance(layer, BatchNorm) and layer.activation is not None:
        return layer(layer.input, pre_activation=True)
    return layer.output


def mlp(widths=(1024, 512, 256), batch_norm=False, activation="relu", norm=BatchNorm):
    """Fully connected network on flattened 28x28 images: len(widths) hidden layers.

    With `batch_norm`, `norm` is the normalization layer class (ours by default;
    the benchmark passes keras.layers.BatchNormalization to compare).
    """
    norm = norm if batch_norm else None
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    for i, width in enumerate(widths):
        x = _hidden(x, keras.layers.Dense, i, norm, activation, units=width)
    outputs = keras.layers.Dense(NUM_CLASSES, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=("bn_" if batch_norm else "") + "mlp")


def cnn(widths=(32, "pool", 64, "pool"), dense=(128,), batch_norm=False, norm=BatchNorm):
    """Convolutional network: 3x3 'same' convolutions (ints), each optionally followed by a
    2x2 max pool ("pool"), then dense layers; `batch_norm` and `norm` as in `mlp`."""
    norm = norm if batch_norm else None
    inputs = keras.Input((28, 28, 1))
    x, index = inputs, 0
    for i, spec in enumerate(widths):
        if spec == "pool":
            if i == 0 or widths[i - 1] == "pool":
                raise ValueError(f"each 'pool' must follow a convolution; got widths={widths}")
            continue  # applied with the convolution before it
        pool = i + 1 < len(widths) and widths[i + 1] == "pool"
        conv_args = dict(filters=spec, kernel_size=3, padding="same")
        x = _hidden(x, keras.layers.Conv2D, index, norm, "relu", pool, **conv_args)
        index += 1
    x = keras.layers.Flatten()(x)
    for width in dense:
        x = _hidden(x, keras.layers.Dense, index, norm, "relu", units=width)
        index += 1
    outputs = keras.layers.Dense(NUM_CLASSES, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=("bn_" if batch_norm else "") + "cnn")


def build_model(config) -> keras.Model:
    """The model a training config names (see bnbook.runs.experiments.Config)."""
    norm = partial(BatchNorm, momentum=config.bn_momentum)
    if config.model == "mlp":
        return mlp(config.widths, config.batch_norm, config.activation, norm)
    if config.model == "cnn":
        return cnn(config.widths, config.dense, config.batch_norm, norm)
    raise ValueError(f"unknown model {config.model!r}; use 'mlp' or 'cnn'")
