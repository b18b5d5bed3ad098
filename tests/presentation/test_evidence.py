"""The judgements Problem 4's chapters print, made by presentation.evidence."""

import math

from bnbook.presentation import evidence
from bnbook.presentation.comparisons import paired


def rec(seed, acc, bn=False, lr=1.0, losses=(1.0, 0.5), spread=(1.0, 2.0)):
    last = {"act_in_2": {"all": [spread[0], 0.0, spread[1]]}}
    config = {"seed": seed, "batch_norm": bn, "lr": lr}
    return {"config": config, "test_accuracy": acc, "val_accuracy": acc,
            "losses": list(losses), "probes": [{"activations": last}]}  # fmt: skip


def test_interval_text_and_phrases_say_what_the_interval_says():
    helped = paired("x", ("a", "b"), [rec(s, 0.9) for s in range(3)],
                    [rec(s, 0.91 + s / 1000) for s in range(3)])  # fmt: skip
    assert helped.verdict == "helped"
    assert evidence.interval_text(helped).startswith("+1.10 points (95% CI +")
    assert evidence.interval_text(helped).endswith("; n = 3)")
    noise = paired(
        "x",
        ("a", "b"),
        [rec(s, 0.9) for s in range(3)],
        [rec(s, 0.9 + (s - 1) / 100) for s in range(3)],
        words=("smaller", "larger"),
    )
    assert evidence.phrase(noise, "the gap") == "the gap did not differ beyond the seed noise"
    assert evidence.phrase(helped, "accuracy") == "accuracy was helped with batch norm"


def test_a_runaway_is_measured_on_the_diverged_runs_activations():
    trained = [rec(s, 0.95, spread=(-1.0, 1.0)) for s in range(2)]
    diverged = [
        rec(s, 0.1, lr=3.0, losses=(1.0, float("nan")), spread=(-1e4, 1e4)) for s in range(2)
    ]
    sentence = evidence._runaway_sentence(trained + diverged, "act_in_2")
    assert sentence.startswith("2 of the 2 plain runs that diverged")
    assert math.isinf(
        evidence.activation_scale(rec(0, 0.1, spread=(float("nan"), 1.0)), "act_in_2")
    )
    assert "no plain run diverged" in evidence._runaway_sentence(trained, "act_in_2")


def test_a_verdict_reads_as_a_predicate_whatever_it_is():
    assert evidence.effect_phrase("helped", "the plain CNN") == "helped the plain CNN"
    assert evidence.effect_phrase("hurt", "the plain CNN") == "hurt the plain CNN"
    phrase = evidence.effect_phrase("within noise", "the plain CNN")
    assert phrase == "made no difference beyond the seed noise to the plain CNN"


def test_points_show_the_sign_of_an_end_that_rounds_to_zero():
    assert evidence.points(0.0123) == "+1.23"
    assert evidence.points(-0.00004) == "-0.004"
    assert evidence.points(0.00004) == "+0.004"
    assert evidence.points(0.0) == "0.00"


def test_class_balance_counts_and_shares_each_digit():
    import numpy as np

    from bnbook.presentation.report import class_balance

    rows = class_balance(np.array([0, 0, 1, 9]), np.array([1, 1]))
    assert rows[0] == [0, 2, "50.00%", 0, "0.00%"]
    assert rows[1] == [1, 1, "25.00%", 2, "100.00%"]
    assert rows[-1] == ["total", 4, "100.00%", 2, "100.00%"] and len(rows) == 11
