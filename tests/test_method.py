"""The method: a fixed validation split, selection on it alone, and fair arms."""

import zlib
from dataclasses import replace

import numpy as np
import pytest

from bnbook.runs import studies
from bnbook.runs.config import Config
from bnbook.runs.profiles import PROFILES
from bnbook.runs.selection import NotReady, Search, candidates, select
from bnbook.runs.split import VALIDATION_SIZE, split, split_indices


def fake_mnist():
    rng = np.random.default_rng(1)
    return {
        "x_train": np.arange(60000, dtype=np.int64)[:, None, None] * np.ones((1, 2, 2), np.int64),
        "y_train": rng.integers(0, 10, 60000).astype(np.uint8),
        "x_test": -np.arange(10000, dtype=np.int64)[:, None, None] * np.ones((1, 2, 2), np.int64),
        "y_test": rng.integers(0, 10, 10000).astype(np.uint8),
    }


def test_validation_split_is_disjoint_fixed_and_complete():
    train, val = split_indices()
    assert len(val) == VALIDATION_SIZE and len(train) == 60000 - VALIDATION_SIZE
    assert not set(train) & set(val)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(60000))
    again_train, again_val = split_indices()
    np.testing.assert_array_equal(val, again_val)
    np.testing.assert_array_equal(train, again_train)
    assert not np.array_equal(val, np.arange(VALIDATION_SIZE))  # shuffled, not the first ones


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_each_profile_takes_disjoint_parts(profile):
    parts = split(fake_mnist(), PROFILES[profile])
    ids = {name: set(parts[f"x_{name}"][:, 0, 0].tolist()) for name in ("train", "val", "test")}
    assert not ids["train"] & ids["val"]
    assert all(i < 0 or i == 0 for i in ids["test"])  # test images come from the test set only
    assert len(ids["val"]) == (PROFILES[profile].validation_examples or VALIDATION_SIZE)
    assert ids["val"] <= set(split_indices()[1].tolist())


class NoTestRecord(dict):
    """A record whose test numbers cannot be read: selection must not need them."""

    def __getitem__(self, key):
        if key.startswith("test"):
            raise AssertionError(f"selection read {key!r}")
        return super().__getitem__(key)

    get = __getitem__


def fake_record(config: Config) -> dict:
    """Deterministic made-up validation accuracy per config."""
    score = zlib.crc32(repr(config.as_dict()).encode()) % 1000 / 1000
    return NoTestRecord(val_accuracy=score, test_accuracy=1 - score, config=config.as_dict())


def test_selection_reads_only_validation_and_picks_the_best():
    base = Config(model="mlp", epochs=2)
    searches = [Search("lr", (1e-3, 1e-2, 1e-1), steps=10), Search("shift", (0, 2))]
    chosen = select(base, searches, fake_record)
    first = chosen.searches[0]
    assert first["chosen"] == first["values"][int(np.argmax(first["val_accuracy"]))]
    assert chosen.config.lr == first["chosen"] and chosen.config.steps is None  # full length
    assert all(not c.evaluate_test and c.seed == 0 for c in chosen.candidates)
    assert candidates(base, searches[0])[0].steps == 10


def test_selection_while_planning_stops_at_the_first_missing_search():
    seen = []

    def planner(config):
        seen.append(config)
        return None

    with pytest.raises(NotReady):
        select(Config(), [Search("lr", (1e-3, 1e-2)), Search("shift", (0, 2))], planner)
    assert [c.lr for c in seen] == [1e-3, 1e-2]


def test_both_arms_of_each_comparison_use_the_same_selection():
    for model in ("mlp", "cnn"):
        plain, bn = studies.ARMS[model], studies.ARMS[f"{model}_bn"]
        assert replace(bn[0], batch_norm=False) == plain[0]
        assert bn[1][: len(plain[1])] == plain[1]
        extra = bn[1][len(plain[1]) :]
        assert all(s.field == "bn_placement" for s in extra)  # only what needs batch norm


def run_all_rounds():
    """Plan and 'train' (fake records) round after round, as the build does."""
    store = {}
    rounds = 0
    while todo := studies.runs_to_train_next(lambda c: c in store, lambda c: store[c]):
        store.update({c: fake_record(c) for c in todo})
        rounds += 1
        assert rounds < 10
    return store, rounds


def test_training_rounds_cover_every_run_the_chapters_read():
    store, rounds = run_all_rounds()
    read = {c for cs in studies.chapter_configs(lambda c: store[c]).values() for c in cs}
    assert read == set(store)
    assert rounds >= 2  # selection first, finals after


def test_only_final_runs_see_the_test_set():
    store, _ = run_all_rounds()

    def run(c):
        return store[c]

    finals = {c for s in studies.arms(run).values() for c in studies.seeds(s.config)}
    finals |= {c for m in ("mlp", "cnn") for c in studies.seeds(studies.shared_rate(m, run))}
    finals |= set(studies.precision_check(run)) | {studies.PAPER_MLP, studies.PAPER_MLP_BN}
    assert {c for c in store if c.evaluate_test} == finals
