"""Images/second of our training loop (train.run_steps) and of `model.fit`.

The same model, in the same precision, fed by the same `train_batches`
pipeline; loop_vs_fit is our loop's images/second over fit's.
"""

from functools import partial

import keras

from bnbook.networks.batchnorm import BatchNorm
from bnbook.networks.pipeline import train_batches
from bnbook.networks.train import (
    loss_function,
    make_optimizer,
    make_train_chunk,
    make_train_step,
    run_steps,
)
from bnbook.tooling.bench_step_ratios import SCHEDULE_STEPS, model_with_norm
from bnbook.tooling.bench_timing import clock, interleaved, summary


class _FitClock(keras.callbacks.Callback):
    """Times model.fit from the end of its first step to the end of its last."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.stop = clock()
        self.elapsed = self.stop()


def _time_loop(chunk, pipeline, num_steps):
    """(wall s, CPU s) of `num_steps` steps of our loop after the first, on a fresh pipeline."""
    batches, losses = iter(pipeline()), []
    run_steps(chunk, batches, 1, losses)
    stop = clock()
    run_steps(chunk, batches, num_steps, losses)
    losses[-1].numpy()  # wait for the last step
    return stop()


def _time_fit(model, pipeline, num_steps):
    """(wall s, CPU s) of `num_steps` steps of model.fit after the first, on a fresh pipeline."""
    fit_clock = _FitClock()
    model.fit(
        pipeline(),
        steps_per_epoch=num_steps + 1,
        epochs=1,
        verbose=0,
        callbacks=[fit_clock],
        shuffle=False,  # the pipeline shuffles; fit would warn that it ignores shuffle=True
    )
    return fit_clock.elapsed


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
    norm = BatchNorm if config.batch_norm else None
    step = make_train_step(model_with_norm(config, norm), make_optimizer(config, SCHEDULE_STEPS))
    chunk = make_train_chunk(step)
    fit_model = model_with_norm(config, norm)
    fit_model.compile(optimizer=make_optimizer(config, SCHEDULE_STEPS), loss=loss_function())
    pipeline = partial(train_batches, x, y, config.batch_size, config.seed)
    runs = {
        "fit": partial(_time_fit, fit_model, pipeline, steps_per_repeat),
        "loop": partial(_time_loop, chunk, pipeline, steps_per_repeat),
    }
    for _ in range(warmup):
        for run in runs.values():
            run()
    result = summary(*interleaved(runs, repeats), 1e3 / steps_per_repeat, "fit")
    result["images_per_second"] = {
        name: config.batch_size * 1e3 / ms for name, ms in result["ms"].items()
    }
    return result
