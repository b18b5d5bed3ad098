"""The training images as the step sees them: scaled, batched, reshuffled, shifted.

Seeded throughout, so the same config and seed give the same batches; the
augmentation is a stateless function of (seed, batch number).
"""

import numpy as np
import tensorflow as tf


def to_inputs(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 28, 28, 1) in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[..., None]


def random_shifts(images, shift: int, seed):
    """Each image (N, H, W, C) moved by its own random whole-pixel shift (dx, dy), each
    between -`shift` and +`shift` pixels.

    Pixels shifted in are 0 (background). `seed` is a stateless-RNG seed (2
    integers): the same seed gives the same shifts.
    """
    n = tf.shape(images)[0]
    shifts = tf.random.stateless_uniform([n, 2], seed, -shift, shift + 1, tf.int32)
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


def train_batches(x, y, batch_size: int, seed: int, shift: int = 0) -> tf.data.Dataset:
    """Endless, seeded, reshuffled-every-epoch batches of the training set.

    With `shift` > 0, every image of every batch is randomly shifted by up
    to that many pixels (augmentation), seeded by (seed, batch number).
    """
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch_size)
    if shift:
        ds = ds.enumerate().map(
            lambda i, batch: (random_shifts(batch[0], shift, tf.stack([seed, i])), batch[1]),
        )
    # No prefetch and no parallel map: each worker has one core, and tf.data's
    # background thread pools made closing an iterator wait on their threads.
    return ds
