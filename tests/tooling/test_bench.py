"""The benchmark runs end to end on tiny sizes and reports what `make bench` promises.

No timing assertions: speed is measured by `make bench`, not by tests.
"""

import json
import math

import numpy as np
import pytest

from bnbook.tooling import bench, bench_bn_layers, bench_step_ratios


def _positive_finite(value):
    if isinstance(value, dict):
        return all(_positive_finite(v) for v in value.values())
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_run_reports_the_promised_ratios_as_json():
    rng = np.random.default_rng(0)
    x = rng.random((512, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 512).astype(np.int32)
    result = bench.run(x, y, step_repeats=2, steps_per_repeat=1, precision="float32")
    decoded = json.loads(json.dumps(result))
    for key in ("bn_step_ratio", "keras_bn_step_ratio"):
        assert _positive_finite(decoded[key]), key
    for key in ("cnn_ms_per_step", "cnn_step_ratio", "mlp_ms_per_step"):
        assert _positive_finite(decoded[key]), key
    assert set(decoded["cnn_step_ratio"]) == set(bench_step_ratios.CNN_NORMS)
    assert decoded["cnn_step_ratio"]["no_bn"] == 1.0
    assert "bn_step_ratio" in bench.table(result)
    # The CNN's batch-norm layers alone: two after pooling and the dense one, at batch 128.
    assert decoded["bn_layers_shapes"] == [[128, 14, 14, 32], [128, 7, 7, 64], [128, 128]]
    assert set(decoded["bn_layers_ms"]) == set(bench_bn_layers.BN_LAYER_VARIANTS)
    assert _positive_finite(decoded["bn_layers_ms"]) and decoded["bn_layers_own_ms"]["relu"] == 0
    before = decoded["bn_layers_before_pool"]
    assert before["shapes"][0] == [128, 28, 28, 32] and _positive_finite(before["ms"])
    assert decoded["precision"] == "float32" and decoded["targets"]["bn_step_ratio"] == "<= 1.06"
    assert decoded["cpu"] and "bn_relu_one_layer" in bench.table(result)


def test_bench_precision_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(bench.PRECISION_VAR, raising=False)
    assert bench.bench_precision("mixed_bfloat16") == "mixed_bfloat16"
    monkeypatch.setenv(bench.PRECISION_VAR, "float32")
    assert bench.bench_precision("mixed_bfloat16") == "float32"
    monkeypatch.setenv(bench.PRECISION_VAR, "float16")
    with pytest.raises(SystemExit, match="BNBOOK_BENCH_PRECISION='float16' is not a precision"):
        bench.bench_precision("float32")
