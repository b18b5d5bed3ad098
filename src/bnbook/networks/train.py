"""The training step, written out once with GradientTape, and the loop around it.

Evaluation always runs with `training=False`: with batch norm that means the
moving statistics, as at inference, and no update of them. During training a
run evaluates on the validation split; the test set is evaluated once, at the
end, and only by final runs (`Config.evaluate_test`).
"""

import contextlib
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from bnbook.networks import probes
from bnbook.networks.models import build_model
from bnbook.networks.pipeline import to_inputs, train_batches

EVAL_BATCH = 1000
STEPS_PER_CALL = 50  # steps per graph call; the progress bar moves once per call
PROBE_EXAMPLES = 1000  # validation images whose activations the probes summarize
LANDSCAPE_BATCH = 512  # training images the loss-landscape probe steps on
TRAIN_EVAL_EXAMPLES = 5000  # training images evaluated like validation (generalization gap)


def set_determinism(seed: int) -> None:
    """Same config and seed -> identical losses (at some cost in speed)."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def make_optimizer(config, num_steps: int) -> keras.optimizers.Optimizer:
    """The optimizer `config` names at its rate (constant, or cosine-decayed over `num_steps`)."""
    lr = config.lr
    if config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(config.lr, decay_steps=num_steps)
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
    optimizer = optimizers[config.optimizer]()
    if keras.mixed_precision.global_policy().name == "mixed_float16":
        # float16 gradients underflow without it (bfloat16 has float32's exponent range).
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


@contextlib.contextmanager
def precision_policy(name: str):
    """Keras' global dtype policy set to `name` inside the block, the previous one restored."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def loss_function():
    """Softmax cross-entropy on logits (Problem 1's loss), mean over the batch."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


XLA_MIN_STEPS = 300  # below this, compiling costs more than the faster steps save


def compiles_with_xla(config, num_steps: int) -> bool:
    """Whether `config`'s training step is XLA-compiled: the MLP's step is bound by the
    optimizer's passes over its weights, which XLA fuses (about 2x faster on our CPUs),
    worth its compile time from a few hundred steps on; XLA makes the CNN's
    convolutions 2-5x slower, so the CNN runs op by op."""
    return config.model == "mlp" and num_steps >= XLA_MIN_STEPS


def make_train_step(model, optimizer, jit_compile: bool = False):
    """One step: forward, loss, gradients, update. Returns (loss, per-kernel gradient norms)."""
    loss_fn = loss_function()
    kernels = [i for i, v in enumerate(model.trainable_variables) if "kernel" in v.path]

    @tf.function(reduce_retracing=True, jit_compile=jit_compile)
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
            scaled = optimizer.scale_loss(loss)  # the loss itself, unless loss scaling is on
        grads = tape.gradient(scaled, model.trainable_variables)
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


def batch_fingerprint(x, y, config, batches: int = 3) -> str:
    """A digest of the labels of the first `batches` mini-batches a run sees: equal for
    two runs exactly when they train on the same batches in the same order (pairing)."""
    import hashlib

    data = iter(train_batches(x, y, config.batch_size, config.seed, config.shift))
    labels = [next(data)[1].numpy().tobytes() for _ in range(batches)]
    return hashlib.sha256(b"".join(labels)).hexdigest()[:16]


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


def inputs_and_labels(data: dict) -> dict:
    """The split's arrays as the model takes them: {"train": (x, y), "val": ..., "test": ...}."""
    return {
        part: (to_inputs(data[f"x_{part}"]), data[f"y_{part}"].astype(np.int32))
        for part in ("train", "val", "test")
    }


def probe_state(model, step, grad_norms, kernel_names, activations, landscape) -> dict:
    """Everything a probing run records at one evaluation."""
    return dict(
        step=step,
        activations=activations(),
        grad_norms=dict(zip(kernel_names, grad_norms.numpy().tolist(), strict=True)),
        scale_and_shift=probes.scale_and_shift(model),
        landscape=landscape(),
    )


def progress_bar(label: str, num_steps: int, progress: bool, position: int) -> tqdm:
    """A tqdm bar on stderr at terminal line `position` (one per parallel worker)."""
    return tqdm(
        total=num_steps,
        desc=label,
        file=sys.stderr,
        disable=not progress,
        mininterval=2,
        unit="step",
        position=position,
        leave=position == 0,
    )


