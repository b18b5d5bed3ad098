"""The on-disk store of training records: one JSON file per cache key.

A record is written to a temporary file and renamed into place, so an
interrupted run (Ctrl-C, kill, full disk) leaves either no record or a whole
one. A file that does not parse, whose stored key differs from its name, or
that lacks a field the chapters read (`check_record`) is treated as missing:
one line on stderr says so, and the run is trained again.
"""

import json
import sys
from pathlib import Path

from bnbook.paths import PROJECT_ROOT, env_dir, remove_leftovers, write_atomically

RECORDS_DIR = env_dir("BNBOOK_RECORDS_DIR", PROJECT_ROOT / "_build" / "records")

# Every field a chapter or the build reads, with its JSON type. Keep in step with
# what networks.train returns and experiments.train_and_store adds ("machine").
NUMBER = (int, float)
SCHEMA = {
    "key": str,
    "config": dict,
    "profile": str,
    "versions": dict,
    "machine": dict,
    "train_examples": int,
    "val_examples": int,
    "test_examples": int,
    "steps": int,
    "losses": list,
    "evals": list,
    "probes": list,
    "val_accuracy": NUMBER,
    "val_loss": NUMBER,
    # None for runs that never see the test set (selection, explorations)
    "test_accuracy": (*NUMBER, type(None)),
    "test_loss": (*NUMBER, type(None)),
    "train_time_s": NUMBER,
    "wall_time_s": NUMBER,
    "images_per_second": NUMBER,
    "parameters": int,
    "created": NUMBER,
}
EVAL_FIELDS = ("step", "val_loss", "val_accuracy", "train_loss", "train_accuracy")


class RecordError(ValueError):
    """A record that must not be used; the message says why, in a few words."""


def check_record(record, key: str) -> None:
    """Raise RecordError unless `record` is a complete record stored under `key`."""
    if not isinstance(record, dict):
        raise RecordError("not a JSON object")
    if record.get("key") != key:
        raise RecordError(f"it belongs to key {str(record.get('key'))[:12]}...")
    for field, kind in SCHEMA.items():
        if field not in record:
            raise RecordError(f"field {field!r} is missing")
        value = record[field]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RecordError(f"field {field!r} has type {type(value).__name__}")
    if len(record["losses"]) != record["steps"]:
        raise RecordError(f"{len(record['losses'])} losses for {record['steps']} steps")
    if not record["evals"] or not all(
        isinstance(e, dict) and all(f in e for f in EVAL_FIELDS) for e in record["evals"]
    ):
        raise RecordError("its evaluations are missing or incomplete")
    if record["evals"][-1]["step"] != record["steps"]:
        raise RecordError("its last evaluation is not at the last step")


class RecordStore:
    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or RECORDS_DIR)

    def path(self, key: str) -> Path:
        """Where the record with `key` is stored."""
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The complete record stored under `key`, or None (with a note if one was unusable)."""
        path = self.path(key)
        try:
            record = json.loads(path.read_text())
            check_record(record, key)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:  # RecordError and JSON errors are ValueErrors
            note = f"bnbook: ignoring record {path} ({e}); it will be trained again"
            print(note, file=sys.stderr)
            return None
        return record

    def put(self, key: str, record: dict) -> None:
        """Store `record` under `key`, whole or not at all; RecordError if it is incomplete."""
        record = {**record, "key": key}
        check_record(record, key)
        write_atomically(self.path(key), lambda f: json.dump(record, f))

    def remove_leftovers(self) -> int:
        """Delete temporary files of writes that were killed; never one being written, by
        any process (the full and smoke builds share this folder)."""
        return len(remove_leftovers(self.directory))
