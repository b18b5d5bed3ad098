"""The checking tools themselves: relative error, central differences, the table."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnbook.derivations import gradcheck
from bnbook.derivations.gradcheck import (
    GradientTable,
    numerical_gradient,
    random_batchnorm_inputs,
    random_network_inputs,
    random_softmax_inputs,
    rel_error,
)


def test_rel_error_is_elementwise_with_a_floor():
    assert rel_error(np.array([1.0, 1e-3]), np.array([1.0, 1e-3])) == 0.0
    # The small entry dominates: |a-b| / (|a|+|b|) per element, not max|a-b| / max|a|.
    err = rel_error(np.array([1.0, 1e-3]), np.array([1.0, 1.1e-3]))
    assert err == pytest.approx(1e-4 / 2.1e-3, rel=1e-12)
    # Below 1e-8 the denominator is floored, so two tiny numbers are "equal enough".
    assert rel_error(np.array([1e-12]), np.array([-1e-12])) == pytest.approx(2e-4, rel=1e-12)
    with pytest.raises(ValueError):
        rel_error(np.zeros(2), np.zeros(3))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6))
def test_numerical_gradient_of_known_functions(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    A = rng.normal(size=(2, 2))
    # f = sum sin(x) + x^T A x per row: gradient cos(x) + x (A + A^T)
    exact = np.cos(x) + x @ (A + A.T)
    numerical = numerical_gradient(lambda: float(np.sin(x).sum() + np.sum((x @ A) * x)), x)
    assert rel_error(exact, numerical) <= 1e-8
    x_before = x.copy()
    numerical_gradient(lambda: float(np.sum(x**3)), x)
    np.testing.assert_array_equal(x, x_before)


def test_high_order_beats_textbook_central_difference():
    x = np.array([0.3, -1.2, 2.0])
    exact = np.exp(x) * (1 + x)  # d/dx of x e^x

    def f():
        return float(np.sum(x * np.exp(x)))

    textbook = rel_error(exact, numerical_gradient(f, x, h=1e-5, order=2))
    ours = rel_error(exact, numerical_gradient(f, x))
    assert ours < 1e-10 and ours < textbook


def test_numerical_gradient_rejects_float32():
    with pytest.raises(TypeError):
        numerical_gradient(lambda: 0.0, np.zeros(2, dtype=np.float32))


def test_table_renders_in_markdown_and_html():
    table = GradientTable(
        [
            {
                "gradient": "dL/do",
                "shape": "(2, 3)",
                "vs tf.GradientTape": 1e-16,
                "vs central differences": 3e-11,
            }
        ]
    )
    md = table._repr_markdown_()
    assert md.splitlines()[0].startswith("| gradient | shape |")
    assert "3.0e-11" in md and "1.0e-16" in md
    assert "<table" in table._repr_html_() and "3.0e-11" in table._repr_html_()
    assert table.worst() == pytest.approx(3e-11)
    assert table.worst("vs tf.GradientTape") == pytest.approx(1e-16)


def test_check_softmax_cross_entropy_table():
    rng = np.random.default_rng(0)
    for shift in (0.0, 1000.0):
        table = gradcheck.check_softmax_cross_entropy(*random_softmax_inputs(rng, 3, 5, shift))
        assert [r["gradient"] for r in table.rows] == ["dL/do"]
        assert table.rows[0]["shape"] == "(3, 5)"
        assert table.worst() <= 1e-8


def test_check_network_table():
    rng = np.random.default_rng(1)
    table = gradcheck.check_network(*random_network_inputs(rng, 1, D=4, H1=3, H2=5, C=2))
    names = [r["gradient"] for r in table.rows]
    assert names == ["dL/dW1", "dL/db1", "dL/dW2", "dL/db2", "dL/dW3", "dL/db3"]
    assert table.rows[0]["shape"] == "(3, 4)"
    assert table.worst() <= 1e-8


def test_check_batchnorm_table_has_both_forms():
    rng = np.random.default_rng(2)
    x, gamma, beta, dy = random_batchnorm_inputs(rng, 2, 3)
    table = gradcheck.check_batchnorm(x, gamma, beta, 1e-3, dy)
    names = [r["gradient"] for r in table.rows]
    assert len(names) == 6 and "dF/dx (compact)" in names and "dF/dx (node by node)" in names
    assert table.worst() <= 1e-8


def test_random_batchnorm_inputs_have_the_promised_spread():
    x, gamma, beta, dy = random_batchnorm_inputs(np.random.default_rng(3), 5, 4)
    std = x.std(axis=0)
    assert np.all(std >= 0.3 - 1e-12) and np.all(std <= 1.5 + 1e-12)
    assert gamma.shape == beta.shape == (4,) and dy.shape == (5, 4)


def test_stack_tables_adds_a_case_column():
    row = {"gradient": "g", "shape": "(1,)", "vs tf.GradientTape": 0.0}
    a = GradientTable([{**row, "vs central differences": 1e-12}])
    b = GradientTable([{**row, "vs central differences": 2e-11}])
    stacked = gradcheck.stack_tables({"N=1": a, "N=2": b})
    assert stacked.columns[0] == "case"
    assert [r["case"] for r in stacked.rows] == ["N=1", "N=2"]
    assert stacked.worst(gradient="g") == pytest.approx(2e-11)
    assert "| N=2 | g | (1,) | 0.0e+00 | 2.0e-11 |" in stacked._repr_markdown_()


def test_batchnorm_worked_example_by_hand():
    """m = 3 values, each node's number checked by hand: mu = 3, var = 14/3,
    dF/dbeta = sum dy, dF/dx_hat = gamma dy, and dF/dx sums to zero."""
    example = gradcheck.batchnorm_worked_example([1.0, 2.0, 6.0], 2.0, 0.5, 1e-5, [1, 0.5, -0.5])
    rows = {node: (value, grad) for node, value, grad in example.rows}
    assert rows["μ"][0] == "3" and rows["σ²"][0] == f"{14 / 3:.4g}"
    assert rows["β"][1] == "1" and rows["x̂"][1] == "2, 1, -1"
    assert rows["… from μ"][1] == ", ".join([f"{-2 / np.sqrt(14 / 3 + 1e-5) * 1 / 3:.4g}"] * 3)
    assert example.vs_compact <= 1e-12 and example.sum_dx <= 1e-12
    assert "| y | " in example._repr_markdown_() and "<td>σ²</td>" in example._repr_html_()


def test_check_cases_is_the_loop_over_cases_in_order():
    cases = {"m=1": (1, 5, 0.0), "m=4": (4, 5, 0.0)}
    looped = {}
    rng = np.random.default_rng(0)
    for name, case in cases.items():
        looped[name] = gradcheck.check_softmax_cross_entropy(*random_softmax_inputs(rng, *case))
    table = gradcheck.check_cases(gradcheck.check_softmax_cross_entropy, random_softmax_inputs,
                                  np.random.default_rng(0), cases)  # fmt: skip
    assert table.rows == gradcheck.stack_tables(looped).rows