def training_loop(config, model, arrays, num_steps, per_epoch, progress, bar_position) -> dict:
    """Train `model` for `num_steps`, evaluating on validation every `eval_every` steps.

    Returns {"losses", "evals", "probes", "train_time_s"}.
    """
    (x_train, y_train), (x_val, y_val) = arrays["train"], arrays["val"]
    optimizer = make_optimizer(config, num_steps)
    step = make_train_step(model, optimizer, compiles_with_xla(config, num_steps))
    chunk = make_train_chunk(step)
    batches = iter(train_batches(x_train, y_train, config.batch_size, config.seed, config.shift))
    x_train_eval, y_train_eval = x_train[:TRAIN_EVAL_EXAMPLES], y_train[:TRAIN_EVAL_EXAMPLES]
    if config.probe:
        activations = probes.activation_probe(model, x_val[:PROBE_EXAMPLES])
        kernel_names = [v.path for v in model.trainable_variables if "kernel" in v.path]
        x_l, y_l = x_train[:LANDSCAPE_BATCH], y_train[:LANDSCAPE_BATCH]

        def landscape():
            return probes.loss_landscape(model, loss_function(), x_l, y_l)

    eval_every = config.eval_every or per_epoch
    losses, evals, probed, train_time, i = [], [], [], 0.0, 0
    bar = progress_bar(config.label(), num_steps, progress, bar_position)
    while i < num_steps:  # train up to the next evaluation, then evaluate
        n = min(eval_every - i % eval_every, num_steps - i)
        t0 = time.perf_counter()
        grad_norms = run_steps(chunk, batches, n, losses, bar)
        train_time += time.perf_counter() - t0
        i += n
        val_loss, val_acc = evaluate(model, x_val, y_val)
        train_loss, train_acc = evaluate(model, x_train_eval, y_train_eval)
        evals.append(
            dict(step=i, epoch=i / per_epoch, val_loss=val_loss, val_accuracy=val_acc,
                 train_loss=train_loss, train_accuracy=train_acc)
        )  # fmt: skip
        if config.probe:
            probed.append(probe_state(model, i, grad_norms, kernel_names, activations, landscape))
        bar.set_postfix(loss=f"{float(losses[-1][-1]):.4f}", val_acc=f"{val_acc:.4f}")
    bar.close()
    losses = np.concatenate([v.numpy() for v in losses]).tolist() if losses else []
    return {"losses": losses, "evals": evals, "probes": probed, "train_time_s": train_time}


def train(
    config, data: dict, num_steps: int, per_epoch: int, progress=True, bar_position=0
) -> dict:
    """Train `config` for `num_steps` on `data` (the dict of runs.split.split); what it
    measured (runs.experiments stores it as the run's record).

    `per_epoch`: steps in one pass over the training images; `bar_position`: the
    terminal line of the progress bar (one per parallel worker).
    """
    started = time.perf_counter()
    keras.backend.clear_session()  # layer names (and so probe keys) do not depend on earlier runs
    set_determinism(config.seed)
    with precision_policy(config.precision):
        arrays = inputs_and_labels(data)
        model = build_model(config)
        history = training_loop(config, model, arrays, num_steps, per_epoch, progress, bar_position)
        last = history["evals"][-1]  # evaluated at the last step: the run's final numbers
        val_loss, val_acc = last["val_loss"], last["val_accuracy"]
        test_loss, test_acc = (
            evaluate(model, *arrays["test"]) if config.evaluate_test else (None, None)
        )
    return {
        "train_examples": len(arrays["train"][0]),
        "val_examples": len(arrays["val"][0]),
        "test_examples": len(arrays["test"][0]) if config.evaluate_test else 0,
        "steps": num_steps,
        "batch_fingerprint": batch_fingerprint(*arrays["train"], config),
        **history,
        "val_accuracy": val_acc,
        "val_loss": val_loss,
        "test_accuracy": test_acc,
        "test_loss": test_loss,
        "wall_time_s": time.perf_counter() - started,
        "images_per_second": num_steps * config.batch_size / max(history["train_time_s"], 1e-9),
        "parameters": int(model.count_params()),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }
