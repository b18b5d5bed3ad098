"""Speed of our training: batch norm's cost per step, and our loop vs `model.fit`.

The project's targets, measured here in one run (`make bench`):

- bn_step_ratio: the book's CNN (studies.CNN) training step with our BatchNorm
  (default impl, ReLU fused as models.cnn builds it) over the same step
  without batch norm; target <= 1.06 in float32, <= 1.15 in mixed_bfloat16.
- keras_bn_step_ratio: the same with keras.layers.BatchNormalization.
- loop_vs_fit_ratio: images/second of our training loop (train.run_steps) over
  `model.fit`'s, same model and same `train_batches` pipeline; target >= 1.
- bn_layers: the CNN's batch-norm layers alone (their input shapes at the
  book's batch size), forward and backward with the ReLU that follows each:
  ReLU alone, then batch norm + ReLU as two layers and fused into one; a
  variant's time minus ReLU's is batch norm's own cost. Also for batch norm
  placed before each pool (bn_layers_before_pool: 4x the values).

Everything runs in the precision the book trains in on this CPU
(runs.precision), unless the environment variable BNBOOK_BENCH_PRECISION
names another ("float32" or "mixed_bfloat16"); the JSON names the CPU and
the precision.

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
import os
import statistics
import time
from dataclasses import replace
from functools import partial

import keras
import numpy as np
import tensorflow as tf

from bnbook.networks.batchnorm import BatchNorm
from bnbook.networks.models import build_model
from bnbook.networks.pipeline import to_inputs, train_batches
from bnbook.networks.train import (
    make_optimizer,
    make_train_chunk,
    make_train_step,
    precision_policy,
    run_steps,
)
from bnbook.runs import studies
from bnbook.runs.data import load_mnist
from bnbook.runs.precision import cpu_flags

PRECISION_VAR = "BNBOOK_BENCH_PRECISION"
PRECISIONS = ("float32", "mixed_bfloat16")

# Normalization layers compared on the CNN; "no_bn" is the baseline of every ratio.
CNN_NORMS = {
    "no_bn": None,
    "ours": BatchNorm,  # default impl, "xla", ReLU fused (models.cnn fuses it)
    "ours_unfused": partial(BatchNorm, activation=None),  # a separate ReLU layer after it
    "ours_fused_kernel": partial(BatchNorm, impl="fused_kernel"),
    "ours_ops": partial(BatchNorm, impl="ops"),
    "keras": keras.layers.BatchNormalization,
}
MLP_NORMS = {"no_bn": None, "ours": BatchNorm}
# Issue 14's targets: batch norm's share of the step is larger where bfloat16
# makes the convolutions cheaper.
BN_STEP_TARGETS = {"float32": "<= 1.06", "mixed_bfloat16": "<= 1.15"}


SCHEDULE_STEPS = 1000  # the learning-rate schedule's length; only the step time matters here


def _model(config, norm):
    """The model `config` names, with normalization layer class `norm` (None: no batch norm)."""
    with precision_policy(config.precision):
        return build_model(replace(config, batch_norm=norm is not None), norm)


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
        name: make_train_step(_model(config, norm), make_optimizer(config, SCHEDULE_STEPS))
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


def bench_precision(default: str) -> str:
    """The precision to measure in: BNBOOK_BENCH_PRECISION if set, else `default`."""
    precision = os.environ.get(PRECISION_VAR) or default
    if precision not in PRECISIONS:
        raise SystemExit(
            f"{PRECISION_VAR}={precision!r} is not a precision; use one of {PRECISIONS}"
        )
    return precision


def cpu_name() -> str:
    """This CPU's model name, family and model number, and whether it has native bfloat16."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown CPU"
    bf16 = sorted(cpu_flags() & {"amx_bf16", "avx512_bf16"}) or ["no native bfloat16"]
    return (
        f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')}, "
        f"model {fields.get('model', '?')}; {', '.join(bf16)})"
    )


