"""The hand-derived gradients of Problems 1-3 against tf.GradientTape and central
differences, over random shapes and seeds (hypothesis)."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bnbook.derivations import autodiff, reference
from bnbook.derivations.gradcheck import (
    batchnorm_identities,
    numerical_gradient,
    random_batchnorm_inputs,
    random_network_inputs,
    random_softmax_inputs,
    rel_error,
)

TOL = 1e-8  # the bar the issue sets; measured errors are ~1e-10 or smaller
PROPERTY = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 6)


def resolvable(*grads: np.ndarray) -> bool:
    """Central differences in float64 resolve entries above ~1e-6 to 8 digits; smaller
    entries (rare draws) are still checked against tf.GradientTape."""
    return all(np.min(np.abs(g)) > 1e-5 for g in grads)


# --- Problem 1 ----------------------------------------------------------------------------


@PROPERTY
@given(seed=seeds, N=st.integers(1, 8), C=st.integers(2, 10), shift=st.sampled_from([0.0, 1e3]))
def test_softmax_cross_entropy_matches_autodiff_and_central_differences(seed, N, C, shift):
    o, y = random_softmax_inputs(np.random.default_rng(seed), N, C, shift)
    loss, do = reference.softmax_cross_entropy(o, y)
    loss_tf, do_tf = autodiff.tf_softmax_cross_entropy(o, y)
    assert np.isfinite(loss) and np.all(np.isfinite(do))
    assert loss == pytest.approx(loss_tf, rel=1e-12)
    assert rel_error(do, do_tf) <= TOL
    do_num = numerical_gradient(lambda: reference.softmax_cross_entropy(o, y)[0], o)
    assert rel_error(do, do_num) <= TOL


def test_softmax_cross_entropy_is_p_minus_y_over_n():
    o = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    p = np.exp(o) / np.exp(o).sum(axis=1, keepdims=True)
    loss, do = reference.softmax_cross_entropy(o, y)
    np.testing.assert_allclose(do, (p - y) / 2, rtol=1e-14, atol=0)
    assert loss == pytest.approx(-np.mean(np.log(p[y == 1])), rel=1e-14)
    np.testing.assert_allclose(do.sum(axis=1), 0.0, atol=1e-16)  # because sum_c y_c = 1


def test_softmax_cross_entropy_survives_logits_that_overflow_a_naive_softmax():
    o = np.array([[1000.0, 1001.0, 999.0]])
    y = np.array([[0.0, 1.0, 0.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(o) / np.exp(o).sum()
    assert not np.all(np.isfinite(naive))  # the naive formula gives inf / inf = nan
    loss, do = reference.softmax_cross_entropy(o, y)
    loss_small, do_small = reference.softmax_cross_entropy(o - 1000.0, y)  # shift invariance
    assert loss == pytest.approx(loss_small, rel=1e-14)
    np.testing.assert_allclose(do, do_small, rtol=1e-13, atol=1e-16)


# --- Problem 2 ----------------------------------------------------------------------------


@PROPERTY
@given(seed=seeds, N=st.integers(1, 6), D=dims, H1=dims, H2=dims, C=st.integers(2, 6))
def test_network_gradients_match_autodiff_and_central_differences(seed, N, D, H1, H2, C):
    params, X, Y = random_network_inputs(np.random.default_rng(seed), N, D, H1, H2, C)
    p, cache = reference.network_forward(params, X)
    grads = reference.network_backward(cache, Y)
    loss_tf, grads_tf = autodiff.tf_network_gradients(params, X, Y)
    assert p.shape == (N, C)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    assert reference.network_loss(params, X, Y) == pytest.approx(loss_tf, rel=1e-12)
    for name, value in params.items():
        assert grads["d" + name].shape == value.shape
        assert rel_error(grads["d" + name], grads_tf["d" + name]) <= TOL, name
    assume(resolvable(*grads.values()))
    for name in reference.PARAM_NAMES:
        numerical = numerical_gradient(lambda: reference.network_loss(params, X, Y), params[name])
        assert rel_error(grads["d" + name], numerical) <= TOL, name


@pytest.mark.parametrize("N", [1, 2, 7])
def test_network_gradients_single_example_and_non_square(N):
    """N = 1 is the homework's single column vector; every weight matrix is non-square."""
    params, X, Y = random_network_inputs(np.random.default_rng(N), N, D=5, H1=4, H2=3, C=6)
    grads = reference.network_backward(reference.network_forward(params, X)[1], Y)
    _, grads_tf = autodiff.tf_network_gradients(params, X, Y)
    for name in reference.PARAM_NAMES:
        numerical = numerical_gradient(lambda: reference.network_loss(params, X, Y), params[name])
        assert rel_error(grads["d" + name], grads_tf["d" + name]) <= TOL, name
        assert rel_error(grads["d" + name], numerical) <= TOL, name


