"""MNIST: the standard split, verified, and one clear line for every kind of bad input."""

import gzip
import io
import os
import pickle
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from bnbook.runs import data, mnist_wheel
from bnbook.runs.data import DataError, load_mnist

WHEEL = data.DATA_DIR / mnist_wheel.WHEEL_NAME


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


@pytest.fixture
def data_dir(tmp_path):
    """An empty data folder holding only a copy of the real wheel."""
    shutil.copy(WHEEL, tmp_path / mnist_wheel.WHEEL_NAME)
    return tmp_path


def rewrite_wheel(path, member_bytes):
    """Replace the pickle inside the wheel at `path` with `member_bytes`."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(mnist_wheel.PICKLE_MEMBER, member_bytes)


def test_shapes_dtypes_and_ranges(mnist):
    assert mnist["x_train"].shape == (60000, 28, 28) and mnist["x_train"].dtype == np.uint8
    assert mnist["y_train"].shape == (60000,)
    assert mnist["x_test"].shape == (10000, 28, 28) and mnist["x_test"].dtype == np.uint8
    assert mnist["y_test"].shape == (10000,)
    assert mnist["x_train"].min() == 0 and mnist["x_train"].max() == 255


def test_class_counts_are_the_published_ones(mnist):
    expected_test = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(mnist["y_test"]).tolist() == expected_test
    assert np.bincount(mnist["y_train"]).tolist() == list(data.TRAIN_COUNTS)


def test_first_labels_match_keras_order(mnist):
    # keras.datasets.mnist.load_data() starts its training labels with 5 0 4 1 9 2 1 3 1 4.
    assert mnist["y_train"][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist["y_test"][:5].tolist() == [7, 2, 1, 0, 4]


def test_conversion_from_the_wheel_is_exact(data_dir, mnist):
    fresh = load_mnist(data_dir, keras_cache=None)
    for key in data.KEYS:
        np.testing.assert_array_equal(fresh[key], mnist[key])
    assert (data_dir / data.CACHE_NAME).exists()
    assert not [p for p in data_dir.iterdir() if p.suffix == ".tmp"]


def test_a_cached_load_reads_the_cache_and_not_the_wheel(mnist, monkeypatch):
    from bnbook.runs import mnist_wheel

    def no_wheel(*args):
        raise AssertionError("the wheel was read although the cache is valid")

    monkeypatch.setattr(mnist_wheel, "read_verified_pickle", no_wheel)
    loaded = load_mnist()
    np.testing.assert_array_equal(loaded["y_test"], mnist["y_test"])


def test_keras_cache_is_used_when_present(tmp_path, mnist):
    keras_npz = tmp_path / "keras_mnist.npz"
    np.savez(keras_npz, **mnist)
    empty = tmp_path / "empty"
    assert load_mnist(empty, keras_cache=keras_npz)["x_test"].shape == (10000, 28, 28)
    assert (empty / data.CACHE_NAME).exists()


def test_corrupt_keras_cache_is_ignored(data_dir):
    bad = data_dir / "keras.npz"
    bad.write_bytes(b"not an npz")
    assert load_mnist(data_dir, keras_cache=bad)["y_train"].shape == (60000,)


def test_corrupt_cache_is_detected_and_rebuilt(data_dir, capsys):
    cache = data_dir / data.CACHE_NAME
    cache.write_bytes(b"PK\x03\x04 truncated")
    assert load_mnist(data_dir, keras_cache=None)["x_train"].shape == (60000, 28, 28)
    assert "rebuilding" in capsys.readouterr().err
    assert data.read_npz(cache)["y_test"].shape == (10000,)


def test_cache_with_wrong_contents_is_rebuilt(data_dir, mnist):
    np.savez(data_dir / data.CACHE_NAME, **{**mnist, "y_test": mnist["y_test"][::-1]})
    fresh = load_mnist(data_dir, keras_cache=None)
    np.testing.assert_array_equal(fresh["y_test"], mnist["y_test"])


def test_truncated_wheel_is_one_clear_error(data_dir):
    wheel = data_dir / mnist_wheel.WHEEL_NAME
    wheel.write_bytes(wheel.read_bytes()[: wheel.stat().st_size // 2])
    with pytest.raises(DataError, match="damaged.*make setup"):
        load_mnist(data_dir, keras_cache=None)
    assert not (data_dir / data.CACHE_NAME).exists()


def test_altered_pickle_fails_the_hash_before_unpickling(data_dir):
    wheel = data_dir / mnist_wheel.WHEEL_NAME
    original = mnist_wheel.read_verified_pickle(wheel)
    altered = bytearray(original)
    altered[len(altered) // 2] ^= 0xFF
    rewrite_wheel(wheel, bytes(altered))
    with pytest.raises(DataError, match="sha256"):
        load_mnist(data_dir, keras_cache=None)
    assert not (data_dir / data.CACHE_NAME).exists()


def test_unpickler_refuses_anything_but_arrays():
    payload = gzip.compress(pickle.dumps(os.system))
    with pytest.raises(DataError, match="refusing"):
        mnist_wheel.convert_pickle(payload)


def test_pickle_with_wrong_pixels_is_rejected():
    images = np.full((2, 784), 0.3, np.float32)  # 0.3 is not k/256
    labels = np.zeros(2, np.int64)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as f:
        pickle.dump(((images, labels), (images, labels), (images, labels)), f)
    with pytest.raises(DataError, match="1/256"):
        mnist_wheel.convert_pickle(buffer.getvalue())


def test_missing_source_says_which_command_fetches_it(tmp_path):
    with pytest.raises(DataError, match="make setup"):
        load_mnist(tmp_path, keras_cache=None)


def test_command_line_gives_one_line_and_exit_code(tmp_path):
    env = {**os.environ, "BNBOOK_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bnbook.runs.data"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
