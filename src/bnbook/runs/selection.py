"""Each arm's own best, chosen on validation by a rule that seed noise cannot flip.

A candidate varies one field of the arm's pre-declared default (runs.plan), trains at
full length with seed 0 and is read only for its validation accuracy (it never sees
the test set). It replaces the default only if it beats the default's seed-0 run by
more than NOISE_Z * sqrt(2) * sd, the sd of the default's validation accuracy over
its seeds (at least MIN_IMAGES validation images).
"""

import math
import statistics
from dataclasses import dataclass, field, replace

from bnbook.runs.config import Config

SELECTION_SEED = 0
NOISE_Z = 2.0  # about a 95% one-sided bar for "better than the default"
MIN_IMAGES = 2


@dataclass(frozen=True)
class Arm:
    """One arm of a comparison: its default config and the values each field may try."""

    name: str
    default: Config
    fields: dict = field(default_factory=dict)  # field -> values (the default's among them)

    def candidate(self, name: str, value) -> Config:
        """The default with `name` set to `value`: seed 0, validation only."""
        return replace(self.default, **{name: value}, seed=SELECTION_SEED, evaluate_test=False)

    def candidates(self) -> list[Config]:
        """One run per non-default value of each field."""
        out = []
        for name, values in self.fields.items():
            if getattr(self.default, name) not in values:
                raise ValueError(f"{self.name}: the default {name} is not among {values}")
            out += [self.candidate(name, v) for v in values if v != getattr(self.default, name)]
        return out


@dataclass
class Selection:
    """What an arm chose, and why: per field, every value's validation accuracy, the best
    one's margin over the default and the noise margin it had to beat."""

    arm: Arm
    config: Config
    noise_sd: float  # sd of the default's validation accuracy over seeds
    margin_needed: float
    rows: list = field(default_factory=list)  # [{"field", "values", "val_accuracy", "best",
    #                                             "margin", "chosen"}]


def validation_accuracy(record: dict) -> float:
    """The only number selection reads from a record."""
    return record["val_accuracy"]


def noise_margin(noise_records: list[dict]) -> tuple[float, float]:
    """(sd over seeds, the margin a candidate must beat) from the default's records."""
    accuracies = [validation_accuracy(r) for r in noise_records]
    sd = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    floor = MIN_IMAGES / noise_records[0]["val_examples"]
    return sd, max(NOISE_Z * math.sqrt(2) * sd, floor)


def choose(arm: Arm, candidate_records: dict, noise_records: list[dict]) -> Selection:
    """`arm`'s setting: per field, the best candidate if it beats the default's seed-0 run
    by more than the noise margin, else the default.

    `candidate_records`: {candidate Config: record}; `noise_records`: the default's
    records over seeds, seed 0 first.
    """
    sd, needed = noise_margin(noise_records)
    default_acc = validation_accuracy(noise_records[0])
    chosen, rows = {}, []
    for name, values in arm.fields.items():
        default = getattr(arm.default, name)
        accuracy = {v: default_acc if v == default
                    else validation_accuracy(candidate_records[arm.candidate(name, v)])
                    for v in values}  # fmt: skip
        best = max(values, key=lambda v: accuracy[v])  # the first one on a tie
        margin = accuracy[best] - default_acc
        pick = best if margin > needed else default
        chosen[name] = pick
        rows.append(dict(field=name, values=list(values), default=default,
                         val_accuracy=[accuracy[v] for v in values], best=best, margin=margin,
                         chosen=pick))  # fmt: skip
    config = replace(arm.default, **chosen)
    return Selection(arm, config, sd, needed, rows)
