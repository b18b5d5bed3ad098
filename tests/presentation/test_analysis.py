"""The judgements the Problem 4 chapters print, on hand-made records."""

import math

from bnbook.presentation.analysis import steps_to_reach, sweep_outcome
from bnbook.runs.experiments import summarize


def record(losses, acc, lr=0.1, bn=False, seed=0, evals=None):
    return {
        "losses": losses,
        "test_accuracy": acc,
        "val_accuracy": acc,
        "config": {"lr": lr, "batch_norm": bn, "seed": seed},
        "evals": evals or [],
        "profile": "test",
        "wall_time_s": 1.0,
        "images_per_second": 10.0,
    }


def test_sweep_outcomes():
    assert sweep_outcome(record([2.3] * 20 + [0.2] * 20, 0.95)) == "trains"
    assert sweep_outcome(record([2.3] * 20 + [1.5] * 20, 0.6)) == "stalls"
    assert sweep_outcome(record([2.3] * 20 + [math.nan] * 20, 0.1)) == "diverged"
    assert sweep_outcome(record([2.3] * 20 + [9.0] * 20, 0.1)) == "diverged"


def test_steps_to_reach():
    evals = [{"step": 100, "val_accuracy": 0.5}, {"step": 200, "val_accuracy": 0.97}]
    assert steps_to_reach(record([], 0.97, evals=evals), 0.95) == 200
    assert steps_to_reach(record([], 0.97, evals=evals), 0.99) is None


def test_summarize_lists_every_seed_with_mean_and_std():
    runs = [record([], acc, seed=s) for s, acc in enumerate([0.98, 0.99, 0.97])]
    s = summarize(runs)
    assert s["seeds"] == {"0": 0.98, "1": 0.99, "2": 0.97}
    assert math.isclose(s["mean"], 0.98) and math.isclose(s["std"], 0.01)


def test_percentile_series_picks_the_asked_percentile():
    from bnbook.presentation.analysis import percentile_series

    probes = [
        {"activations": {"act_in_0": {"all": [1, 2, 3, 4, 5], "unit0": [6, 7, 8, 9, 10]}}},
        {"activations": {"act_in_0": {"all": [11, 12, 13, 14, 15], "unit0": [0] * 5}}},
    ]
    record = {"probes": probes}
    assert percentile_series(record, "act_in_0", 15).tolist() == [2, 12]
    assert percentile_series(record, "act_in_0", 85, unit="unit0").tolist() == [9, 0]


def test_moving_average_is_a_trailing_mean():
    from bnbook.presentation.plots import moving_average

    assert moving_average([1, 2, 3, 4], 2).tolist() == [1.0, 1.5, 2.5, 3.5]
    assert moving_average([1, 2, 3], 10).tolist() == [1.0, 1.5, 2.0]


def test_summarize_leaves_test_unset_for_runs_that_never_saw_it():
    runs = [{**record([], None, seed=s), "val_accuracy": 0.9 + s / 100} for s in range(2)]
    s = summarize(runs)
    assert s["mean"] is None and s["std"] is None
    assert math.isclose(s["val_mean"], 0.905)


def test_generalization_gap_and_landscape_summary():
    from bnbook.presentation.analysis import generalization_gap, landscape_summary

    runs = [
        {"evals": [{"train_loss": 0.1, "val_loss": 0.3}]},
        {"evals": [{"train_loss": 0.3, "val_loss": 0.3}]},
    ]
    gap = generalization_gap(runs)
    assert math.isclose(gap["gap"], 0.1)
    probe = {"landscape": {"loss": 1.0, "loss_at": [0.9, 0.8, 1.4], "grad_change": [0.1, 0.5]}}
    summary = landscape_summary({"probes": [probe, probe]})
    assert math.isclose(summary["loss_range"], 0.6) and summary["grad_change"] == 0.5


def test_epoch_boundary_drop_and_layer_spread():
    from bnbook.presentation.analysis import epoch_boundary_drop
    from bnbook.presentation.evidence import layer_spread

    losses = [2.0] * 100 + [1.0] * 100  # one boundary at step 100
    run = {"losses": losses, "evals": [{"step": 100, "epoch": 1.0}]}
    assert math.isclose(epoch_boundary_drop(run, window=10), 1.0)
    probes = [{"grad_norms": {"a": 0.5, "b": 2.0}}]
    assert math.isclose(layer_spread({"probes": probes}), math.log10(4.0))
