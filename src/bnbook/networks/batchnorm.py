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
        out = tf.raw_ops.FusedBatchNormV3(
            x=x4,
            scale=gamma,
            offset=beta,
            mean=tf.constant([], tf.float32),
            variance=tf.constant([], tf.float32),
            epsilon=epsilon,
            is_training=True,
            data_format="NHWC",
        )
        # batch_variance is Bessel-corrected (divides by m - 1); Keras and the
        # paper use the biased one for the moving average, so undo it. For
        # m = 1 the kernel returns 0, which is also the biased variance.
        m = tf.cast(tf.shape(x4)[0], tf.float32)
        variance = out.batch_variance * (m - 1.0) / m
        y = tf.nn.relu(out.y) if activation == "relu" else out.y

        def backward(dy, *unused_stat_grads):
            dy4 = tf.reshape(dy, [-1, 1, 1, channels])
            if activation == "relu":
                dy4 = tf.where(y > 0, dy4, tf.zeros_like(dy4))
            # The reserve spaces are whatever this device's forward kernel
            # saved for its own backward (mean and variance on CPU).
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
            return tf.reshape(grads.x_backprop, shape), grads.scale_backprop, grads.offset_backprop

        return (tf.reshape(y, shape), out.batch_mean, variance), backward

    return forward(x, gamma, beta)


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
        activation receives, for probes of a fused layer (see
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
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            momentum=self.momentum, epsilon=self.epsilon, impl=self.impl, activation=self.activation
        )
        return config


def fuses(norm, activation) -> bool:
    """Whether normalization-layer factory `norm` can apply `activation` itself.

    `norm`: a layer class or a functools.partial of one (as models take). True
    for our BatchNorm and an activation it fuses, unless the partial already
    fixes `activation` (how a caller asks for the unfused layer).
    """
    keywords = getattr(norm, "keywords", {})
    cls = getattr(norm, "func", norm)
    return (
        isinstance(cls, type)
        and issubclass(cls, BatchNorm)
        and activation in BatchNorm.ACTIVATIONS[1:]
        and "activation" not in keywords
    )
