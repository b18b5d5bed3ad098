"""The validation split: 5,000 of MNIST's 60,000 training images, held out once.

Every choice the book makes (learning rate, augmentation, batch-norm placement)
is made on these images; the 10,000 test images are evaluated once, at the end
of each final run, and nothing reads them to choose. The split is a fixed
permutation of the training indices (seeded), so it is the same in every run,
on every machine, in every profile; a profile only takes fewer of each part.
"""

import numpy as np

VALIDATION_SIZE = 5000
SPLIT_SEED = 20180125  # the homework's due date; any fixed value would do


def split_indices(num_train: int = 60000) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, validation indices) into MNIST's training set; disjoint, fixed."""
    order = np.random.default_rng(SPLIT_SEED).permutation(num_train)
    return np.sort(order[VALIDATION_SIZE:]), np.sort(order[:VALIDATION_SIZE])


def train_size(profile) -> int:
    """How many training images a run of `profile` trains on (no data loaded)."""
    full = 60000 - VALIDATION_SIZE
    return full if profile.train_examples is None else min(profile.train_examples, full)


def split(data: dict, profile) -> dict:
    """The profile's share of training, validation and test images, from `load_mnist()`'s dict.

    Full profile: 55,000 / 5,000 / 10,000. Smaller profiles take the first
    examples of each part (the same ones for every run).
    """
    train, val = split_indices(len(data["x_train"]))
    train, val = train[: profile.train_examples], val[: profile.validation_examples]
    n_test = profile.test_examples
    return {
        "x_train": data["x_train"][train],
        "y_train": data["y_train"][train],
        "x_val": data["x_train"][val],
        "y_val": data["y_train"][val],
        "x_test": data["x_test"][:n_test],
        "y_test": data["y_test"][:n_test],
    }
