"""Records made up for tests (no training): a tiny profile and a small MLP."""

import time

from bnbook.runs import provenance
from bnbook.runs.config import Config
from bnbook.runs.profiles import Profile

TINY = Profile("tiny-test", 512, 100, 200, 12, seeds=(0,))


SMALL_MLP = Config(model="mlp", widths=(32, 16), epochs=1, batch_size=64)


def fake_record(steps=3, **extra) -> dict:
    """A complete record, as networks.train + train_and_store make it (no training)."""
    evals = [
        {"step": steps, "epoch": 1.0, "val_loss": 0.5, "val_accuracy": 0.9,
         "train_loss": 0.4, "train_accuracy": 0.95}
    ]  # fmt: skip
    return {
        "config": SMALL_MLP.as_dict(),
        "profile": TINY.name,
        "versions": provenance.library_versions(),
        "machine": provenance.machine(),
        "train_examples": 512,
        "val_examples": 100,
        "test_examples": 200,
        "steps": steps,
        "losses": [1.0] * steps,
        "evals": evals,
        "probes": [],
        "val_accuracy": 0.9,
        "val_loss": 0.5,
        "test_accuracy": 0.9,
        "test_loss": 0.5,
        "train_time_s": 1.0,
        "wall_time_s": 1.5,
        "images_per_second": 100.0,
        "parameters": 10,
        "created": time.time(),
        **extra,
    }