def bn_layer_shapes(config, before_pool=False) -> list[tuple]:
    """Input shapes, batch included, of the batch-norm layers of `config`'s model with BN.

    before_pool: where a pool precedes the batch norm, the shape it would see
    before that pool instead (conv -> BN -> ReLU -> pool: 4x the values).
    """
    layers = _model(config, BatchNorm).layers
    shapes = []
    for previous, layer in zip(layers, layers[1:], strict=False):
        if isinstance(layer, BatchNorm):
            pooled = before_pool and isinstance(previous, keras.layers.MaxPooling2D)
            shapes.append((config.batch_size, *(previous if pooled else layer).input.shape[1:]))
    return shapes


def _relu():
    return keras.layers.Activation("relu")


# Per-layer variants: each makes the stage for one batch-norm position ("relu" is the baseline).
BN_LAYER_VARIANTS = {
    "relu": lambda: [_relu()],
    "bn_relu": lambda: [BatchNorm(), _relu()],
    "bn_relu_fused": lambda: [BatchNorm(activation="relu")],
    "keras_bn_relu": lambda: [keras.layers.BatchNormalization(), _relu()],
}


def measure_bn_layers(
    config, variants=None, repeats=25, steps_per_repeat=5, warmup=3, before_pool=False
):
    """Forward + backward time of `config`'s CNN batch-norm stages alone, in its precision.

    Each variant of `variants` ({name: () -> [layer, ...]}, default
    BN_LAYER_VARIANTS, the first being the baseline) is applied to random
    activations of every shape of `bn_layer_shapes(config, before_pool)`, in
    training mode, and backpropagated from a random upstream gradient. Returns
    the dict of `measure_step_ratios`, plus "own_ms": {name: ms over the
    baseline's} and "shapes".
    """
    variants = variants or BN_LAYER_VARIANTS
    with precision_policy(config.precision):
        shapes = bn_layer_shapes(config, before_pool)
        stages = {name: [make() for _ in shapes] for name, make in variants.items()}
        dtype = keras.mixed_precision.global_policy().compute_dtype
    rng = np.random.default_rng(config.seed)
    xs = [tf.constant(rng.normal(size=s), dtype) for s in shapes]
    dys = [tf.constant(rng.normal(size=s), dtype) for s in shapes]

    def make_step(layers_per_shape):
        @tf.function
        def step(xs, dys):
            with tf.GradientTape() as tape:
                tape.watch(xs)
                ys = []
                for x, layers in zip(xs, layers_per_shape, strict=True):
                    for layer in layers:
                        x = layer(x, training=True)
                    ys.append(x)
            weights = [
                w for layers in layers_per_shape for la in layers for w in la.trainable_weights
            ]
            return tape.gradient(ys, xs + weights, output_gradients=dys)

        return step

    def run(step, num_steps):
        stop = _clock()
        for _ in range(num_steps):
            grads = step(xs, dys)
        grads[0].numpy()  # CPU functions return when done; this only makes sure
        return stop()

    steps = {name: make_step(layers) for name, layers in stages.items()}
    for step in steps.values():
        run(step, warmup)
    runs = {name: partial(run, step, steps_per_repeat) for name, step in steps.items()}
    baseline = next(iter(variants))
    result = _summary(*_interleaved(runs, repeats), 1e3 / steps_per_repeat, baseline)
    result["own_ms"] = {name: ms - result["ms"][baseline] for name, ms in result["ms"].items()}
    result["shapes"] = shapes
    return result


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
    step = make_train_step(_model(config, norm), make_optimizer(config, SCHEDULE_STEPS))
    chunk = make_train_chunk(step)
    fit_model = _model(config, norm)
    fit_model.compile(optimizer=make_optimizer(config, SCHEDULE_STEPS), loss=loss)

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


