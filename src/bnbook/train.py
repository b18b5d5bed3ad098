"""The training step, written out once with GradientTape, and the loop around it.

Evaluation always runs with `training=False`: with batch norm that means the
moving statistics, as at inference, and no update of them.
"""

import math
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from bnbook.models import build_model
from bnbook.provenance import library_versions

EVAL_BATCH = 1000
PROBE_PERCENTILES = (5, 15, 50, 85, 95)


def set_determinism(seed: int) -> None:
    """Same config and seed -> identical losses (at some cost in speed)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def to_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., None]


def train_batches(x, y, batch_size: int, seed: int) -> tf.data.Dataset:
    """Endless, seeded, reshuffled-every-epoch batches of the training set."""
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def make_optimizer(config, total_steps: int) -> keras.optimizers.Optimizer:
    lr = config.lr
    if config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=total_steps)
    elif config.schedule != "constant":
        raise ValueError(f"unknown schedule {config.schedule!r}; use 'cosine' or 'constant'")
    optimizers = {
        "sgd": lambda: keras.optimizers.SGD(lr),
        "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
        "rmsprop": lambda: keras.optimizers.RMSprop(lr),
        "adam": lambda: keras.optimizers.Adam(lr),
    }
    if config.optimizer not in optimizers:
        raise ValueError(f"unknown optimizer {config.optimizer!r}; use one of {list(optimizers)}")
    return optimizers[config.optimizer]()


def make_train_step(model, optimizer):
    """One step: forward, loss, gradients, update. Returns (loss, per-kernel gradient norms)."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    kernels = [i for i, v in enumerate(model.trainable_variables) if "kernel" in v.path]

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss, tf.stack([tf.norm(tf.cast(grads[i], tf.float32)) for i in kernels])

    return step


def run_steps(step, batches, num_steps: int, losses: list, bar=None):
    """`num_steps` training steps on the next of `batches`; returns the last gradient norms.

    Each step's loss is appended to `losses` as a tensor: converting it here
    would make the host wait for every step (train converts them all at the
    end). `bar`, if given, is a tqdm bar advanced once per step. This is the
    whole per-step work of `train`, and what bnbook.bench times against model.fit.
    """
    for _ in range(num_steps):
        x, y = next(batches)
        loss, grad_norms = step(x, y)
        losses.append(loss)
        if bar is not None:
            bar.update(1)
    return grad_norms


def evaluate(model, x, y) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) over (x, y), in inference mode."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), EVAL_BATCH):
        logits = model(x[start : start + EVAL_BATCH], training=False)
        labels = y[start : start + EVAL_BATCH]
        losses = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        total_loss += float(tf.reduce_sum(losses))
        correct += int(np.sum(np.argmax(logits, axis=1) == labels))
    return total_loss / len(x), correct / len(x)


def activation_probe(model, x_probe):
    """A callable giving percentiles of each nonlinearity's input on fixed examples."""
    layers = [la for la in model.layers if la.name.startswith("act_in_")]
    probe = keras.Model(model.inputs, [la.output for la in layers])

    def run():
        outs = probe(x_probe, training=False)
        outs = outs if isinstance(outs, list) else [outs]
        return {
            la.name: {
                "all": np.percentile(np.asarray(o, np.float32), PROBE_PERCENTILES).tolist(),
                # One fixed unit (channel 0), as in Ioffe & Szegedy's Figure 1.
                "unit0": np.percentile(
                    np.asarray(o[..., 0], np.float32), PROBE_PERCENTILES
                ).tolist(),
            }
            for la, o in zip(layers, outs, strict=True)
        }

    return run


def steps_for(config, num_train: int, profile) -> int:
    steps = config.steps or config.epochs * math.ceil(num_train / config.batch_size)
    if profile.max_steps is not None:
        steps = min(steps, profile.max_steps)
    return steps


def train(config, data: dict, profile, progress: bool = True) -> dict:
    """Train `config` on `data` (the dict of load_mnist) and return its record."""
    started = time.perf_counter()
    set_determinism(config.seed)
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        x_train, y_train = to_inputs(data["x_train"]), data["y_train"].astype(np.int32)
        x_test, y_test = to_inputs(data["x_test"]), data["y_test"].astype(np.int32)
        total_steps = steps_for(config, len(x_train), profile)
        steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
        eval_every = config.eval_every or steps_per_epoch
        model = build_model(config)
        optimizer = make_optimizer(config, total_steps)
        step = make_train_step(model, optimizer)
        probe = activation_probe(model, x_test[:1000]) if config.probe else None
        kernel_names = [v.path for v in model.trainable_variables if "kernel" in v.path]

        losses, evals, probes = [], [], []
        train_time = 0.0
        batches = iter(train_batches(x_train, y_train, config.batch_size, config.seed))
        bar = tqdm(
            total=total_steps,
            desc=config.label(),
            file=sys.stderr,
            disable=not progress,
            mininterval=2,
            unit="step",
        )
        i = 0
        while i < total_steps:  # train up to the next evaluation, then evaluate
            num_steps = min(eval_every - i % eval_every, total_steps - i)
            t0 = time.perf_counter()
            grad_norms = run_steps(step, batches, num_steps, losses, bar)
            train_time += time.perf_counter() - t0
            i += num_steps
            test_loss, test_acc = evaluate(model, x_test, y_test)
            epoch = i / steps_per_epoch
            evals.append(dict(step=i, epoch=epoch, test_loss=test_loss, test_accuracy=test_acc))
            if probe:
                norms = dict(zip(kernel_names, grad_norms.numpy().tolist(), strict=True))
                probes.append(dict(step=i, activations=probe(), grad_norms=norms))
            bar.set_postfix(loss=f"{float(losses[-1]):.4f}", test_acc=f"{test_acc:.4f}")
        bar.close()
    finally:
        keras.mixed_precision.set_global_policy("float32")

    return {
        "config": config.as_dict(),
        "profile": profile.name,
        "versions": library_versions(),
        "train_examples": len(x_train),
        "test_examples": len(x_test),
        "steps": total_steps,
        "losses": [float(v) for v in losses],
        "evals": evals,
        "probes": probes,
        "test_accuracy": evals[-1]["test_accuracy"],
        "test_loss": evals[-1]["test_loss"],
        "train_time_s": train_time,
        "wall_time_s": time.perf_counter() - started,
        "images_per_second": total_steps * config.batch_size / train_time,
        "parameters": int(model.count_params()),
    }
