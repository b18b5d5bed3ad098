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

from bnbook.networks.models import build_model, nonlinearity_input
from bnbook.runs.provenance import library_versions

EVAL_BATCH = 1000
STEPS_PER_CALL = 50  # steps per graph call; the progress bar moves once per call
PROBE_PERCENTILES = (5, 15, 50, 85, 95)


def set_determinism(seed: int) -> None:
    """Same config and seed -> identical losses (at some cost in speed)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def to_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., None]


def random_shifts(images, max_shift: int, seed):
    """Each image (N, H, W, C) moved by its own random whole-pixel shift (dx, dy), up to max_shift.

    Pixels shifted in are 0 (background). `seed` is a stateless-RNG seed (2
    integers): the same seed gives the same shifts.
    """
    n = tf.shape(images)[0]
    shifts = tf.random.stateless_uniform([n, 2], seed, -max_shift, max_shift + 1, tf.int32)
    shifts = tf.cast(shifts, tf.float32)
    one, zero = tf.ones([n]), tf.zeros([n])
    # Output pixel (x, y) reads input pixel (x - dx, y - dy).
    transforms = tf.stack([one, zero, -shifts[:, 0], zero, one, -shifts[:, 1], zero, zero], 1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="NEAREST",
        fill_mode="CONSTANT",
    )


def train_batches(x, y, batch_size: int, seed: int, max_shift: int = 0) -> tf.data.Dataset:
    """Endless, seeded, reshuffled-every-epoch batches of the training set.

    With `max_shift` > 0, every image of every batch is randomly shifted by up
    to that many pixels (augmentation), seeded by (seed, batch number).
    """
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size)
    if max_shift:
        ds = ds.enumerate().map(
            lambda i, batch: (random_shifts(batch[0], max_shift, tf.stack([seed, i])), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return ds.prefetch(tf.data.AUTOTUNE)


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

    step.num_kernels = len(kernels)
    return step


def make_train_chunk(step):
    """Many steps in one call: (iterator, num_steps) -> (losses (num_steps,), last grad norms).

    The loop runs inside the graph and takes its batches from the tf.data
    iterator there, as model.fit's steps_per_execution does: calling back into
    Python for every step costs about 1 ms, as much as a whole step of a small MLP.
    """

    @tf.function
    def chunk(iterator, num_steps):
        losses = tf.TensorArray(tf.float32, size=num_steps)
        grad_norms = tf.zeros([step.num_kernels])
        for i in tf.range(num_steps):
            x, y = next(iterator)
            loss, grad_norms = step(x, y)
            losses = losses.write(i, tf.cast(loss, tf.float32))
        return losses.stack(), grad_norms

    return chunk


def run_steps(
    chunk, batches, num_steps: int, losses: list, bar=None, steps_per_call=STEPS_PER_CALL
):
    """`num_steps` training steps on the next of `batches`; returns the last gradient norms.

    `chunk` is a make_train_chunk function, `batches` an iterator over a
    train_batches dataset. Each call's losses are appended to `losses` as one
    tensor (train converts them all at the end). `bar`, if given, is a tqdm
    bar advanced as steps complete. This is the whole per-step work of
    `train`, and what bnbook.tooling.bench times against model.fit.
    """
    done = 0
    while done < num_steps:
        n = min(steps_per_call, num_steps - done)
        chunk_losses, grad_norms = chunk(batches, tf.constant(n))
        losses.append(chunk_losses)
        done += n
        if bar is not None:
            bar.update(n)
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
    probe = keras.Model(model.inputs, [nonlinearity_input(la) for la in layers])

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


def train(config, data: dict, profile, progress: bool = True, bar_position: int = 0) -> dict:
    """Train `config` on `data` (the dict of load_mnist) and return its record.

    `bar_position`: the terminal line of the progress bar (one per parallel worker).
    """
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
        chunk = make_train_chunk(make_train_step(model, optimizer))
        probe = activation_probe(model, x_test[:1000]) if config.probe else None
        kernel_names = [v.path for v in model.trainable_variables if "kernel" in v.path]

        losses, evals, probes = [], [], []
        train_time = 0.0
        batches = iter(
            train_batches(x_train, y_train, config.batch_size, config.seed, config.shift)
        )
        bar = tqdm(
            total=total_steps,
            desc=config.label(),
            file=sys.stderr,
            disable=not progress,
            mininterval=2,
            unit="step",
            position=bar_position,
            leave=bar_position == 0,
        )
        i = 0
        while i < total_steps:  # train up to the next evaluation, then evaluate
            num_steps = min(eval_every - i % eval_every, total_steps - i)
            t0 = time.perf_counter()
            grad_norms = run_steps(chunk, batches, num_steps, losses, bar)
            train_time += time.perf_counter() - t0
            i += num_steps
            test_loss, test_acc = evaluate(model, x_test, y_test)
            epoch = i / steps_per_epoch
            evals.append(dict(step=i, epoch=epoch, test_loss=test_loss, test_accuracy=test_acc))
            if probe:
                norms = dict(zip(kernel_names, grad_norms.numpy().tolist(), strict=True))
                probes.append(dict(step=i, activations=probe(), grad_norms=norms))
            bar.set_postfix(loss=f"{float(losses[-1][-1]):.4f}", test_acc=f"{test_acc:.4f}")
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
        "losses": np.concatenate([v.numpy() for v in losses]).tolist(),
        "evals": evals,
        "probes": probes,
        "test_accuracy": evals[-1]["test_accuracy"],
        "test_loss": evals[-1]["test_loss"],
        "train_time_s": train_time,
        "wall_time_s": time.perf_counter() - started,
        "images_per_second": total_steps * config.batch_size / train_time,
        "parameters": int(model.count_params()),
        "created": time.time(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }
