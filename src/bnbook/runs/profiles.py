"""Two profiles of the same book: `full` (the real experiments) and `smoke` (tiny, for CI).

The profile is chosen by the environment variable BNBOOK_PROFILE (default
`full`) so that notebooks executed by Jupyter Book, by nbconvert or by hand all
agree, and it is part of every cache key.
"""

import os
from dataclasses import dataclass

ENV_VAR = "BNBOOK_PROFILE"


@dataclass(frozen=True)
class Profile:
    name: str
    train_examples: int | None  # None: all 55,000 of the training split
    validation_examples: int | None  # None: all 5,000 of the validation split
    test_examples: int | None  # None: all 10,000
    max_steps: int | None  # cap on a config's steps (None: no cap)
    seeds: tuple  # the seeds of every matched pair (runs.plan.headline_seeds)
    support_seeds: int = 1  # how many of them the supporting studies use (runs.plan.support_seeds)


PROFILES = {
    "full": Profile("full", None, None, None, None, seeds=(0, 1, 2, 3, 4), support_seeds=3),
    "smoke": Profile("smoke", 1024, 256, 500, 30, seeds=(0, 1, 2), support_seeds=2),
}


def current_profile() -> Profile:
    """The profile BNBOOK_PROFILE names (default "full"); ValueError naming the choices."""
    name = os.environ.get(ENV_VAR, "full")
    if name not in PROFILES:
        raise ValueError(f"{ENV_VAR}={name!r} is not a profile; use one of {sorted(PROFILES)}")
    return PROFILES[name]