def test_batch_gradient_is_mean_of_single_example_gradients():
    params, X, Y = random_network_inputs(np.random.default_rng(0), 4, D=3, H1=5, H2=2, C=4)
    batch = reference.network_backward(reference.network_forward(params, X)[1], Y)
    for name in batch:
        singles = [
            reference.network_backward(
                reference.network_forward(params, X[n : n + 1])[1], Y[n : n + 1]
            )[name]
            for n in range(4)
        ]
        np.testing.assert_allclose(batch[name], np.mean(singles, axis=0), rtol=1e-12, atol=1e-15)


# --- Problem 3 ----------------------------------------------------------------------------

BACKWARDS = [reference.batchnorm_backward, reference.batchnorm_backward_compact]


@PROPERTY
@given(seed=seeds, N=st.integers(2, 8), D=st.integers(1, 5), eps=st.sampled_from([1e-3, 1e-2]))
def test_batchnorm_gradients_match_autodiff_and_central_differences(seed, N, D, eps):
    x, gamma, beta, dy = random_batchnorm_inputs(np.random.default_rng(seed), N, D)
    y, cache = reference.batchnorm_forward(x, gamma, beta, eps)
    tf_grads = autodiff.tf_batchnorm_gradients(x, gamma, beta, eps, dy)
    ours = [backward(dy, cache) for backward in BACKWARDS]
    for grads in ours:
        for g, g_tf in zip(grads, tf_grads, strict=True):
            assert rel_error(g, g_tf) <= TOL
    assume(resolvable(*ours[0]))

    def F():
        return float(np.sum(reference.batchnorm_forward(x, gamma, beta, eps)[0] * dy))

    numerical = [numerical_gradient(F, a) for a in (x, gamma, beta)]
    for grads in ours:
        for g, g_num in zip(grads, numerical, strict=True):
            assert rel_error(g, g_num) <= TOL


@PROPERTY
@given(seed=seeds, N=st.integers(2, 8), D=st.integers(1, 5))
def test_batchnorm_forms_agree_and_dx_sums_to_zero(seed, N, D):
    """Both backward forms agree; each column of dx sums to 0 (adding a constant to a
    column of x leaves y unchanged)."""
    x, gamma, beta, dy = random_batchnorm_inputs(np.random.default_rng(seed), N, D)
    y, cache = reference.batchnorm_forward(x, gamma, beta, 1e-5)
    dx, dgamma, dbeta = reference.batchnorm_backward(dy, cache)
    dx_c, dgamma_c, dbeta_c = reference.batchnorm_backward_compact(dy, cache)
    assert rel_error(dx, dx_c) <= TOL
    np.testing.assert_allclose(dgamma, dgamma_c, rtol=1e-14, atol=0)
    np.testing.assert_allclose(dbeta, dbeta_c, rtol=1e-14, atol=0)
    scale = np.abs(dy).sum(axis=0) * np.abs(gamma) * cache.inv_std
    assert np.all(np.abs(dx.sum(axis=0)) <= 1e-12 * scale)
    np.testing.assert_allclose(y.mean(axis=0), beta, atol=1e-12)


