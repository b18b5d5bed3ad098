"""Builders for every network the book trains, with batch norm on or off.

All models output logits (the softmax lives in the loss). With batch norm, each
hidden layer is linear (no bias: beta replaces it) -> BatchNorm -> nonlinearity,
the placement of Ioffe & Szegedy. The tensor fed to each nonlinearity is a
layer named `act_in_<i>`, so probes can watch its distribution.
"""

import keras

from bnbook.batchnorm import BatchNorm

NUM_CLASSES = 10


def _hidden(x, layer, index: int, norm, activation: str, **layer_args):
    """layer -> (norm) -> activation; the activation's input is named act_in_<index>.

    `norm`: None (no batch norm) or a layer class such as BatchNorm.
    """
    name = f"act_in_{index}"
    if norm is not None:
        x = norm(name=name)(layer(**layer_args, use_bias=False)(x))
    else:
        x = layer(**layer_args, name=name)(x)
    return keras.layers.Activation(activation)(x)


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
    """Convolutional network: 3x3 'same' convolutions (ints) and 2x2 max pools ("pool");
    `batch_norm` and `norm` as in `mlp`."""
    norm = norm if batch_norm else None
    inputs = keras.Input((28, 28, 1))
    x, index = inputs, 0
    for spec in widths:
        if spec == "pool":
            x = keras.layers.MaxPooling2D(2)(x)
            continue
        conv_args = dict(filters=spec, kernel_size=3, padding="same")
        x = _hidden(x, keras.layers.Conv2D, index, norm, "relu", **conv_args)
        index += 1
    x = keras.layers.Flatten()(x)
    for width in dense:
        x = _hidden(x, keras.layers.Dense, index, norm, "relu", units=width)
        index += 1
    outputs = keras.layers.Dense(NUM_CLASSES, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=("bn_" if batch_norm else "") + "cnn")


def build_model(config) -> keras.Model:
    """The model a training config names (see bnbook.experiments.Config)."""
    if config.model == "mlp":
        return mlp(config.widths, config.batch_norm, config.activation)
    if config.model == "cnn":
        return cnn(config.widths, config.dense, config.batch_norm)
    raise ValueError(f"unknown model {config.model!r}; use 'mlp' or 'cnn'")
