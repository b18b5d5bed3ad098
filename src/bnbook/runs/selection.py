"""Choosing settings on validation: the one procedure every arm of every comparison uses.

A search varies one field of a config (the learning rate, the augmentation,
batch norm's placement) over a few values, trains one short run per value
(seed 0, `evaluate_test=False`: these runs never touch the test set) and keeps
the value with the best validation accuracy. `select` applies searches in
order, each starting from the choices before it. Runs and arms with and
without batch norm go through exactly this code; only `val_accuracy` is read.
"""

from dataclasses import dataclass, field, replace

from bnbook.runs.config import Config
from bnbook.runs.experiments import run_or_load

SELECTION_SEED = 0


@dataclass(frozen=True)
class Search:
    """Vary `field` over `values`; each candidate trains `steps` steps (None: full length)."""

    field: str
    values: tuple
    steps: int | None = None


@dataclass
class Selection:
    """The chosen config and, per search, each candidate's validation accuracy."""

    config: Config
    searches: list = field(default_factory=list)  # [{"field", "values", "val_accuracy", "chosen"}]
    candidates: list = field(default_factory=list)  # every candidate Config, in order


class NotReady(Exception):
    """A search needs runs that are not trained yet (raised while only planning)."""


def candidates(config: Config, search: Search) -> list[Config]:
    """One selection run per value: `config` with that value, seed 0, no test evaluation."""
    short = {} if search.steps is None else {"steps": search.steps}
    return [
        replace(config, **{search.field: value}, **short, seed=SELECTION_SEED, evaluate_test=False)
        for value in search.values
    ]


def validation_accuracy(record: dict) -> float:
    """The only number selection reads from a record."""
    return record["val_accuracy"]


def select(base: Config, searches: list[Search], run=run_or_load) -> Selection:
    """Apply `searches` in order, each keeping the value with the best validation accuracy
    (the first one on a tie). `run(config)` returns a record, or None while planning."""
    selection = Selection(base)
    for search in searches:
        configs = candidates(selection.config, search)
        selection.candidates += configs
        records = [run(c) for c in configs]
        if any(r is None for r in records):
            raise NotReady(search.field)
        accuracies = [validation_accuracy(r) for r in records]
        chosen = search.values[accuracies.index(max(accuracies))]
        selection.searches.append(
            dict(field=search.field, values=search.values, val_accuracy=accuracies, chosen=chosen)
        )
        selection.config = replace(selection.config, **{search.field: chosen})
    return selection


class Planner:
    """A `run` for planning: cached records as they are, None (and noted) for the rest."""

    def __init__(self, is_cached, load):
        self.is_cached, self.load, self.missing = is_cached, load, []

    def __call__(self, config: Config):
        if self.is_cached(config):
            return self.load(config)
        if config not in self.missing:
            self.missing.append(config)
        return None
