"""Batch norm's training-mode forward and Problem 3's compact backward, as TF functions.

`batchnorm_train_compact` runs the pair op by op (readable) or XLA-compiled
(fast: XLA fuses each function, casts and ReLU included, into one or two passes
over memory); `batchnorm_train_fused` gives the same contract through TF's fused
kernels. networks.batchnorm.BatchNorm chooses among them (its `impl`).
"""

import tensorflow as tf

ACTIVATIONS = (None, "relu")


def _forward(x, gamma, beta, epsilon, relu=False):
    """Algorithm 1 on x (M, C), then ReLU if `relu`.

    x in any float dtype (bfloat16 under mixed precision); gamma, beta (C,)
    float32. Statistics are float32: 16-bit sums of squares overflow or lose
    all precision. Returns y (M, C) in x's dtype and mean, variance, inv_std (C,).
    """
    x32 = tf.cast(x, tf.float32)  # inside XLA this fuses into the reads: no pass of its own
    mean = tf.reduce_mean(x32, 0)
    variance = tf.reduce_mean(tf.square(x32 - mean), 0)  # two passes: no cancellation
    inv_std = tf.math.rsqrt(variance + epsilon)
    y = gamma * ((x32 - mean) * inv_std) + beta
    if relu:
        y = tf.nn.relu(y)
    return tf.cast(y, x.dtype), mean, variance, inv_std


def _compact_backward(dy, x, gamma, beta, mean, inv_std, relu=False):
    """Problem 3's closed form on dy, x (M, C): returns dx (M, C), dgamma, dbeta (C,).

    dy, x in x's dtype; sums and arithmetic in float32, dx back in x's dtype.
    With `relu`, dy is first multiplied by the ReLU's own gradient, 1 where
    its input gamma * xhat + beta (the same expression as the forward's, so
    the same sign as the output) is positive, else 0: the compact form then
    receives the gradient with respect to batch norm's output, as in Problem 3.
    """
    dy32 = tf.cast(dy, tf.float32)
    x32 = tf.cast(x, tf.float32)
    m = tf.cast(tf.shape(x)[0], tf.float32)
    xhat = (x32 - mean) * inv_std  # recomputed, not stored: cheaper than a saved (M, C)
    if relu:  # the mask from xhat too: reading the stored output would cost a pass
        dy32 = tf.where(gamma * xhat + beta > 0, dy32, 0.0)
    dbeta = tf.reduce_sum(dy32, 0)
    dgamma = tf.reduce_sum(dy32 * xhat, 0)
    dx = (gamma * inv_std / m) * (m * dy32 - dbeta - xhat * dgamma)
    return tf.cast(dx, x.dtype), dgamma, dbeta


# The same two functions compiled by XLA, which fuses each (casts and ReLU
# included) into one or two passes over memory instead of one pass per TF op.
_forward_xla = tf.function(_forward, jit_compile=True, reduce_retracing=True)
_compact_backward_xla = tf.function(_compact_backward, jit_compile=True, reduce_retracing=True)


def batchnorm_train_compact(x, gamma, beta, epsilon, jit=False, activation=None):
    """Training-mode batch norm as TF ops with the compact backward.

    Inputs: x (N, ..., C) float32 or bfloat16; gamma, beta (C,) float32;
    epsilon float; jit: run the ops XLA-compiled (fast) instead of one by one
    (readable); activation: None or "relu", applied to y (and its gradient to
    dy) inside the same functions. Returns (y, mean, variance): y like x, in
    x's dtype; mean, variance (C,) float32, variance biased. Only y carries a
    gradient; the statistics feed the moving averages, never differentiated.
    """
    forward, compact_backward = (
        (_forward_xla, _compact_backward_xla) if jit else (_forward, _compact_backward)
    )
    relu = activation == "relu"
    shape = tf.shape(x)
    channels = x.shape[-1]

    @tf.custom_gradient
    def batchnorm(x, gamma, beta):
        # Per channel, an (N, H, W, C) batch is an (N*H*W, C) batch.
        x2 = tf.reshape(x, [-1, channels])
        y, mean, variance, inv_std = forward(x2, gamma, beta, epsilon, relu)

        def backward(dy, *unused_stat_grads):
            dy2 = tf.reshape(dy, [-1, channels])
            dx, dgamma, dbeta = compact_backward(dy2, x2, gamma, beta, mean, inv_std, relu)
            return tf.reshape(dx, shape), dgamma, dbeta

        return (tf.reshape(y, shape), mean, variance), backward

    return batchnorm(x, gamma, beta)


def _fused_kernel_backward(dy4, x4, gamma, out, epsilon):
    """FusedBatchNormGradV3 on NHWC views: returns dx4, dgamma, dbeta.

    The reserve spaces are whatever this device's forward kernel saved for its
    own backward (mean and variance on CPU).
    """
    grads = tf.raw_ops.FusedBatchNormGradV3(
        y_backprop=dy4,
        x=x4,
        scale=gamma,
        reserve_space_1=out.reserve_space_1,
        reserve_space_2=out.reserve_space_2,
        reserve_space_3=out.reserve_space_3,
        epsilon=epsilon,
        is_training=True,
        data_format="NHWC",
    )
    return grads.x_backprop, grads.scale_backprop, grads.offset_backprop


def batchnorm_train_fused(x, gamma, beta, epsilon, activation=None):
    """Same contract as `batchnorm_train_compact`, via TF's fused kernels.

    Any (N, ..., C) input is viewed as (N*..., 1, 1, C), an NHWC tensor whose
    per-channel statistics are the ones we want; the reshape copies nothing.
    The kernels take bfloat16 x with float32 statistics themselves; the ReLU
    and its gradient are separate ops here.
    """
    shape = tf.shape(x)
    channels = x.shape[-1]

    @tf.custom_gradient
    def forward(x, gamma, beta):
        x4 = tf.reshape(x, [-1, 1, 1, channels])
        empty = tf.constant([], tf.float32)
        out = tf.raw_ops.FusedBatchNormV3(x=x4, scale=gamma, offset=beta, mean=empty,
                                          variance=empty, epsilon=epsilon, is_training=True,
                                          data_format="NHWC")  # fmt: skip
        # batch_variance is Bessel-corrected (divides by m - 1); Keras and our layer
        # keep the biased one in the moving average (the paper's Algorithm 2
        # corrects by m/(m-1) at inference instead), so undo it. For m = 1 the
        # kernel returns 0, which is also the biased variance.
        m = tf.cast(tf.shape(x4)[0], tf.float32)
        variance = out.batch_variance * (m - 1.0) / m
        y = tf.nn.relu(out.y) if activation == "relu" else out.y

        def backward(dy, *unused_stat_grads):
            dy4 = tf.reshape(dy, [-1, 1, 1, channels])
            if activation == "relu":
                dy4 = tf.where(y > 0, dy4, tf.zeros_like(dy4))
            dx4, dgamma, dbeta = _fused_kernel_backward(dy4, x4, gamma, out, epsilon)
            return tf.reshape(dx4, shape), dgamma, dbeta

        return (tf.reshape(y, shape), out.batch_mean, variance), backward

    return forward(x, gamma, beta)
