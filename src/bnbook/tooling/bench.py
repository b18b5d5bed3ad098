"""Speed of our training: batch norm's cost per step, and our loop vs `model.fit`.

The project's targets, measured here in one run (`make bench`):

- bn_step_ratio: the book's CNN (studies.CNN) training step with our BatchNorm
  (default impl) over the same step without batch norm; target <= 1.15.
- keras_bn_step_ratio: the same with keras.layers.BatchNormalization.
- loop_vs_fit_ratio: images/second of our training loop (train.run_steps) over
  `model.fit`'s, same model and same `train_batches` pipeline; target >= 1.

Everything trains with the book's own pieces: models.cnn/mlp,
train.make_train_step, train.make_optimizer, train.train_batches and the
loop's train.run_steps. Timings on a shared machine are noisy, so variants
are interleaved within each repeat, and each ratio is the median over repeats
of the ratio of the two timings in that repeat: drift in the load of other
jobs largely cancels. Wall time is the target; process CPU time is reported
too, since when other jobs hold the cores wall time mostly measures waiting.
Never a test assertion: a measurement to run.

Run: python -m bnbook.tooling.bench. The last line printed is one JSON object.
"""

import json
import statistics
import time
from functools import partial

import keras
import numpy as np
import tensorflow as tf

from bnbook.networks import models
from bnbook.networks.batchnorm import BatchNorm
from bnbook.networks.train import (
    make_optimizer,
    make_train_chunk,
    make_train_step,
    run_steps,
    to_inputs,
    train_batches,
)
from bnbook.runs import studies
from bnbook.runs.data import load_mnist

# Normalization layers compared on the CNN; "no_bn" is the baseline of every ratio.
CNN_NORMS = {
    "no_bn": None,
    "ours": BatchNorm,  # default impl, "xla"
    "ours_fused_kernel": partial(BatchNorm, impl="fused_kernel"),
    "ours_ops": partial(BatchNorm, impl="ops"),
    "keras": keras.layers.BatchNormalization,
}
MLP_NORMS = {"no_bn": None, "ours": BatchNorm}


def _model(config, norm):
    """The model `config` names, with normalization layer class `norm` (None: no batch norm)."""
    builder = {"mlp": models.mlp, "cnn": partial(models.cnn, dense=config.dense)}[config.model]
    keras.mixed_precision.set_global_policy(config.precision)
    try:
        return builder(config.widths, batch_norm=norm is not None, norm=norm)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _medians(samples, baseline):
    """{name: [seconds per repeat]} -> ({name: median}, {name: median of ratios to baseline})."""
    median = {name: statistics.median(s) for name, s in samples.items()}
    ratio = {
        name: statistics.median(t / t0 for t, t0 in zip(s, samples[baseline], strict=True))
        for name, s in samples.items()
    }
    return median, ratio


def _clock():
    """A stopwatch: call it to start, call what it returns for (wall s, process CPU s) since."""
    wall, cpu = time.perf_counter(), time.process_time()
    return lambda: (time.perf_counter() - wall, time.process_time() - cpu)


def _interleaved(runs, repeats):
    """Run each callable of `runs` once per repeat; each returns (wall, cpu) seconds.

    The order alternates between repeats (forward, backward), so that no
    variant always runs first, or always after the same one.
    Returns ({name: [wall s per repeat]}, {name: [process CPU s per repeat]}).
    """
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in list(runs)[:: 1 if repeat % 2 == 0 else -1]:
            run = runs[name]
            w, c = run()
            wall[name].append(w)
            cpu[name].append(c)
    return wall, cpu


def _summary(wall, cpu, scale, baseline):
    """Medians of wall and CPU times times `scale`, and medians of paired ratios to `baseline`."""
    wall = {name: [t * scale for t in s] for name, s in wall.items()}
    cpu = {name: [t * scale for t in s] for name, s in cpu.items()}
    wall_median, wall_ratio = _medians(wall, baseline)
    cpu_median, cpu_ratio = _medians(cpu, baseline)
    return {"ms": wall_median, "ratio": wall_ratio, "cpu_ms": cpu_median, "cpu_ratio": cpu_ratio}


def measure_step_ratios(config, norms, x, y, steps_per_repeat=5, repeats=7, warmup=3):
    """Training-step time of `config`'s model with each layer of `norms`, on one fixed batch.

    x (N, 28, 28, 1) float32 and y (N,) int32 are the batch. Returns {"ms":
    {name: median wall ms per step}, "ratio": {name: median over repeats of
    its time / the first entry's (the baseline)}, "cpu_ms": ..., "cpu_ratio": ...}.
    """
    keras.utils.set_random_seed(config.seed)
    x, y = tf.constant(x), tf.constant(y)
    steps = {
        name: make_train_step(_model(config, norm), make_optimizer(config, total_steps=1000))
        for name, norm in norms.items()
    }

    def run(step, num_steps):
        stop = _clock()
        for _ in range(num_steps):
            loss, _ = step(x, y)
        loss.numpy()  # wait for the last step
        return stop()

    for step in steps.values():
        run(step, warmup)
    runs = {name: partial(run, step, steps_per_repeat) for name, step in steps.items()}
    return _summary(*_interleaved(runs, repeats), 1e3 / steps_per_repeat, next(iter(norms)))


