"""Our batch-normalization layer, trained with the gradient derived in Problem 3.

Training mode (Ioffe & Szegedy, Algorithm 1), statistics per channel C over
the m = N*H*W elements of that channel (m = N for dense inputs)::

    mu = mean(x),  var = mean((x - mu)**2)          # biased, as in the paper
    xhat = (x - mu) / sqrt(var + eps),  y = gamma * xhat + beta

and the backward pass is the compact closed form of Problem 3::

    dbeta = sum dy,  dgamma = sum dy * xhat
    dx = gamma / (m * sqrt(var + eps)) * (m * dy - dbeta - xhat * dgamma)

Three ways to run that same pair (BatchNorm's `impl`), all tested against
the float64 NumPy reference, so "trained with the gradients derived in
Problem 3" holds whichever runs:

- "ops": `batchnorm_train_compact`, the formula op by op (readable, slow:
  one pass over memory per op).
- "xla" (default): the same functions XLA-compiled, which fuses them into a
  few passes. Fastest on our CPU (TF's CPU fused kernel is about twice as
  slow per layer; see bnbook.tooling.bench).
- "fused_kernel": `batchnorm_train_fused`, TF's FusedBatchNormV3 and
  FusedBatchNormGradV3 (is_training=True computes the compact form).
"""

import keras
import tensorflow as tf


def _forward(x, gamma, beta, epsilon):
    """Algorithm 1 on x (M, C): returns y (M, C) and mean, variance, inv_std (C,)."""
    mean = tf.reduce_mean(x, 0)
    variance = tf.reduce_mean(tf.square(x - mean), 0)  # two passes: no cancellation
    inv_std = tf.math.rsqrt(variance + epsilon)
    y = gamma * ((x - mean) * inv_std) + beta
    return y, mean, variance, inv_std


