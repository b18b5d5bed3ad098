"""The records cache: `run_or_load`, record keys, and the summaries over seeds.

A record is cached under a key that hashes everything that produced it: the
config, the profile, the source of every module that training runs (as this
process imported it), the library versions, and the settings that change a
run's last bits (TensorFlow's thread count, oneDNN, the CPU's kernel-picking
features). Change any of them and the record is recomputed; change nothing and
a rebuild re-trains nothing. Set BNBOOK_FORCE=1 to re-train anyway.
"""

import importlib
import os
import statistics
from dataclasses import asdict

from bnbook.runs.config import Config
from bnbook.runs.devices import device_kind
from bnbook.runs.profiles import Profile, current_profile
from bnbook.runs.provenance import digest, library_versions, machine, numerics, source_digest
from bnbook.runs.records import RecordStore

# Every bnbook module that training imports; tests check this list is complete.
TRAINING_MODULES = (
    "paths",
    "networks.batchnorm",
    "networks.batchnorm_ops",
    "networks.models",
    "networks.pipeline",
    "networks.probes",
    "networks.train",
    "runs.config",
    "runs.data",
    "runs.devices",
    "runs.experiments",
    "runs.mnist_wheel",
    "runs.precision",
    "runs.profiles",
    "runs.provenance",
    "runs.records",
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


def record_key(config: Config, profile: Profile, source: str | None = None) -> str:
    """The cache key of `config`'s record.

    `source`: digest of the training code; default: the code this process loaded
    (`loaded_source_digest`). A process that only looks records up and never
    trains (the build's main process, the Sphinx extension) may pass
    `source_digest(TRAINING_MODULES)` instead, to avoid importing TensorFlow.
    """
    return digest(
        {
            "config": config.as_dict(),
            "profile": asdict(profile),
            "source": source or loaded_source_digest(),
            "versions": library_versions(),
            "device": device_kind(),  # "cpu" or "gpu:<model>" (runs/devices.py)
            "numerics": numerics(),
        }
    )


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
    key = record_key(config, profile)  # imports the training modules: the code that runs
    store.put(key, train_record(config, profile, progress, bar_position))
    return store.get(key)


def train_record(config: Config, profile: Profile, progress=True, bar_position=0) -> dict:
    """Train `config` on the profile's split of MNIST; its record, with where it was made
    (stored by the caller: here, or by the build for a Dask worker)."""
    from bnbook.networks.train import train
    from bnbook.runs.data import load_mnist
    from bnbook.runs.split import split

    record = train(config, split(load_mnist(), profile), profile, progress, bar_position)
    return {**record, "machine": {**machine(), "precision": config.precision}}


def run_seeds(config: Config, profile: Profile | None = None, **kwargs) -> list[dict]:
    """One record per seed of the profile (the headline comparisons use these)."""
    profile = profile or current_profile()
    return [run_or_load(config.with_seed(s), profile, **kwargs) for s in profile.seeds]


def summarize(records: list[dict]) -> dict:
    """Mean and sample std of test and validation accuracy over seeds, every seed listed.

    Runs that never saw the test set (selection, explorations) have test mean and std None.
    """

    def mean_std(values):
        if None in values:
            return None, None
        return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0

    mean, std = mean_std([r["test_accuracy"] for r in records])
    val_mean, val_std = mean_std([r["val_accuracy"] for r in records])
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
