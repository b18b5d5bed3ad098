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
norm that is a choice, not an identity: `placement="after_pool"` takes the
statistics of the pooled maps (the values the next layer receives), and
`"before_pool"` those of the whole map, as the paper does; 4.3 compares the two
on validation.
"""

from functools import partial

import keras

from bnbook.networks.architecture import IMAGE_SHAPE, KERNEL_SIZE, NUM_CLASSES, conv_blocks
from bnbook.networks.batchnorm import BatchNorm, takes_activation

PLACEMENTS = ("after_pool", "before_pool")


def _hidden(x, layer, index, norm, activation, pool=False, placement="after_pool", **layer_args):
    """layer -> [2x2 max pool] -> [norm] -> activation, or with `placement="before_pool"`
    and a norm, layer -> norm -> activation -> pool (the paper's order).

    `norm`: None (no batch norm) or a layer class such as BatchNorm. The tensor
    fed to the activation comes from a layer named act_in_<index> (for the probes).
    When the norm can apply the activation itself (our BatchNorm with ReLU), it
    does, in one pass: act_in_<index> is then the norm that applies the activation,
    and `nonlinearity_input` gives the tensor its activation receives.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown batch-norm placement {placement!r}; use one of {PLACEMENTS}")
    name = f"act_in_{index}"
    one_layer = takes_activation(norm, activation)
    pool_first = pool and (norm is None or placement == "after_pool")
    x = layer(**layer_args, use_bias=norm is None, name=None if pool_first or norm else name)(x)
    if pool_first:
        x = keras.layers.MaxPooling2D(2, name=None if norm else name)(x)
    if one_layer:
        x = norm(name=name, activation=activation)(x)
    else:
        if norm is not None:
            x = norm(name=name)(x)
        x = keras.layers.Activation(activation)(x)
    if pool and not pool_first:
        x = keras.layers.MaxPooling2D(2)(x)
    return x


def nonlinearity_input(layer):
    """The symbolic tensor the nonlinearity receives at layer `act_in_<i>`, for probes.

    The layer's output, or for a batch norm that applies its activation, the same
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
    inputs = keras.Input(IMAGE_SHAPE)
    x = keras.layers.Flatten()(inputs)
    for i, width in enumerate(widths):
        x = _hidden(x, keras.layers.Dense, i, norm, activation, units=width)
    outputs = keras.layers.Dense(NUM_CLASSES, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=("bn_" if batch_norm else "") + "mlp")


def cnn(
    widths=(32, "pool", 64, "pool"),
    dense=(128,),
    batch_norm=False,
    norm=BatchNorm,
    placement="after_pool",
):
    """Convolutional network: 3x3 'same' convolutions (ints), each optionally followed by a
    2x2 max pool ("pool"), then dense layers; `batch_norm` and `norm` as in `mlp`;
    `placement`: batch norm "after_pool" or "before_pool" (see `_hidden`)."""
    norm = norm if batch_norm else None
    inputs = keras.Input(IMAGE_SHAPE)
    x, index = inputs, 0
    for filters, pool in conv_blocks(widths):
        conv_args = dict(filters=filters, kernel_size=KERNEL_SIZE, padding="same")
        x = _hidden(x, keras.layers.Conv2D, index, norm, "relu", pool, placement, **conv_args)
        index += 1
    x = keras.layers.Flatten()(x)
    for width in dense:
        x = _hidden(x, keras.layers.Dense, index, norm, "relu", units=width)
        index += 1
    outputs = keras.layers.Dense(NUM_CLASSES, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=("bn_" if batch_norm else "") + "cnn")


def build_model(config, norm=None) -> keras.Model:
    """The model a training config names (see bnbook.runs.config.Config).

    `norm`: the normalization layer class when `config.batch_norm` (default: our
    BatchNorm with the config's momentum; the benchmark passes Keras' layer).
    """
    norm = norm or partial(BatchNorm, momentum=config.bn_momentum)
    if config.model == "mlp":
        return mlp(config.widths, config.batch_norm, config.activation, norm)
    if config.model == "cnn":
        return cnn(config.widths, config.dense, config.batch_norm, norm, config.bn_placement)
    raise ValueError(f"unknown model {config.model!r}; use 'mlp' or 'cnn'")
