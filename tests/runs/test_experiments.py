"""The runner and its cache: reuse, invalidation, atomic writes, determinism."""

import json
import shutil
import subprocess
import sys

import pytest

from bnbook.runs import experiments, provenance
from bnbook.runs.config import Config
from bnbook.runs.experiments import record_key, run_or_load
from bnbook.runs.profiles import Profile
from bnbook.runs.records import RecordStore

TINY = Profile("tiny-test", 512, 100, 200, 12, seeds=(0,))
SMALL_MLP = Config(model="mlp", widths=(32, 16), epochs=1, batch_size=64)


@pytest.fixture
def store(tmp_path):
    return RecordStore(tmp_path / "records")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real record (without its key), to store again in tests that need a complete one."""
    record = run_or_load(SMALL_MLP, TINY, RecordStore(tmp_path_factory.mktemp("r")), False)
    return {k: v for k, v in record.items() if k != "key"}


def test_record_has_the_fields_chapters_read(store):
    record = run_or_load(SMALL_MLP, TINY, store, progress=False)
    assert len(record["losses"]) == record["steps"] == 8  # 512 images / 64 per batch
    assert record["evals"][-1]["step"] == 8
    assert 0.0 <= record["test_accuracy"] <= 1.0
    assert record["images_per_second"] > 0 and record["wall_time_s"] > 0
    assert record["config"]["widths"] == [32, 16] and record["profile"] == TINY.name
    assert "keras" in record["versions"]


def test_cached_record_is_reused_without_training(store, monkeypatch):
    first = run_or_load(SMALL_MLP, TINY, store, progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr("bnbook.networks.train.train", no_training)
    assert run_or_load(SMALL_MLP, TINY, store, progress=False) == first


def test_force_switch_retrains(store, monkeypatch, trained):
    store.put(record_key(SMALL_MLP, TINY), trained)
    monkeypatch.setenv(experiments.FORCE_ENV_VAR, "1")
    measured = {
        k: v
        for k, v in trained.items()
        if k not in ("config", "profile", "versions", "created", "machine", "key_inputs")
    }
    monkeypatch.setattr(
        "bnbook.networks.train.train", lambda *a, **k: {**measured, "parameters": -1}
    )
    assert run_or_load(SMALL_MLP, TINY, store, progress=False)["parameters"] == -1


def test_config_and_profile_change_the_key():
    key = record_key(SMALL_MLP, TINY)
    assert record_key(Config(**{**SMALL_MLP.as_dict(), "lr": 0.01}), TINY) != key
    assert record_key(SMALL_MLP.with_seed(1), TINY) != key
    assert record_key(SMALL_MLP, Profile("other", 512, 100, 200, 13, seeds=(0,))) != key


def test_a_changed_statement_changes_the_key_and_a_docstring_does_not(tmp_path, monkeypatch):
    def on_disk():
        return provenance.source_digest(experiments.TRAINING_MODULES)

    key = record_key(SMALL_MLP, TINY)
    copy = tmp_path / "bnbook"
    shutil.copytree(provenance.PACKAGE_DIR, copy)
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    assert record_key(SMALL_MLP, TINY, on_disk()) == key
    train_py = copy / "networks" / "train.py"
    text = train_py.read_text()
    # A docstring and a comment are not code: the key stays.
    edited = text.replace('"""Mean training loss', '"""The mean training loss').replace(
        "# the progress bar moves once per call", "# the bar moves once per graph call"
    )
    edited = edited.replace('    """One step: forward, loss', '    """A step: forward, loss')
    assert edited != text
    train_py.write_text(edited)
    assert record_key(SMALL_MLP, TINY, on_disk()) == key
    train_py.write_text(text.replace("EVAL_BATCH = 1000", "EVAL_BATCH = 500"))
    assert record_key(SMALL_MLP, TINY, on_disk()) != key
    monkeypatch.setattr(experiments, "_LOADED_SOURCE", None)  # a new process, say
    assert record_key(SMALL_MLP, TINY) != key


def test_library_versions_change_the_key(monkeypatch):
    key = record_key(SMALL_MLP, TINY)
    real = provenance.library_versions()
    monkeypatch.setattr(experiments, "library_versions", lambda: {**real, "keras": "0.0"})
    assert record_key(SMALL_MLP, TINY) != key


# Modules training imports that compute nothing a run's numbers depend on: where
# files are (`paths`) and the profile, which the key holds as data.
NOT_COMPUTING = {"paths", "runs.profiles"}


def test_training_modules_cover_everything_training_imports():
    code = (
        "import sys, bnbook.networks.train, bnbook.runs.data, bnbook.runs.split, "
        "bnbook.runs.config\n"
        "print(' '.join(sorted(m.split('.', 1)[1] for m in sys.modules "
        "if m.startswith('bnbook.') and not hasattr(sys.modules[m], '__path__'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported = set(out.stdout.split()) - NOT_COMPUTING
    assert imported == set(experiments.TRAINING_MODULES), imported ^ set(
        experiments.TRAINING_MODULES
    )


def test_interrupted_write_leaves_no_record(store, monkeypatch, trained):
    def interrupted(obj, f):
        f.write('{"partial": ')
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.put("abc", trained)
    assert store.get("abc") is None
    assert list(store.directory.iterdir()) == []


def test_truncated_or_foreign_record_is_a_miss(store, trained):
    store.put("abc", trained)
    path = store.path("abc")
    path.write_text(path.read_text()[:-5])
    assert store.get("abc") is None
    path.write_text(json.dumps({"key": "other", "losses": []}))
    assert store.get("abc") is None


def test_same_seed_gives_identical_losses(store, tmp_path):
    config = Config(model="mlp", widths=(32, 16), batch_norm=True, epochs=1, batch_size=64)
    a = run_or_load(config, TINY, store, progress=False)
    b = run_or_load(config, TINY, RecordStore(tmp_path / "other"), progress=False)
    assert a["losses"] == b["losses"]
    c = run_or_load(config.with_seed(1), TINY, store, progress=False)
    assert c["losses"] != a["losses"]


def test_conv_blocks_read_the_cnn_description_once():
    from bnbook.networks.architecture import conv_blocks

    assert conv_blocks((32, "pool", 64, 128, "pool")) == [(32, True), (64, False), (128, True)]
    for bad in (("pool", 32), (32, "pool", "pool"), (32, "max")):
        with pytest.raises(ValueError):
            conv_blocks(bad)
