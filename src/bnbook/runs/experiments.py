"""The records cache: record keys, `stored_record` (reading), `run_or_load` (tiny runs).

A record is cached under a key that hashes everything that can change its
numbers: the config, the profile, the code of every module that runs during
training (as this process imported it; docstrings and comments not counted),
the library versions, and the settings that change a run's last bits
(TensorFlow's thread count, oneDNN, the CPU's kernel-picking features). Change
any of them and the record is recomputed; change nothing (or only a docstring)
and a rebuild re-trains nothing. Set BNBOOK_FORCE=1 to re-train anyway.

Only the build's workers train book runs; everything else (chapters, the
summary, TensorBoard, tests) reads with `stored_record`, keyed on the build's
thread count, which never trains.
"""

import importlib
import os
import statistics
import sys
from dataclasses import asdict

from bnbook.runs.config import Config
from bnbook.runs.devices import device_kind
from bnbook.runs.profiles import Profile, current_profile
from bnbook.runs.provenance import (
    TRAIN_THREADS,
    digest,
    library_versions,
    machine,
    numerics,
    source_digest,
)
from bnbook.runs.records import RecordStore

# Every bnbook module whose code runs while a run trains and can change its numbers;
# the modules that only store, key or report records are not here (a test checks
# that training imports nothing else of ours that computes).
TRAINING_MODULES = (
    "networks.batchnorm",
    "networks.architecture",
    "networks.batchnorm_ops",
    "networks.models",
    "networks.pipeline",
    "networks.probes",
    "networks.train",
    "runs.config",
    "runs.data",
    "runs.split",
)
FORCE_ENV_VAR = "BNBOOK_FORCE"


_LOADED_SOURCE: str | None = None


def loaded_source_digest() -> str:
    """Digest of the training modules as this process runs them: computed once, on import.

    Imports every training module first (TensorFlow too), checking the files did
    not change meanwhile; later edits on disk do not change it, so a record is
    filed under the code that made it, never under code that was edited (or a
    branch switched to) while it trained.
    """
    global _LOADED_SOURCE
    if _LOADED_SOURCE is None:
        before = source_digest(TRAINING_MODULES)
        for name in TRAINING_MODULES:
            importlib.import_module(f"bnbook.{name}")
        if source_digest(TRAINING_MODULES) != before:
            raise RuntimeError("the training code changed while it was imported; run again")
        _LOADED_SOURCE = before
    return _LOADED_SOURCE


def record_key(
    config: Config, profile: Profile, source: str | None = None, threads: int | None = None
) -> str:
    """The cache key of `config`'s record.

    `source`: digest of the training code; default: the code this process loaded
    (`loaded_source_digest`). A process that only looks records up and never
    trains (the build's main process, the Sphinx extension) may pass
    `source_digest(TRAINING_MODULES)` instead, to avoid importing TensorFlow.
    `threads`: TensorFlow's thread count the run trains with (default: this process's).
    """
    return digest(key_inputs(config, profile, source, threads))


def key_inputs(config: Config, profile: Profile, source=None, threads=None) -> dict:
    """Everything a record's key hashes (stored in the record, so it can be checked)."""
    return {
        "config": config.as_dict(),
        "profile": asdict(profile),
        "source": source or loaded_source_digest(),
        "versions": library_versions(),
        "device": device_kind(),  # "cpu" or "gpu:<model>" (runs/devices.py)
        "numerics": numerics(threads),
    }


def matches_its_key(record: dict) -> bool:
    """Whether the record's own config and profile are what its key hashes."""
    inputs = record.get("key_inputs")
    return (
        isinstance(inputs, dict)
        and digest(inputs) == record["key"]
        and inputs.get("config") == record["config"]
        and inputs.get("profile", {}).get("name") == record["profile"]
    )