@PROPERTY
@given(
    seed=seeds, N=st.integers(2, 32), D=st.integers(1, 5), eps=st.sampled_from([0.0, 1e-5, 1e-3])
)
def test_batchnorm_shift_and_scale_identities(seed, N, D, eps):
    """Problem 3's identities, both backward forms: sum_i dF/dx_i = 0, and
    sum_i x_hat_i dF/dx_i = gamma eps (var + eps)^(-3/2) sum_i dF/dy_i x_hat_i (0 at eps = 0)."""
    x, gamma, beta, dy = random_batchnorm_inputs(np.random.default_rng(seed), N, D)
    _, cache = reference.batchnorm_forward(x, gamma, beta, eps)
    scale = np.abs(dy).sum(axis=0) * np.abs(gamma) * cache.inv_std  # size of the terms
    for backward in BACKWARDS:
        dx = backward(dy, cache)[0]
        assert np.all(np.abs(dx.sum(axis=0)) <= 1e-12 * scale)
        predicted = gamma * eps * cache.inv_std**3 * (dy * cache.x_hat).sum(axis=0)
        scale_sum = (cache.x_hat * dx).sum(axis=0)
        assert np.all(np.abs(scale_sum - predicted) <= 1e-12 * scale * np.sqrt(N))
    sums = batchnorm_identities(x, gamma, beta, eps, dy)
    np.testing.assert_allclose(
        sums["sum x_hat dx"], sums["predicted"], atol=1e-12 * scale.max() * N
    )
    if eps == 0.0:
        assert np.all(np.abs(sums["sum x_hat dx"]) <= 1e-12 * scale * np.sqrt(N))


def test_batchnorm_node_gradients_add_up_along_the_graph():
    """The node-by-node pass keeps every node's gradient: the three terms reaching x add
    up to the compact dx, and dF/dmu has no part through var (sum of x - mu is 0)."""
    x, gamma, beta, dy = random_batchnorm_inputs(np.random.default_rng(4), 3, 2)
    _, cache = reference.batchnorm_forward(x, gamma, beta, 1e-5)
    nodes = reference.batchnorm_backward_nodes(dy, cache)
    dx_c, dgamma_c, dbeta_c = reference.batchnorm_backward_compact(dy, cache)
    assert rel_error(nodes.dx_direct + nodes.dx_via_var + nodes.dx_via_mu, dx_c) <= TOL
    assert rel_error(nodes.dx, dx_c) <= TOL
    np.testing.assert_allclose(nodes.dmu, -gamma * cache.inv_std * dy.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(nodes.dx_hat, dy * gamma, rtol=0, atol=0)
    np.testing.assert_allclose(nodes.dgamma, dgamma_c, rtol=1e-14)
    np.testing.assert_allclose(nodes.dbeta, dbeta_c, rtol=1e-14)


def test_batchnorm_scale_identity_fails_for_a_wrong_gradient():
    """The identity check can fail: dx without its x_hat term breaks it."""
    x, gamma, beta, dy = random_batchnorm_inputs(np.random.default_rng(3), 8, 3)
    _, cache = reference.batchnorm_forward(x, gamma, beta, 0.0)
    wrong = gamma * cache.inv_std * (dy - dy.mean(axis=0))  # drops the x_hat sum
    assert np.all(np.abs(wrong.sum(axis=0)) <= 1e-12)  # still passes the shift identity
    assert np.abs((cache.x_hat * wrong).sum(axis=0)).max() > 1e-3


def test_batchnorm_n2_small_eps_against_autodiff():
    """N = 2 with eps = 1e-5 (PyTorch's default; the paper gives no value): dx is
    ~eps/spread^3, tiny but exact in TF."""
    x, gamma, beta, dy = random_batchnorm_inputs(np.random.default_rng(2), 2, 4)
    cache = reference.batchnorm_forward(x, gamma, beta, 1e-5)[1]
    tf_grads = autodiff.tf_batchnorm_gradients(x, gamma, beta, 1e-5, dy)
    for backward in BACKWARDS:
        for g, g_tf in zip(backward(dy, cache), tf_grads, strict=True):
            assert rel_error(g, g_tf) <= TOL
    np.testing.assert_allclose(np.abs(cache.x_hat), 1.0, atol=1e-4)  # +-1 whatever x is
