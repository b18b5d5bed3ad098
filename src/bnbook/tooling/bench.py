"""Speed of our training: batch norm's cost per step and per layer.

The project's targets, measured here in one run (`make bench`):

- bn_step_ratio: the book's CNN (plan.CNN) training step with our BatchNorm
  (default impl, ReLU in the same layer as models.cnn builds it) over the same step
  without batch norm; target <= 1.06 in float32, <= 1.15 in mixed_bfloat16.
- keras_bn_step_ratio: the same with keras.layers.BatchNormalization.
- bn_layers: the CNN's batch-norm layers alone (their input shapes at the
  book's batch size), forward and backward with the ReLU that follows each:
  ReLU alone, then batch norm + ReLU as two layers and as one; a
  variant's time minus ReLU's is batch norm's own cost. Also for batch norm
  placed before each pool (bn_layers_before_pool: 4x the values).

(Our loop against `model.fit` is not measured: its ratio moved by 50% between two
runs an hour apart on a shared Xeon, more than any difference it was meant to show.)

Each measurement has its module: bench_step_ratios and bench_bn_layers, timed
as bench_timing explains (variants interleaved within each repeat, medians of
paired ratios, wall and process CPU time).
This module runs them all, prints a table and the JSON.

Everything runs in the precision the book trains in on this CPU
(runs.precision), unless the environment variable BNBOOK_BENCH_PRECISION
names another ("float32" or "mixed_bfloat16"); the JSON names the CPU and
the precision.

Everything trains with the book's own pieces: models.cnn/mlp,
train.make_train_step and train.make_optimizer. Never a test assertion: a
measurement to run.

Run: python -m bnbook.tooling.bench. The last line printed is one JSON object.
"""

import json
import os
from dataclasses import replace

import numpy as np

from bnbook.networks.pipeline import to_inputs
from bnbook.runs import cpu, plan
from bnbook.runs.data import load_mnist
from bnbook.tooling.bench_bn_layers import measure_bn_layers
from bnbook.tooling.bench_step_ratios import CNN_NORMS, MLP_NORMS, measure_step_ratios

PRECISION_VAR = "BNBOOK_BENCH_PRECISION"
PRECISIONS = ("float32", "mixed_bfloat16")

# Issue 14's targets: batch norm's share of the step is larger where bfloat16
# makes the convolutions cheaper.
BN_STEP_TARGETS = {"float32": "<= 1.06", "mixed_bfloat16": "<= 1.15"}


def bench_precision(default: str) -> str:
    """The precision to measure in: BNBOOK_BENCH_PRECISION if set, else `default`."""
    precision = os.environ.get(PRECISION_VAR) or default
    if precision not in PRECISIONS:
        raise SystemExit(
            f"{PRECISION_VAR}={precision!r} is not a precision; use one of {PRECISIONS}"
        )
    return precision


def run(x, y, step_repeats=25, steps_per_repeat=2, precision=None):
    """Every measurement on training set x (N, 28, 28, 1), y (N,): the dict `main` prints.

    `precision`: "float32" or "mixed_bfloat16" (default: the book's on this CPU).
    Step ratios use the first batch_size examples as one fixed batch. Many
    short repeats, because other jobs' bursts of load last about a second.
    """
    precision = precision or plan.precision()
    # The book's architectures (their learning rates are chosen on validation; step
    # time does not depend on them).
    cnn_config, mlp_config = (replace(c, precision=precision) for c in (plan.CNN, plan.MLP))
    batch = x[: cnn_config.batch_size], y[: cnn_config.batch_size]
    cnn = measure_step_ratios(cnn_config, CNN_NORMS, *batch, steps_per_repeat, step_repeats)
    layers, before_pool = (
        measure_bn_layers(cnn_config, None, step_repeats, steps_per_repeat, before_pool=before)
        for before in (False, True)
    )
    mlp = measure_step_ratios(mlp_config, MLP_NORMS, *batch, steps_per_repeat, step_repeats)
    return {
        **_step_results(cnn, mlp),
        **_bn_layer_results(layers, before_pool),
        "batch_size": cnn_config.batch_size,
        "precision": precision,
        "cpu": cpu.description(),
        "repeats": {"step": step_repeats},
        "targets": {"bn_step_ratio": BN_STEP_TARGETS[precision]},
    }


def _step_results(cnn, mlp) -> dict:
    """The entries of `run`'s dict from the training-step measurements."""
    return {
        "bn_step_ratio": cnn["ratio"]["ours"],
        "keras_bn_step_ratio": cnn["ratio"]["keras"],
        "bn_step_cpu_ratio": cnn["cpu_ratio"]["ours"],
        "keras_bn_step_cpu_ratio": cnn["cpu_ratio"]["keras"],
        "cnn_step_ratio": cnn["ratio"],
        "cnn_step_cpu_ratio": cnn["cpu_ratio"],
        "cnn_ms_per_step": cnn["ms"],
        "cnn_cpu_ms_per_step": cnn["cpu_ms"],
        "mlp_bn_step_ratio": mlp["ratio"]["ours"],
        "mlp_bn_step_cpu_ratio": mlp["cpu_ratio"]["ours"],
        "mlp_ms_per_step": mlp["ms"],
    }


def _bn_layer_results(layers, before_pool) -> dict:
    """The entries of `run`'s dict from the batch-norm layers measured alone."""
    return {
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
    }


def table(result) -> str:
    """The readable part of `main`'s output."""
    lines = [result["cpu"], *_cnn_step_lines(result), *_bn_layer_lines(result)]
    ms = result["mlp_ms_per_step"]
    mlp_name = "MLP " + "-".join(map(str, plan.MLP.widths))
    lines += [
        f"{mlp_name} step: no_bn {ms['no_bn']:.1f} ms, ours {ms['ours']:.1f} ms, "
        f"ratio {result['mlp_bn_step_ratio']:.3f} (cpu {result['mlp_bn_step_cpu_ratio']:.3f})",
        f"target: bn_step_ratio {result['bn_step_ratio']:.3f} "
        f"({result['targets']['bn_step_ratio']})",
    ]
    return "\n".join(lines)


def _cnn_step_lines(result) -> list[str]:
    """The table of the CNN's training step per normalization layer."""
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
    return lines


def _bn_layer_lines(result) -> list[str]:
    """The tables of the batch-norm layers alone, where they are and before pooling."""
    lines = []
    before = result["bn_layers_before_pool"]
    for title, shapes, ms, own, cpu_ms in (
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
            lines.append(f"{name:18s} {ms[name]:8.2f} {own[name]:7.2f} {cpu_ms[name]:8.2f}")
    return lines


def main():
    """Measure everything on MNIST's training set; print the table, then the JSON line."""
    import tensorflow as tf

    # Every variant builds its own model and step, so tf.function's "retracing" notes
    # are expected here, not a sign of a slow loop.
    tf.get_logger().setLevel("ERROR")
    precision = bench_precision(plan.precision())
    data = load_mnist()
    result = run(to_inputs(data["x_train"]), data["y_train"].astype(np.int32), precision=precision)
    print(table(result))
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