def run(x, y, step_repeats=25, steps_per_repeat=2, fit_repeats=9, fit_steps=20, precision=None):
    """Every measurement on training set x (N, 28, 28, 1), y (N,): the dict `main` prints.

    `precision`: "float32" or "mixed_bfloat16" (default: the book's on this CPU).
    Step ratios use the first batch_size examples as one fixed batch. Many
    short repeats, because other jobs' bursts of load last about a second.
    """
    precision = precision or studies.CNN.precision
    # The book's architectures (their learning rates are chosen on validation; step
    # time does not depend on them).
    cnn_config, mlp_config = (replace(c, precision=precision) for c in (studies.CNN, studies.MLP))
    cnn_bn_config = replace(cnn_config, batch_norm=True)
    batch = x[: cnn_config.batch_size], y[: cnn_config.batch_size]
    cnn = measure_step_ratios(cnn_config, CNN_NORMS, *batch, steps_per_repeat, step_repeats)
    layers, before_pool = (
        measure_bn_layers(cnn_config, None, step_repeats, steps_per_repeat, before_pool=before)
        for before in (False, True)
    )
    mlp = measure_step_ratios(mlp_config, MLP_NORMS, *batch, steps_per_repeat, step_repeats)
    loop = measure_loop_vs_fit(cnn_bn_config, x, y, fit_steps, fit_repeats)
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
        "bn_layers_ms": layers["ms"],
        "bn_layers_cpu_ms": layers["cpu_ms"],
        "bn_layers_own_ms": layers["own_ms"],
        "bn_layers_ratio": layers["ratio"],
        "bn_layers_cpu_ratio": layers["cpu_ratio"],
        "bn_layers_shapes": [list(s) for s in layers["shapes"]],
        # The same if batch norm moved before pooling (conv -> BN -> ReLU -> pool).
        "bn_layers_before_pool": {
            "ms": before_pool["ms"],
            "own_ms": before_pool["own_ms"],
            "cpu_ms": before_pool["cpu_ms"],
            "shapes": [list(s) for s in before_pool["shapes"]],
        },
        "mlp_bn_step_ratio": mlp["ratio"]["ours"],
        "mlp_bn_step_cpu_ratio": mlp["cpu_ratio"]["ours"],
        "mlp_ms_per_step": mlp["ms"],
        "images_per_second": loop["images_per_second"],
        "loop_fit_ms_per_step": loop["ms"],
        "batch_size": cnn_config.batch_size,
        "precision": precision,
        "cpu": cpu_name(),
        "repeats": {"step": step_repeats, "loop_vs_fit": fit_repeats},
        "targets": {"bn_step_ratio": BN_STEP_TARGETS[precision], "loop_vs_fit_ratio": ">= 1"},
    }


def table(result) -> str:
    """The readable part of `main`'s output."""
    lines = [
        f"{result['cpu']}",
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
    before = result["bn_layers_before_pool"]
    for title, shapes, ms, own, cpu in (
        ("", result["bn_layers_shapes"], result["bn_layers_ms"], result["bn_layers_own_ms"],
         result["bn_layers_cpu_ms"]),
        (" if placed before pooling", before["shapes"], before["ms"], before["own_ms"],
         before["cpu_ms"]),
    ):  # fmt: skip
        lines.append(
            f"CNN's batch-norm layers alone{title}, shapes {shapes}, forward + backward"
            " (own: minus ReLU alone)"
        )
        lines.append(f"{'variant':18s} {'wall ms':>8s} {'own ms':>7s} {'cpu ms':>8s}")
        for name in ms:
            lines.append(f"{name:18s} {ms[name]:8.2f} {own[name]:7.2f} {cpu[name]:8.2f}")
    ms = result["mlp_ms_per_step"]
    mlp_name = "MLP " + "-".join(map(str, studies.MLP.widths))
    lines += [
        f"{mlp_name} step: no_bn {ms['no_bn']:.1f} ms, ours {ms['ours']:.1f} ms, "
        f"ratio {result['mlp_bn_step_ratio']:.3f} (cpu {result['mlp_bn_step_cpu_ratio']:.3f})",
        f"CNN+BN training, images/second: our loop {result['images_per_second']['loop']:,.0f}, "
        f"model.fit {result['images_per_second']['fit']:,.0f}, "
        f"ratio {result['loop_vs_fit_ratio']:.3f} (cpu {result['loop_vs_fit_cpu_ratio']:.3f})",
        f"targets: bn_step_ratio {result['bn_step_ratio']:.3f} "
        f"({result['targets']['bn_step_ratio']}), "
        f"loop_vs_fit_ratio {result['loop_vs_fit_ratio']:.3f} (>= 1)",
    ]
    return "\n".join(lines)


def main():
    precision = bench_precision(studies.CNN.precision)
    data = load_mnist()
    result = run(to_inputs(data["x_train"]), data["y_train"].astype(np.int32), precision=precision)
    print(table(result))
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
