"""Record keys: the code that trained, the thread count, oneDNN and the CPU's kernels are in
the key, and a record that is not its key's is never read."""

import shutil
import sys

from bnbook.runs import cpu, experiments, provenance
from bnbook.runs.experiments import record_key
from bnbook.tooling import build
from tests.fake_records import SMALL_MLP, TINY, fake_record


def test_a_record_is_keyed_on_the_code_that_trained_it(store, tmp_path, monkeypatch):
    copy = tmp_path / "bnbook"
    shutil.copytree(provenance.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(provenance, "PACKAGE_DIR", copy)
    monkeypatch.setattr(experiments, "_LOADED_SOURCE", None)
    old_key = record_key(SMALL_MLP, TINY)  # the worker imports the modules: code "old"
    train_py = copy / "networks" / "train.py"

    def train_while_someone_edits(*args):
        train_py.write_text(train_py.read_text() + "\nEDITED_DURING_THE_RUN = True\n")
        drop = ("machine", "config", "profile", "versions", "created")
        return {k: v for k, v in fake_record().items() if k not in drop}

    monkeypatch.setattr("bnbook.networks.train.train", train_while_someone_edits)
    monkeypatch.setattr("bnbook.runs.data.load_mnist", lambda: {})
    monkeypatch.setattr("bnbook.runs.split.split", lambda data, profile: data)
    experiments.train_and_store(SMALL_MLP, TINY, store, progress=False)
    new_source = provenance.source_digest(experiments.TRAINING_MODULES)
    assert store.get(old_key) is not None, "the record is not under the code that made it"
    assert store.get(record_key(SMALL_MLP, TINY, new_source)) is None, "old code, new key"


def test_threads_onednn_and_cpu_kernels_are_in_the_record_key(monkeypatch):
    source = "fixed"
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)  # key from the environment
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    one = record_key(SMALL_MLP, TINY, source)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    assert record_key(SMALL_MLP, TINY, source) != one, "1 and 2 threads share records"
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert record_key(SMALL_MLP, TINY, source) != one, "oneDNN on and off share records"
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS")
    monkeypatch.setattr(cpu, "flags", lambda: {"avx512_bf16", "amx_bf16"})
    assert record_key(SMALL_MLP, TINY, source) != one, "other CPU kernels share records"


def test_kernels_train_with_the_workers_thread_count(monkeypatch):
    env = build.kernel_environment()
    assert env["TF_NUM_INTRAOP_THREADS"] == str(provenance.TRAIN_THREADS)
    assert env["TF_NUM_INTEROP_THREADS"] == str(provenance.TRAIN_THREADS)


def test_a_record_whose_config_is_not_its_keys_is_never_read(store, monkeypatch):
    monkeypatch.setattr(experiments, "TRAIN_THREADS", 1)
    source = provenance.source_digest(experiments.TRAINING_MODULES)
    inputs = experiments.key_inputs(SMALL_MLP, TINY, source, 1)
    key = provenance.digest(inputs)
    record = {**fake_record(), "config": SMALL_MLP.as_dict(), "profile": TINY.name}
    store.put(key, {**record, "key_inputs": inputs})
    assert experiments.stored_record(SMALL_MLP, TINY, store, source) is not None
    forged = {**record, "config": {**SMALL_MLP.as_dict(), "lr": 0.5}, "key_inputs": inputs}
    store.put(key, forged)  # another run's numbers filed under this key
    assert experiments.stored_record(SMALL_MLP, TINY, store, source) is None