def stored_record(
    config: Config, profile: Profile | None = None, store=None, source: str | None = None
) -> dict | None:
    """The build's record of `config`, or None: keyed on the code on disk and the build's
    thread count, whatever this process's are. Never trains, never imports TensorFlow."""
    profile = profile or current_profile()
    source = source or source_digest(TRAINING_MODULES)
    key = record_key(config, profile, source, TRAIN_THREADS)
    record = (store or RecordStore()).get(key)
    if record is not None and not matches_its_key(record):
        print(f"note: ignoring record {key[:12]}...: its config or profile is not its key's",
              file=sys.stderr)  # fmt: skip
        return None
    return record


def lookup(profile: Profile | None = None, store=None):
    """`stored_record` for one profile and store, the code digest taken once."""
    profile, store = profile or current_profile(), store or RecordStore()
    source = source_digest(TRAINING_MODULES)
    return lambda config: stored_record(config, profile, store, source)


def run_or_load(
    config: Config,
    profile: Profile | None = None,
    store: RecordStore | None = None,
    progress: bool = True,
) -> dict:
    """The record of `config`: from the cache if it is there and current, else trained now."""
    profile = profile or current_profile()
    store = store or RecordStore()
    if os.environ.get(FORCE_ENV_VAR) != "1":
        record = store.get(record_key(config, profile))
        if record is not None:
            return record
    return train_and_store(config, profile, store, progress)


def is_cached(
    config: Config, profile: Profile | None = None, store=None, source: str | None = None
) -> bool:
    """Whether a complete record of `config` is stored (`source`: see record_key)."""
    profile = profile or current_profile()
    return (store or RecordStore()).get(record_key(config, profile, source)) is not None


def train_and_store(
    config: Config,
    profile: Profile | None = None,
    store: RecordStore | None = None,
    progress: bool = True,
    bar_position: int = 0,
) -> dict:
    """Train `config` now, whatever the cache holds, store the record and return it.

    The key is taken before training, from the code this process imported, and
    the record says where it was made (`machine`: CPU, cores, threads, oneDNN,
    TensorFlow and Python versions).
    """
    profile = profile or current_profile()
    store = store or RecordStore()
    inputs = key_inputs(config, profile)  # imports the training modules: the code that runs
    record = train_record(config, profile, progress, bar_position)
    key = digest(inputs)
    store.put(key, {**record, "key_inputs": inputs})
    return store.get(key)


def train_record(config: Config, profile: Profile, progress=True, bar_position=0) -> dict:
    """Train `config` on the profile's split of MNIST; its record, with where it was made
    (stored by the caller: here, or by the build for a Dask worker)."""
    import time

    from bnbook.networks.train import train
    from bnbook.runs.config import steps_per_epoch, total_steps
    from bnbook.runs.data import load_mnist
    from bnbook.runs.split import split

    measured = train(config, split(load_mnist(), profile), total_steps(config, profile),
                     steps_per_epoch(config, profile), progress, bar_position)  # fmt: skip
    return {"config": config.as_dict(), "profile": profile.name,
            "versions": library_versions(), **measured, "created": time.time(),
            "machine": {**machine(), "precision": config.precision}}  # fmt: skip


def summarize(records: list[dict]) -> dict:
    """Mean and sample std of test and validation accuracy over seeds, every seed listed.

    Runs that never saw the test set (selection, explorations) have test mean and std None.
    """

    def mean_and_std(values):
        if None in values:
            return None, None
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    mean, std = mean_and_std([r["test_accuracy"] for r in records])
    val_mean, val_std = mean_and_std([r["val_accuracy"] for r in records])
    return {
        "config": {k: v for k, v in records[0]["config"].items() if k != "seed"},
        "profile": records[0]["profile"],
        "seeds": {str(r["config"]["seed"]): r["test_accuracy"] for r in records},
        "mean": mean,
        "std": std,
        "val_mean": val_mean,
        "val_std": val_std,
        "wall_time_s": sum(r["wall_time_s"] for r in records),
        "images_per_second": statistics.fmean(r["images_per_second"] for r in records),
    }
