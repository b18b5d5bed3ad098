"""A quiet terminal: TensorFlow's C++ start-up lines filtered out of stderr.

Since TF 2.19, `TF_CPP_MIN_LOG_LEVEL` no longer silences what the C++ runtime
writes while `import tensorflow` runs (absl's "All log messages before
absl::InitializeLog()", oneDNN, cpu_feature_guard, CUDA factory registrations):
it is written straight to file descriptor 2, before Python could intervene. So
while TensorFlow is imported, fd 2 goes through a pipe whose lines are copied
back as they arrive, minus the known start-up notices; anything else (a real
error, a Python warning, a traceback) still shows, immediately.

`install()` arranges this for the first `import tensorflow` of the process,
whoever does it (a notebook, a worker, keras); set-up writes a `.pth` file so
every Python of the project's .venv runs this file at start (as a plain script:
no bnbook module is imported, so training's source digest is unaffected), which
covers the build, its workers, Dask workers and notebook kernels alike.
`VERBOSE=1` turns it off.
"""

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import sysconfig
import threading
from pathlib import Path

VERBOSE_ENV_VAR = "VERBOSE"
PTH_NAME = "bnbook_quiet.pth"
# Notices, not problems: each is printed by every TensorFlow start on some machine.
NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I\d{4} [\d:. ]+\d+ \S+\] "  # any INFO line of the C++ log (oneDNN, cpu_feature_guard)
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|[WE]\d{4} [\d:. ]+\d+ \S+\] (Unable to register cu(DNN|FFT|BLAS) factory"
    r"|computation placer already registered|TF-TRT Warning: Could not find TensorRT))"
)


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV_VAR) == "1"


def is_noise(line: str) -> bool:
    """True for one of TensorFlow's start-up notices (no real warning or error)."""
    return bool(NOISE.match(line))


@contextlib.contextmanager
def filtered_stderr():
    """Within the block, lines written to fd 2 pass through unless `is_noise`."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()

    def copy_back():
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not is_noise(line.decode(errors="replace")):
                    os.write(saved, line)

    thread = threading.Thread(target=copy_back, daemon=True)
    thread.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer is gone: the thread sees its end
        thread.join(timeout=10)
        os.close(saved)


class _Loader(importlib.abc.Loader):
    """The real loader of `tensorflow`, run inside `filtered_stderr`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with filtered_stderr():
            self.loader.exec_module(module)

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as usual, once, and hands back a spec with a quiet loader."""

    bnbook_quiet = True  # one finder per process, even if this file ran twice

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


def install() -> None:
    """Quiet the first `import tensorflow` of this process (nothing if VERBOSE=1 or done)."""
    if verbose() or "tensorflow" in sys.modules:
        return
    # INFO lines written after the import (StreamExecutor, MLIR) still obey this.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    if not any(getattr(f, "bnbook_quiet", False) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


def write_pth() -> Path:
    """Make every start of this environment's Python call `install()` (set-up runs this)."""
    path = Path(sysconfig.get_paths()["purelib"]) / PTH_NAME
    here = str(Path(__file__).resolve())
    # A missing file (project moved or deleted) must not break the interpreter's start.
    line = (
        f"import os; p = {here!r}; os.path.exists(p) and "
        f"exec(compile(open(p).read(), p, 'exec'), {{'__name__': 'bnbook_quiet_startup'}})\n"
    )
    from bnbook.paths import write_atomically

    write_atomically(path, lambda f: f.write(line))
    return path


if __name__ == "bnbook_quiet_startup":  # run by the .pth file
    install()
elif __name__ == "__main__":
    print(f"setup: quiet TensorFlow start-up via {write_pth()}")
