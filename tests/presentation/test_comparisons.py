"""Paired comparisons: the t-interval, the verdict it gives, and pairing by seed."""

import statistics

import pytest

from bnbook.presentation.comparisons import interval95, paired, t_quantile, verdict


@pytest.mark.parametrize("df, expected", [(1, 12.706), (2, 4.303), (4, 2.776), (30, 2.042)])
def test_t_quantiles_match_the_tables(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-3)


def test_the_interval_is_the_mean_plus_minus_t_times_the_standard_error():
    d = [0.1, 0.3, 0.2, 0.4, 0.0]
    low, high = interval95(d)
    half = 2.776 * statistics.stdev(d) / 5**0.5
    assert (low, high) == pytest.approx((0.2 - half, 0.2 + half), abs=1e-4)
    with pytest.raises(ValueError):
        interval95([0.1])


@pytest.mark.parametrize(
    "ci, word",
    [
        ((0.01, 0.2), "helped"),
        ((-0.2, -0.01), "hurt"),
        ((-0.1, 0.1), "within noise"),
        ((0.0, 0.0), "within noise"),
    ],  # fmt: skip
)
def test_the_verdict_comes_from_the_interval_alone(ci, word):
    assert verdict(ci) == word
    assert verdict(ci, ("lower", "higher")) == {"helped": "higher", "hurt": "lower"}.get(word, word)


def record(seed, acc):
    return {"config": {"seed": seed}, "test_accuracy": acc}


def test_pairs_are_matched_by_seed_not_by_position():
    base = [record(0, 0.90), record(1, 0.80), record(2, 0.85)]
    treated = [record(2, 0.86), record(0, 0.91), record(1, 0.81)]
    c = paired("x", ("a", "b"), base, treated)
    assert c.per_seed_difference == pytest.approx([0.01, 0.01, 0.01])
    assert c.verdict == "within noise" or c.ci95[0] > 0  # identical differences: sd 0
    assert c.seeds == [2, 0, 1]


def test_only_the_seeds_both_arms_have_are_compared():
    base = [record(s, 0.9) for s in range(5)]
    c = paired("x", ("a", "b"), base, [record(0, 0.95), record(1, 0.93), record(2, 0.94)])
    assert c.seeds == [0, 1, 2] and c.verdict == "helped"
    with pytest.raises(ValueError, match="share 1 seed"):
        paired("x", ("a", "b"), base, [record(0, 0.95)])
