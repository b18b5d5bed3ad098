"""Training-step time of a model with each normalization layer, over the step without one.

The bench's models are the book's (models.cnn/mlp, train.make_train_step,
train.make_optimizer), built in the configuration's precision.
"""

from dataclasses import replace
from functools import partial

import keras
import tensorflow as tf

from bnbook.networks.batchnorm import BatchNorm
from bnbook.networks.models import build_model
from bnbook.networks.train import make_optimizer, make_train_step, precision_policy
from bnbook.tooling.bench_timing import clock, time_steps

# Normalization layers compared on the CNN; "no_bn" is the baseline of every ratio.
CNN_NORMS = {
    "no_bn": None,
    "ours": BatchNorm,  # default impl, "xla", ReLU in the same layer (as models.cnn builds it)
    "ours_separate_relu": partial(BatchNorm, activation=None),  # a separate ReLU layer after it
    "ours_fused_kernel": partial(BatchNorm, impl="fused_kernel"),
    "ours_ops": partial(BatchNorm, impl="ops"),
    "keras": keras.layers.BatchNormalization,
}
MLP_NORMS = {"no_bn": None, "ours": BatchNorm}

SCHEDULE_STEPS = 1000  # the learning-rate schedule's length; only the step time matters here


def model_with_norm(config, norm):
    """The model `config` names, with normalization layer class `norm` (None: no batch norm)."""
    with precision_policy(config.precision):
        return build_model(replace(config, batch_norm=norm is not None), norm)


def measure_step_ratios(config, norms, x, y, steps_per_repeat=5, repeats=7, warmup=3):
    """Training-step time of `config`'s model with each layer of `norms`, on one fixed batch.

    x (N, 28, 28, 1) float32 and y (N,) int32 are the batch. Returns {"ms":
    {name: median wall ms per step}, "ratio": {name: median over repeats of
    its time / the first entry's (the baseline)}, "cpu_ms": ..., "cpu_ratio": ...}.
    """
    keras.utils.set_random_seed(config.seed)
    x, y = tf.constant(x), tf.constant(y)
    steps = {
        name: make_train_step(model_with_norm(config, norm), make_optimizer(config, SCHEDULE_STEPS))
        for name, norm in norms.items()
    }

    def run(step, num_steps):
        stop = clock()
        for _ in range(num_steps):
            loss, _ = step(x, y)
        loss.numpy()  # wait for the last step
        return stop()

    return time_steps(run, steps, steps_per_repeat, repeats, warmup)