class _FitClock(keras.callbacks.Callback):
    """Times model.fit from the end of its first step to the end of its last."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.stop = _clock()
        self.elapsed = self.stop()


def measure_loop_vs_fit(config, x, y, steps_per_repeat=20, repeats=7, warmup=1):
    """Images/second of our loop and of model.fit, same model and `train_batches` pipeline.

    x (N, 28, 28, 1) float32, y (N,) int32: the training set. Each repeat
    starts a fresh pipeline (as a training run or a fit call does) and times
    `steps_per_repeat` steps after the first, whose batch waits for the
    shuffle buffer to fill. Returns {"images_per_second": {"loop", "fit"},
    "ms": {...} per step, "ratio": {...} time per step / fit's, "cpu_ms": ...,
    "cpu_ratio": ...}; loop_vs_fit is 1 / ratio["loop"].
    """
    keras.utils.set_random_seed(config.seed)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    norm = BatchNorm if config.batch_norm else None
    step = make_train_step(_model(config, norm), make_optimizer(config, total_steps=1000))
    chunk = make_train_chunk(step)
    fit_model = _model(config, norm)
    fit_model.compile(optimizer=make_optimizer(config, total_steps=1000), loss=loss)

    def pipeline():
        return train_batches(x, y, config.batch_size, config.seed)

    def loop():
        batches, losses = iter(pipeline()), []
        run_steps(chunk, batches, 1, losses)
        stop = _clock()
        run_steps(chunk, batches, steps_per_repeat, losses)
        losses[-1].numpy()  # wait for the last step
        return stop()

    def fit():
        clock = _FitClock()
        fit_model.fit(
            pipeline(),
            steps_per_epoch=steps_per_repeat + 1,
            epochs=1,
            verbose=0,
            callbacks=[clock],
            shuffle=False,  # the pipeline shuffles; fit would warn that it ignores shuffle=True
        )
        return clock.elapsed

    runs = {"fit": fit, "loop": loop}
    for _ in range(warmup):
        for run in runs.values():
            run()
    result = _summary(*_interleaved(runs, repeats), 1e3 / steps_per_repeat, "fit")
    result["images_per_second"] = {
        name: config.batch_size * 1e3 / ms for name, ms in result["ms"].items()
    }
    return result


def run(x, y, step_repeats=25, steps_per_repeat=2, fit_repeats=9, fit_steps=20):
    """Every measurement on training set x (N, 28, 28, 1), y (N,): the dict `main` prints.

    Step ratios use the first batch_size examples as one fixed batch. Many
    short repeats, because other jobs' bursts of load last about a second.
    """
    batch = x[: studies.CNN.batch_size], y[: studies.CNN.batch_size]
    cnn = measure_step_ratios(studies.CNN, CNN_NORMS, *batch, steps_per_repeat, step_repeats)
    mlp = measure_step_ratios(studies.MLP, MLP_NORMS, *batch, steps_per_repeat, step_repeats)
    loop = measure_loop_vs_fit(studies.CNN_BN, x, y, fit_steps, fit_repeats)
    return {
        "bn_step_ratio": cnn["ratio"]["ours"],
        "keras_bn_step_ratio": cnn["ratio"]["keras"],
        "loop_vs_fit_ratio": 1 / loop["ratio"]["loop"],
        "bn_step_cpu_ratio": cnn["cpu_ratio"]["ours"],
        "keras_bn_step_cpu_ratio": cnn["cpu_ratio"]["keras"],
        "loop_vs_fit_cpu_ratio": 1 / loop["cpu_ratio"]["loop"],
        "cnn_step_ratio": cnn["ratio"],
        "cnn_step_cpu_ratio": cnn["cpu_ratio"],
        "cnn_ms_per_step": cnn["ms"],
        "cnn_cpu_ms_per_step": cnn["cpu_ms"],
        "mlp_bn_step_ratio": mlp["ratio"]["ours"],
        "mlp_bn_step_cpu_ratio": mlp["cpu_ratio"]["ours"],
        "mlp_ms_per_step": mlp["ms"],
        "images_per_second": loop["images_per_second"],
        "loop_fit_ms_per_step": loop["ms"],
        "batch_size": studies.CNN.batch_size,
        "precision": studies.CNN.precision,
        "repeats": {"step": step_repeats, "loop_vs_fit": fit_repeats},
        "targets": {"bn_step_ratio": "<= 1.15", "loop_vs_fit_ratio": ">= 1"},
    }


def table(result) -> str:
    """The readable part of `main`'s output."""
    lines = [
        f"CNN training step, batch {result['batch_size']}, {result['precision']}"
        " (ratio: median over repeats of variant / no_bn)",
        f"{'variant':18s} {'wall ms':>8s} {'ratio':>6s} {'cpu ms':>8s} {'ratio':>6s}",
    ]
    for name in CNN_NORMS:
        lines.append(
            f"{name:18s} {result['cnn_ms_per_step'][name]:8.1f} "
            f"{result['cnn_step_ratio'][name]:6.3f} "
            f"{result['cnn_cpu_ms_per_step'][name]:8.1f} {result['cnn_step_cpu_ratio'][name]:6.3f}"
        )
    ms = result["mlp_ms_per_step"]
    lines += [
        f"MLP 1024-512-256 step: no_bn {ms['no_bn']:.1f} ms, ours {ms['ours']:.1f} ms, "
        f"ratio {result['mlp_bn_step_ratio']:.3f} (cpu {result['mlp_bn_step_cpu_ratio']:.3f})",
        f"CNN+BN training, images/second: our loop {result['images_per_second']['loop']:,.0f}, "
        f"model.fit {result['images_per_second']['fit']:,.0f}, "
        f"ratio {result['loop_vs_fit_ratio']:.3f} (cpu {result['loop_vs_fit_cpu_ratio']:.3f})",
        f"targets: bn_step_ratio {result['bn_step_ratio']:.3f} (<= 1.15), "
        f"loop_vs_fit_ratio {result['loop_vs_fit_ratio']:.3f} (>= 1)",
    ]
    return "\n".join(lines)


def main():
    data = load_mnist()
    result = run(to_inputs(data["x_train"]), data["y_train"].astype(np.int32))
    print(table(result))
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
