"""The record store: a tampered, truncated or foreign record is a miss with a note, and an
incomplete one is never written."""

import json

import pytest

from tests.fake_records import fake_record


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: {"key": r["key"]},  # tampered: only the key
        lambda r: {k: v for k, v in r.items() if k != "evals"},  # a field missing
        lambda r: {**r, "losses": r["losses"][:-1]},  # truncated losses
        lambda r: {**r, "test_accuracy": "0.99"},  # wrong type
        lambda r: {**r, "key": "someone-else"},  # foreign
    ],
)
def test_a_bad_record_is_a_miss_with_a_note(store, damage, capsys):
    store.put("k", fake_record())
    record = json.loads(store.path("k").read_text())
    store.path("k").write_text(json.dumps(damage(record)))
    assert store.get("k") is None
    assert "ignoring record" in capsys.readouterr().err


def test_a_truncated_file_is_a_miss(store, capsys):
    store.put("k", fake_record())
    store.path("k").write_text(store.path("k").read_text()[:-20])
    assert store.get("k") is None and "ignoring record" in capsys.readouterr().err


def test_an_incomplete_record_is_never_written(store):
    with pytest.raises(ValueError, match="missing"):
        store.put("k", {"losses": []})
    assert not store.path("k").exists()
