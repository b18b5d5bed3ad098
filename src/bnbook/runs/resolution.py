"""Resolving a plan against the stored records: which studies the records decide, and
which of their runs are stored. It only looks records up; it never trains."""

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Study:
    """Runs one chapter reads. `make(runs)` lists them, given the records of `needs`."""

    name: str
    chapter: str
    make: Callable
    needs: tuple = ()
    also_read_by: tuple = ()  # other chapters that read these runs too


class NotTrained(Exception):
    """A chapter asked for runs whose records are not stored: build the book first."""


@dataclass
class Resolved:
    """A plan as far as the stored records decide it."""

    configs: dict  # study name -> [Config] (studies whose needs are not all stored: absent)
    records: dict  # Config -> record, for every stored run of a known study
    studies: tuple = ()
    chapters: dict = field(default_factory=dict)  # chapter id -> title, in book order

    def missing(self) -> list:
        """Known runs without a record: what can be trained now."""
        return [c for cs in self.configs.values() for c in cs if c not in self.records]

    def complete(self) -> bool:
        return len(self.configs) == len(self.studies) and not self.missing()

    def runs(self, *studies: str) -> dict:
        """{config: record} of the named studies (all stored, or NotTrained)."""
        out = {}
        for name in studies:
            if name not in self.configs or any(c not in self.records for c in self.configs[name]):
                raise NotTrained(name)
            out.update((c, self.records[c]) for c in self.configs[name])
        return out

    def chapter_configs(self) -> dict:
        """{chapter id: [Config]} of the known studies, in book order."""
        out = {chapter: [] for chapter in self.chapters}
        for study in self.studies:
            for chapter in (study.chapter, *study.also_read_by):
                out[chapter] += self.configs.get(study.name, [])
        return out


def resolve(lookup: Callable, studies: tuple, chapters: dict) -> Resolved:
    """Every study whose needs are stored, with the records `lookup` finds (or None)."""
    resolved = Resolved({}, {}, studies, chapters)
    for study in studies:
        if any(need not in resolved.configs for need in study.needs):
            continue
        try:
            inputs = resolved.runs(*study.needs)
        except NotTrained:
            continue
        configs = list(dict.fromkeys(study.make(inputs)))
        resolved.configs[study.name] = configs
        for config in configs:
            record = lookup(config)
            if record is not None:
                resolved.records[config] = record
    return resolved
