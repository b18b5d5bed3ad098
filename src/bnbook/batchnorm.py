"""Our batch-normalization layer, trained with the gradient derived in Problem 3.

Training mode (Ioffe & Szegedy, Algorithm 1), statistics per channel C over
the m = N*H*W elements of that channel (m = N for dense inputs)::

    mu = mean(x),  var = mean((x - mu)**2)          # biased, as in the paper
    xhat = (x - mu) / sqrt(var + eps),  y = gamma * xhat + beta

and the backward pass is the compact closed form of Problem 3::

    dbeta = sum dy,  dgamma = sum dy * xhat
    dx = gamma / (m * sqrt(var + eps)) * (m * dy - dbeta - xhat * dgamma)

Two implementations of that same pair:

- `batchnorm_train_compact`: plain TF ops, the formula as written (readable).
- `batchnorm_train_fused`: TF's fused kernels. FusedBatchNormGradV3 with
  is_training=True computes exactly the compact form above; the tests check
  it against the float64 NumPy reference, so "trained with the gradients
  derived in Problem 3" holds for the fast path too.
"""

import keras
import tensorflow as tf


def batchnorm_train_compact(x, gamma, beta, epsilon):
    """Training-mode batch norm as plain TF ops with the compact backward.

    Inputs: x (N, ..., C) float32; gamma, beta (C,) float32; epsilon float.
    Returns (y, mean, variance): y like x; mean, variance (C,), variance
    biased. Only y carries a gradient; the statistics feed the moving
    averages, which are never differentiated.
    """
    axes = list(range(x.shape.rank - 1))

    @tf.custom_gradient
    def forward(x, gamma, beta):
        mean, variance = tf.nn.moments(x, axes)
        inv_std = tf.math.rsqrt(variance + epsilon)
        xhat = (x - mean) * inv_std
        y = gamma * xhat + beta

        def backward(dy, *unused_stat_grads):
            m = tf.cast(tf.size(x) // tf.shape(x)[-1], x.dtype)
            dbeta = tf.reduce_sum(dy, axes)
            dgamma = tf.reduce_sum(dy * xhat, axes)
            dx = (gamma * inv_std / m) * (m * dy - dbeta - xhat * dgamma)
            return dx, dgamma, dbeta

        return (y, mean, variance), backward

    return forward(x, gamma, beta)


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
        momentum: moving-average momentum, as in Keras.
        epsilon: added to the variance before the square root.
        fused: True (default) uses TF's fused kernels, False the plain-ops
            compact formula; both compute the same forward and gradient.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, fused=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.fused = bool(fused)

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
            train_fn = batchnorm_train_fused if self.fused else batchnorm_train_compact
            y, mean, variance = train_fn(x, gamma, beta, self.epsilon)
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
        config.update(momentum=self.momentum, epsilon=self.epsilon, fused=self.fused)
        return config