def _compact_backward(dy, x, gamma, mean, inv_std):
    """Problem 3's closed form on dy, x (M, C): returns dx (M, C), dgamma, dbeta (C,)."""
    m = tf.cast(tf.shape(x)[0], x.dtype)
    xhat = (x - mean) * inv_std  # recomputed, not stored: cheaper than a saved (M, C)
    dbeta = tf.reduce_sum(dy, 0)
    dgamma = tf.reduce_sum(dy * xhat, 0)
    dx = (gamma * inv_std / m) * (m * dy - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


# The same two functions compiled by XLA, which fuses each into one or two
# passes over memory instead of one pass per TF op.
_forward_xla = tf.function(_forward, jit_compile=True, reduce_retracing=True)
_compact_backward_xla = tf.function(_compact_backward, jit_compile=True, reduce_retracing=True)


def batchnorm_train_compact(x, gamma, beta, epsilon, jit=False):
    """Training-mode batch norm as TF ops with the compact backward.

    Inputs: x (N, ..., C) float32; gamma, beta (C,) float32; epsilon float;
    jit: run the ops XLA-compiled (fast) instead of one by one (readable).
    Returns (y, mean, variance): y like x; mean, variance (C,), variance
    biased. Only y carries a gradient; the statistics feed the moving
    averages, which are never differentiated.
    """
    forward, compact_backward = (
        (_forward_xla, _compact_backward_xla)
        if jit
        else (
            _forward,
            _compact_backward,
        )
    )
    shape = tf.shape(x)
    channels = x.shape[-1]

    @tf.custom_gradient
    def batchnorm(x, gamma, beta):
        # Per channel, an (N, H, W, C) batch is an (N*H*W, C) batch.
        x2 = tf.reshape(x, [-1, channels])
        y, mean, variance, inv_std = forward(x2, gamma, beta, epsilon)

        def backward(dy, *unused_stat_grads):
            dy2 = tf.reshape(dy, [-1, channels])
            dx, dgamma, dbeta = compact_backward(dy2, x2, gamma, mean, inv_std)
            return tf.reshape(dx, shape), dgamma, dbeta

        return (tf.reshape(y, shape), mean, variance), backward

    return batchnorm(x, gamma, beta)


def batchnorm_train_fused(x, gamma, beta, epsilon):
    """Same contract as `batchnorm_train_compact`, via TF's fused kernels.

    Any (N, ..., C) input is viewed as (N*..., 1, 1, C), an NHWC tensor whose
    per-channel statistics are the ones we want; the reshape copies nothing.
    """
    shape = tf.shape(x)
    channels = x.shape[-1]

    @tf.custom_gradient
    def forward(x, gamma, beta):
        x4 = tf.reshape(x, [-1, 1, 1, channels])
        out = tf.raw_ops.FusedBatchNormV3(
            x=x4,
            scale=gamma,
            offset=beta,
            mean=tf.constant([], x.dtype),
            variance=tf.constant([], x.dtype),
            epsilon=epsilon,
            is_training=True,
            data_format="NHWC",
        )
        # batch_variance is Bessel-corrected (divides by m - 1); Keras and the
        # paper use the biased one for the moving average, so undo it. For
        # m = 1 the kernel returns 0, which is also the biased variance.
        m = tf.cast(tf.shape(x4)[0], x.dtype)
        variance = out.batch_variance * (m - 1.0) / m

        def backward(dy, *unused_stat_grads):
            # The reserve spaces are whatever this device's forward kernel
            # saved for its own backward (mean and variance on CPU).
            grads = tf.raw_ops.FusedBatchNormGradV3(
                y_backprop=tf.reshape(dy, [-1, 1, 1, channels]),
                x=x4,
                scale=gamma,
                reserve_space_1=out.reserve_space_1,
                reserve_space_2=out.reserve_space_2,
                reserve_space_3=out.reserve_space_3,
                epsilon=epsilon,
                is_training=True,
                data_format="NHWC",
            )
            return tf.reshape(grads.x_backprop, shape), grads.scale_backprop, grads.offset_backprop

        return (tf.reshape(out.y, shape), out.batch_mean, variance), backward

    return forward(x, gamma, beta)


@keras.saving.register_keras_serializable(package="bnbook")
class BatchNorm(keras.layers.Layer):
    """Batch normalization over the last axis, for (N, D) or (N, H, W, C) inputs.

    Same semantics as keras.layers.BatchNormalization(axis=-1): training=True
    normalizes with the batch statistics and updates
    moving = moving * momentum + batch * (1 - momentum) (biased variance);
    training=False (or a frozen layer) uses the moving statistics.

    Args:
        momentum: moving-average momentum, as in Keras (default 0.99, Keras').
        epsilon: added to the variance before the square root.
        impl: how the training-mode forward and compact backward run, all
            computing the same thing: "xla" (default, fastest on our CPU)
            the compact formula XLA-compiled; "fused_kernel" TF's
            FusedBatchNormV3/GradV3; "ops" the formula op by op (readable).
    """

    IMPLS = ("xla", "fused_kernel", "ops")

    def __init__(self, momentum=0.99, epsilon=1e-3, impl="xla", **kwargs):
        super().__init__(**kwargs)
        if impl not in self.IMPLS:
            raise ValueError(f"impl must be one of {self.IMPLS}, got {impl!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.impl = impl

    def build(self, input_shape):
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

    def call(self, inputs, training=False):
        # Statistics in float32 even when the compute dtype is (b)float16:
        # sums of squares overflow or lose all precision in 16 bits.
        x = tf.cast(inputs, "float32")
        gamma = tf.convert_to_tensor(self.gamma)
        beta = tf.convert_to_tensor(self.beta)
        if training and self.trainable:
            if self.impl == "fused_kernel":
                y, mean, variance = batchnorm_train_fused(x, gamma, beta, self.epsilon)
            else:
                jit = self.impl == "xla"
                y, mean, variance = batchnorm_train_compact(x, gamma, beta, self.epsilon, jit)
            # Same arithmetic order as Keras, so the two agree to rounding.
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(
                self.moving_variance * self.momentum + variance * (1.0 - self.momentum)
            )
        else:
            # Inference is one affine map per channel; autodiff handles it.
            scale = gamma * tf.math.rsqrt(tf.convert_to_tensor(self.moving_variance) + self.epsilon)
            y = x * scale + (beta - tf.convert_to_tensor(self.moving_mean) * scale)
        return tf.cast(y, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, epsilon=self.epsilon, impl=self.impl)
        return config
