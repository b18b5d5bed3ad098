"""What produced a result: library versions, a digest of our own source, the machine.

Cache keys are built from these, so a cached result is never reused after the
code, a library or a setting that changes its numbers changed; every record
also states the machine it was made on (`machine()`).
"""

import ast
import hashlib
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from bnbook.paths import PACKAGE_DIR
from bnbook.runs import cpu

# Distributions whose versions can change a number in the book.
LIBRARIES = ("tensorflow-cpu", "tensorflow", "keras", "numpy", "matplotlib", "graphviz")


def library_versions() -> dict:
    """Installed versions of the libraries that shape our results (no heavy imports)."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def code_text(path: Path) -> bytes:
    """A module's code as the interpreter runs it: its syntax tree without docstrings,
    comments or line numbers (so editing those changes no key)."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False).encode()


def source_digest(module_names=None, code_only: bool = True) -> str:
    """sha256 over our package's code (all of it, or the named dotted modules, e.g.
    "networks.train"), docstrings and comments excluded (`code_text`); with
    `code_only=False` the files as they are (the book prints their docstrings)."""
    if module_names is None:
        paths = sorted(PACKAGE_DIR.rglob("*.py"))
    else:
        paths = sorted(
            PACKAGE_DIR.joinpath(*name.split(".")).with_suffix(".py") for name in module_names
        )
    h = hashlib.sha256()
    for path in paths:
        name = path.relative_to(PACKAGE_DIR).as_posix()
        text = code_text(path) if code_only else path.read_bytes()
        h.update(name.encode() + b"\0" + text + b"\0")
    return h.hexdigest()


def digest(obj) -> str:
    """sha256 of a JSON-serialisable object, independent of dict order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# CPU features that make TensorFlow/oneDNN pick different kernels (so different
# rounding): a record made with them is not the record a CPU without them makes.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_bf16")


# TensorFlow threads of the build's training workers and of the book's kernels (which
# may train what is missing): one, see tooling.training_pool. Part of every record key.
TRAIN_THREADS = 1
THREAD_ENV_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def threads_env() -> dict:
    """The environment that gives TensorFlow TRAIN_THREADS threads (set before it starts)."""
    return dict.fromkeys(THREAD_ENV_VARS, str(TRAIN_THREADS))


def default_threads_env() -> None:
    """Give this process (and the kernels it starts) TRAIN_THREADS, unless the user chose."""
    for name, value in threads_env().items():
        os.environ.setdefault(name, value)


def training_threads() -> int:
    """TensorFlow's intra-op threads here: as set, else from the environment, else all cores."""
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "config"):
        set_here = tf.config.threading.get_intra_op_parallelism_threads()
        if set_here:
            return set_here
    from_env = os.environ.get("TF_NUM_INTRAOP_THREADS", "")
    return int(from_env) if from_env.isdigit() and int(from_env) > 0 else os.cpu_count() or 1


def onednn_enabled() -> bool:
    """Whether TensorFlow uses oneDNN's kernels (on by default on x86 Linux)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1").strip().lower() not in ("0", "false")


def numerics(threads: int | None = None) -> dict:
    """What, besides config and code, changes the last bits of a run; part of every record key.

    `threads`: the TensorFlow thread count to key on (default: this process's).
    """
    return {
        "threads": threads or training_threads(),
        "onednn": onednn_enabled(),
        "cpu_kernels": sorted(set(KERNEL_FLAGS) & cpu.flags()),
    }


def machine() -> dict:
    """Where a record was made: stored in it, and shown once per results page."""
    versions = library_versions()
    return {
        "cpu": cpu.model_name(),
        "cores": os.cpu_count(),
        **numerics(),
        "tensorflow": versions.get("tensorflow-cpu") or versions.get("tensorflow"),
        "python": versions["python"],
        "host": platform.node(),
    }
