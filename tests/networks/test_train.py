"""The training loop's pieces: steps run in chunks inside the graph, and the augmentation."""

import keras
import numpy as np
import tensorflow as tf

from bnbook.networks.models import build_model
from bnbook.networks.pipeline import random_shifts, train_batches
from bnbook.networks.train import (
    make_optimizer,
    make_train_chunk,
    make_train_step,
    run_steps,
)
from bnbook.runs.config import Config


def test_chunked_steps_match_one_step_at_a_time():
    """Steps run inside one graph call give the same losses as calling the step per batch."""
    config = Config(model="mlp", widths=(32,), batch_norm=True, lr=1e-2)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(512, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 512).astype("int32")

    def fresh():
        keras.utils.set_random_seed(0)
        model = build_model(config)
        step = make_train_step(model, make_optimizer(config, num_steps=20))
        return step, iter(train_batches(x, y, 32, seed=0))

    step, batches = fresh()
    one_by_one = [float(step(*next(batches))[0]) for _ in range(20)]
    step, batches = fresh()
    losses = []
    run_steps(make_train_chunk(step), batches, 20, losses, steps_per_call=7)  # 7 + 7 + 6
    assert [t.shape[0] for t in losses] == [7, 7, 6]
    np.testing.assert_allclose(np.concatenate(losses), one_by_one, rtol=1e-6)


def test_random_shifts_move_whole_images_by_at_most_shift():
    images = np.zeros((64, 28, 28, 1), np.float32)
    images[:, 14, 14, 0] = 1.0
    shifted = random_shifts(images, 2, tf.constant([0, 0], tf.int64)).numpy()
    assert np.all(shifted.sum(axis=(1, 2, 3)) == 1.0)  # moved, not blurred or lost
    positions = np.array([np.argwhere(s[..., 0])[0] for s in shifted])
    assert np.abs(positions - 14).max() == 2
    assert len({tuple(p) for p in positions}) > 10  # each image its own shift
    again = random_shifts(images, 2, tf.constant([0, 0], tf.int64)).numpy()
    np.testing.assert_array_equal(shifted, again)


def test_augmented_batches_are_seeded():
    x = np.random.default_rng(0).uniform(size=(256, 28, 28, 1)).astype("float32")
    y = np.zeros(256, np.int32)

    def first_batches(seed):
        return [b[0].numpy() for b in train_batches(x, y, 32, seed, shift=2).take(3)]

    a, b, c = first_batches(0), first_batches(0), first_batches(1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_float16_training_scales_the_loss_and_others_do_not():
    from bnbook.networks.train import precision_policy

    config = Config(model="mlp", widths=(16,), lr=1e-2)
    with precision_policy("mixed_float16"):
        assert isinstance(make_optimizer(config, 10), keras.optimizers.LossScaleOptimizer)
        model = build_model(config)
        step = make_train_step(model, make_optimizer(config, 10))
        x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype("float32")
        loss, _ = step(x, np.arange(8, dtype=np.int32) % 10)
        assert np.isfinite(float(loss))
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    assert not isinstance(make_optimizer(config, 10), keras.optimizers.LossScaleOptimizer)


def test_several_runs_in_one_process_close_their_pipelines_at_once():
    """tf.data's background thread pools (prefetch, parallel map) made closing a run's
    iterator wait on their threads; the pipeline has none, so runs end when they end."""
    import gc
    import threading
    import time

    from bnbook.networks.train import train

    rng = np.random.default_rng(0)
    data = {f"x_{p}": rng.integers(0, 255, (n, 28, 28), dtype=np.uint8)
            for p, n in (("train", 256), ("val", 64), ("test", 64))}  # fmt: skip
    data |= {f"y_{p}": rng.integers(0, 10, len(data[f"x_{p}"])).astype(np.uint8)
             for p in ("train", "val", "test")}  # fmt: skip
    threads_before = threading.active_count()
    for seed in range(3):  # with augmentation: the map that used to run on a pool
        config = Config(model="mlp", widths=(16,), shift=2, steps=6, seed=seed, eval_every=3)
        record = train(config, data, num_steps=6, per_epoch=4, progress=False)
        assert len(record["losses"]) == 6
    start = time.perf_counter()
    batches = iter(train_batches(*[np.zeros((64, 28, 28, 1), np.float32), np.zeros(64, np.int32)],
                                 16, seed=0, shift=2))  # fmt: skip
    next(batches)
    del batches
    gc.collect()
    assert time.perf_counter() - start < 10, "closing an iterator waited"
    assert threading.active_count() <= threads_before + 1
