"""What one training run is: `Config`, and the step counts it implies.

Every run the book trains is a `Config` (runs.plan lists them); its fields
and the profile fix everything about the run, so they are part of its record's
cache key (runs.experiments).
"""

import math
from dataclasses import asdict, dataclass, replace

from bnbook.runs.profiles import Profile
from bnbook.runs.split import train_size


@dataclass(frozen=True)
class Config:
    """One training run. `widths`: MLP hidden widths, or CNN convs (ints) and "pool"s."""

    model: str = "mlp"
    widths: tuple = (1024, 512, 256)
    dense: tuple = ()  # CNN only: hidden dense widths after the convolutions
    activation: str = "relu"
    batch_norm: bool = False
    # CNN with batch norm: "after_pool" (conv -> pool -> BN -> ReLU: 4x fewer values to
    # normalize) or "before_pool" (conv -> BN -> ReLU -> pool, the paper's order).
    bn_placement: str = "after_pool"
    optimizer: str = "adam"
    lr: float = 1e-3
    schedule: str = "cosine"
    batch_size: int = 128
    epochs: int = 10
    steps: int | None = None  # if set, overrides epochs
    seed: int = 0
    precision: str = "float32"
    eval_every: int | None = None  # steps between validation evaluations (None: every epoch)
    probe: bool = False  # record activation percentiles and gradient norms at evaluations
    shift: int = 0  # augmentation: random shifts of up to this many pixels (0: none)
    # Momentum of batch norm's moving averages (Keras' convention: the weight of the
    # old value). 0.9 (Keras' default is 0.99) lets them follow the weights within
    # about 10 steps, so an evaluation during or after a short run sees the current network.
    bn_momentum: float = 0.9
    # Final runs are evaluated once on the test set when they end; selection runs
    # (which only choose settings, on validation) never touch it.
    evaluate_test: bool = True

    def as_dict(self) -> dict:
        """Every field, as the record stores it."""
        return asdict(self)

    def label(self) -> str:
        """A short name for progress bars: model, optimizer, rate, seed."""
        bn = "+BN" if self.batch_norm else ""
        return f"{self.model}{bn} {self.optimizer} lr={self.lr:g} seed={self.seed}"

    def with_seed(self, seed: int) -> "Config":
        """The same run with another seed."""
        return replace(self, seed=seed)


def steps_per_epoch(config: Config, profile: Profile) -> int:
    """Mini-batches in one pass over the profile's training images (the last one partial)."""
    return math.ceil(train_size(profile) / config.batch_size)


def total_steps(config: Config, profile: Profile) -> int:
    """The run's number of training steps: `steps` if set (0 included), else whole
    epochs, capped by the profile."""
    steps = (
        config.steps
        if config.steps is not None
        else config.epochs * steps_per_epoch(config, profile)
    )
    return steps if profile.max_steps is None else min(steps, profile.max_steps)
