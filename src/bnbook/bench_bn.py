"""Step-time cost of batch norm in a small CNN: our three impls vs Keras' layer.

The target is ours (default impl, "xla") <= 1.15x the step time of the same
CNN without batch norm. Timings are noisy on a shared machine, so this is a
measurement to run and report, never a test assertion.

Run: python -m bnbook.bench_bn
"""

import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from bnbook.batchnorm import BatchNorm

NORMS = {
    "no_bn": None,
    "ours_xla": lambda: BatchNorm(impl="xla"),
    "ours_fused_kernel": lambda: BatchNorm(impl="fused_kernel"),
    "ours_ops": lambda: BatchNorm(impl="ops"),
    "keras_bn": keras.layers.BatchNormalization,
}


def _build_benchmark_cnn(norm):
    """conv32-conv32-pool-conv64-conv64-pool-dense128-dense10 on (N, 28, 28, 1).

    `norm` is a zero-argument factory returning a normalization layer, placed
    after each conv/dense and before its ReLU; None means no normalization.
    Private to the benchmark: the book's real models live in bnbook.models.
    """
    layers = [keras.Input((28, 28, 1))]

    def block(linear):
        layers.append(linear)
        if norm is not None:
            layers.append(norm())
        layers.append(keras.layers.ReLU())

    for filters, pool in [(32, False), (32, True), (64, False), (64, True)]:
        block(keras.layers.Conv2D(filters, 3, padding="same"))
        if pool:
            layers.append(keras.layers.MaxPooling2D())
    layers.append(keras.layers.Flatten())
    block(keras.layers.Dense(128))
    layers.append(keras.layers.Dense(10))
    return keras.Sequential(layers)


def _train_step_fn(model):
    """A compiled Adam training step on (x (N, 28, 28, 1), y (N,)) -> loss."""
    optimizer = keras.optimizers.Adam(1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    return step


def _medians(samples):
    """{name: [ms per repeat]} -> ({name: median ms}, {name: median ratio vs no_bn})."""
    ms = {name: statistics.median(s) for name, s in samples.items()}
    ratio = {
        name: statistics.median(t / t0 for t, t0 in zip(s, samples["no_bn"], strict=True))
        for name, s in samples.items()
    }
    return ms, ratio


def measure_step_ratios(batch_size=128, steps_per_repeat=2, repeats=7, warmup=2, seed=0):
    """Median ms per training step for each entry of NORMS, and ratios vs no_bn.

    Variants are timed round-robin within each repeat, and each ratio is the
    median over repeats of (variant / no_bn in the same repeat), so drift in
    the shared machine's load largely cancels. Wall-clock time is the target;
    process CPU time is reported too, because when other jobs hold the cores
    wall time mostly measures waiting. Returns {"ms": {name: median wall ms
    per step}, "ratio": {name: median paired ratio}, "cpu_ms": ...,
    "cpu_ratio": ...}.
    """
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(batch_size, 28, 28, 1)).astype(np.float32))
    y = tf.constant(rng.integers(0, 10, size=batch_size))
    steps = {name: _train_step_fn(_build_benchmark_cnn(norm)) for name, norm in NORMS.items()}
    for step in steps.values():
        for _ in range(warmup):
            step(x, y).numpy()

    wall = {name: [] for name in steps}
    cpu = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(steps_per_repeat):
                loss = step(x, y)
            loss.numpy()  # wait for the last step to finish
            wall[name].append((time.perf_counter() - start) / steps_per_repeat * 1e3)
            cpu[name].append((time.process_time() - start_cpu) / steps_per_repeat * 1e3)

    ms, ratio = _medians(wall)
    cpu_ms, cpu_ratio = _medians(cpu)
    return {"ms": ms, "ratio": ratio, "cpu_ms": cpu_ms, "cpu_ratio": cpu_ratio}


if __name__ == "__main__":
    r = measure_step_ratios()
    for name in NORMS:
        print(
            f"{name:17s} wall {r['ms'][name]:7.1f} ms/step {r['ratio'][name]:.3f}x"
            f"   cpu {r['cpu_ms'][name]:7.1f} ms/step {r['cpu_ratio'][name]:.3f}x"
        )
