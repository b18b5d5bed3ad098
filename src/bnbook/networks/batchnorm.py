"""Our batch-normalization layer, trained with the gradient derived in Problem 3.

Training mode (Ioffe & Szegedy, Algorithm 1), statistics per channel C over
the m = N*H*W elements of that channel (m = N for dense inputs)::

    mu = mean(x),  var = mean((x - mu)**2)          # biased, as in the paper
    xhat = (x - mu) / sqrt(var + eps),  y = gamma * xhat + beta

and the backward pass is the compact closed form of Problem 3::

    dbeta = sum dy,  dgamma = sum dy * xhat
    dx = gamma / (m * sqrt(var + eps)) * (m * dy - dbeta - xhat * dgamma)

Three ways to run that same pair (BatchNorm's `impl`, the functions in
networks.batchnorm_ops), all tested against the float64 NumPy reference, so
"trained with the gradients derived in Problem 3" holds whichever runs:

- "ops": `batchnorm_train_compact`, the formula op by op (readable, slow:
  one pass over memory per op).
- "xla" (default): the same functions XLA-compiled, which fuses them into a
  few passes. Fastest on our CPU (TF's CPU fused kernel is about twice as
  slow per layer; see bnbook.tooling.bench).
- "fused_kernel": `batchnorm_train_fused`, TF's FusedBatchNormV3 and
  FusedBatchNormGradV3 (is_training=True computes the compact form).

Under mixed precision x, y, dy and dx are bfloat16 while the statistics and
the backward's sums are float32; the conversions happen inside the compiled
functions, where they cost no pass over memory of their own. With
`activation="relu"` the layer also applies the ReLU that follows it in our
networks, in the same functions; the backward first multiplies dy by the
ReLU's own gradient (1 where y > 0, else 0, recomputed from x), so the
compact form above still receives the gradient with respect to batch norm's
output, as in Problem 3.
"""

import keras
import tensorflow as tf

from bnbook.networks.batchnorm_ops import (
    ACTIVATIONS,
    batchnorm_train_compact,
    batchnorm_train_fused,
)


@keras.saving.register_keras_serializable(package="bnbook")
class BatchNorm(keras.layers.Layer):
    """Batch normalization over the last axis, for (N, D) or (N, H, W, C) inputs.

    Same semantics as keras.layers.BatchNormalization(axis=-1): training=True
    normalizes with the batch statistics and updates
    moving = moving * momentum + batch * (1 - momentum) (biased variance);
    training=False (or a frozen layer) uses the moving statistics. Input and
    output are in the compute dtype (bfloat16 under mixed_bfloat16); weights,
    statistics and sums are float32.

    Args:
        momentum: moving-average momentum, as in Keras (default 0.99, Keras').
        epsilon: added to the variance before the square root.
        impl: how the training-mode forward and compact backward run, all
            computing the same thing: "xla" (default, fastest on our CPU)
            the compact formula XLA-compiled; "fused_kernel" TF's
            FusedBatchNormV3/GradV3; "ops" the formula op by op (readable).
        activation: None, or "relu" to apply ReLU to the output inside the
            same compiled functions (the backward multiplies dy by ReLU's
            gradient before the compact form): one pass over memory less in
            each direction than a separate ReLU layer.
    """

    IMPLS = ("xla", "fused_kernel", "ops")
    ACTIVATIONS = ACTIVATIONS

    def __init__(self, momentum=0.99, epsilon=1e-3, impl="xla", activation=None, **kwargs):
        super().__init__(**kwargs)
        if impl not in self.IMPLS:
            raise ValueError(f"impl must be one of {self.IMPLS}, got {impl!r}")
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {self.ACTIVATIONS}, got {activation!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.impl = impl
        self.activation = activation

    def build(self, input_shape):
        """gamma, beta (trained) and the moving mean and variance, one per channel, float32."""
        shape = (input_shape[-1],)

        # autocast=False keeps the variables float32 under mixed precision.
        def weight(name, init, trainable):
            return self.add_weight(
                shape=shape, name=name, initializer=init, trainable=trainable, autocast=False
            )

        self.gamma = weight("gamma", "ones", True)
        self.beta = weight("beta", "zeros", True)
        self.moving_mean = weight("moving_mean", "zeros", False)
        self.moving_variance = weight("moving_variance", "ones", False)

    def call(self, inputs, training=False, pre_activation=False):
        """y = activation(batch norm(inputs)), in the compute dtype.

        pre_activation=True leaves the activation out: the tensor the
        activation receives, for probes of a layer that applies its activation (see
        models.nonlinearity_input).
        """
        activation = None if pre_activation else self.activation
        x = tf.cast(inputs, self.compute_dtype)  # a no-op when the input already is
        gamma = tf.convert_to_tensor(self.gamma)
        beta = tf.convert_to_tensor(self.beta)
        if training and self.trainable:
            if self.impl == "fused_kernel":
                y, mean, variance = batchnorm_train_fused(x, gamma, beta, self.epsilon, activation)
            else:
                jit = self.impl == "xla"
                y, mean, variance = batchnorm_train_compact(
                    x, gamma, beta, self.epsilon, jit, activation
                )
            # Same arithmetic order as Keras, so the two agree to rounding.
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
            )
            return y
        # Inference is one affine map per channel, in float32; autodiff handles it.
        scale = gamma * tf.math.rsqrt(tf.convert_to_tensor(self.moving_variance) + self.epsilon)
        offset = beta - tf.convert_to_tensor(self.moving_mean) * scale
        y = tf.cast(x, tf.float32) * scale + offset
        if activation == "relu":
            y = tf.nn.relu(y)
        return tf.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        """The input's shape: batch norm and ReLU act elementwise."""
        return input_shape

    def get_config(self):
        """The constructor's arguments, so a saved model rebuilds the same layer."""
        config = super().get_config()
        config.update(
            momentum=self.momentum, epsilon=self.epsilon, impl=self.impl, activation=self.activation
        )
        return config


def takes_activation(norm, activation) -> bool:
    """Whether normalization-layer factory `norm` can apply `activation` itself.

    `norm`: a layer class or a functools.partial of one (as models take). True
    for our BatchNorm and an activation it applies itself, unless the partial already
    fixes `activation` (how a caller asks for a separate activation layer).
    """
    keywords = getattr(norm, "keywords", {})
    cls = getattr(norm, "func", norm)
    return (
        isinstance(cls, type)
        and issubclass(cls, BatchNorm)
        and activation in BatchNorm.ACTIVATIONS[1:]
        and "activation" not in keywords
    )
