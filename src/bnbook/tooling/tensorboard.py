"""`make tensorboard`: every training record's curves as TensorBoard runs.

Each record in the store becomes one run, `<profile>/<chapter>/<config>`,
holding every numeric series the record has: the training loss per step,
each evaluation field (test or validation loss and accuracy, whatever the
record holds) at its step, the probes' activation percentiles and gradient
norms, and the final numbers at the last step. The export is rebuilt whole
each time, in a temporary folder renamed into place.
"""

import argparse
import os
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

from bnbook.paths import PROJECT_ROOT
from bnbook.runs.records import RecordStore

LOG_DIR = PROJECT_ROOT / "_build" / "tensorboard"
LABEL_FIELDS = ("model", "batch_norm", "optimizer", "lr", "seed")  # already in Config.label()


def chapters_by_key() -> dict:
    """{record key: chapter title} for every run the chapters read, in every profile
    (looked up in the store: never trains)."""
    from bnbook.runs.experiments import lookup
    from bnbook.runs.plan import CHAPTERS, resolve
    from bnbook.runs.profiles import ENV_VAR, PROFILES

    found, saved = {}, os.environ.get(ENV_VAR)
    try:
        for name, profile in PROFILES.items():
            os.environ[ENV_VAR] = name  # the plan's seeds depend on the profile
            resolved = resolve(lookup(profile))
            for chapter, configs in resolved.chapter_configs().items():
                found.update((resolved.records[c]["key"], CHAPTERS[chapter])
                             for c in configs if c in resolved.records)  # fmt: skip
    finally:
        os.environ.pop(ENV_VAR) if saved is None else os.environ.update({ENV_VAR: saved})
    return found


def run_name(record: dict, chapter: str | None) -> str:
    """`<profile>/<chapter>/<label> <what differs from the defaults> <key prefix>`."""
    from bnbook.runs.config import Config

    known = {f.name for f in fields(Config)}
    config = Config(**{k: v for k, v in record["config"].items() if k in known})
    defaults = Config().as_dict()
    extra = [
        f"{k}={_short(v)}"
        for k, v in record["config"].items()
        if k not in LABEL_FIELDS and _hashable(v) != defaults.get(k)
    ]
    name = " ".join([config.label(), *extra, record["key"][:8]])
    chapter = chapter or "not in the current chapters"
    return "/".join(map(_folder_name, (str(record["profile"]), chapter, name)))


def _folder_name(text: str) -> str:
    """`text` as one folder name: no separator, never `.` or `..` (a record's fields are
    data; a profile of ".." must not put its run outside the export)."""
    name = text.replace("/", "-").replace("\\", "-").replace("\0", "")
    return name if name.strip(".") else name.replace(".", "-") or "-"


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value  # JSON turned tuples into lists


def _short(value) -> str:
    return "-".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def series(record: dict) -> dict:
    """{tag: [(step, value)]}: every numeric curve of the record."""
    out = {"train/loss": [(i + 1, v) for i, v in enumerate(record.get("losses", []))]}
    for ev in record.get("evals", []):
        for k, v in ev.items():
            if k != "step" and _is_number(v):
                out.setdefault(f"eval/{k}", []).append((ev["step"], v))
    for pr in record.get("probes", []):
        for tag, v in _flatten(pr, "probe"):
            if not tag.endswith("/step"):
                out.setdefault(tag, []).append((pr["step"], v))
    for k, v in record.items():  # final numbers, at the last step
        if k.startswith(("test_", "val_")) and _is_number(v):
            out[f"final/{k}"] = [(record.get("steps", 0), v)]
    return {tag: points for tag, points in out.items() if points}


def _flatten(obj, prefix):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}/{i}")
    elif _is_number(obj):
        yield prefix, obj


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def export(store: RecordStore | None = None, log_dir: Path = LOG_DIR) -> dict:
    """Write one TensorBoard run per record of `store` under `log_dir`; returns {run: key}."""
    import tensorflow as tf

    store = store or RecordStore()
    chapters = chapters_by_key()
    tmp = log_dir.with_name(log_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    runs = {}
    for path in sorted(store.directory.glob("*.json")):
        record = store.get(path.stem)
        if record is None:
            continue
        name = run_name(record, chapters.get(record["key"]))
        if not (tmp / name).resolve().is_relative_to(tmp.resolve()):
            raise RuntimeError(f"run name {name!r} leaves {tmp}")  # _folder_name prevents it
        runs[name] = record["key"]
        writer = tf.summary.create_file_writer(str(tmp / name))
        with writer.as_default():
            for tag, points in series(record).items():
                for step, value in points:
                    tf.summary.scalar(tag, value, step=step)
        writer.close()
    shutil.rmtree(log_dir, ignore_errors=True)
    tmp.rename(log_dir)
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="then start TensorBoard")
    parser.add_argument("--port", type=int, default=6006)
    args = parser.parse_args(argv)
    runs = export()
    print(f"{len(runs)} runs in {LOG_DIR}", flush=True)
    if not runs:
        print("(no records yet: `make smoke` or `make book` trains them)", file=sys.stderr)
    if args.serve:
        tensorboard = Path(sys.executable).parent / "tensorboard"
        cmd = [str(tensorboard), "--logdir", str(LOG_DIR), "--host", "127.0.0.1"]
        return subprocess.call([*cmd, "--port", str(args.port)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
