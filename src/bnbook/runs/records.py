"""The on-disk store of training records: one JSON file per cache key.

A record is written to a temporary file and renamed into place, so an
interrupted run (Ctrl-C, kill, full disk) leaves either no record or a whole
one. A file that does not parse, or whose stored key differs from its name, is
treated as missing and recomputed.
"""

import json
import os
import tempfile
from pathlib import Path

from bnbook.paths import PROJECT_ROOT

RECORDS_DIR = Path(os.environ.get("BNBOOK_RECORDS_DIR", PROJECT_ROOT / "_build" / "records"))


class RecordStore:
    def __init__(self, directory: Path | None = None):
        self.directory = Path(directory or RECORDS_DIR)

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The complete record stored under `key`, or None."""
        try:
            record = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        return record

    def put(self, key: str, record: dict) -> None:
        record = {**record, "key": key}
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f)
            os.replace(tmp, self.path(key))
        except BaseException:
            os.unlink(tmp)
            raise
