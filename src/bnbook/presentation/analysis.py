"""Small judgements the Problem 4 chapters make from records, in one tested place."""

import numpy as np

TRAINS_ABOVE = 0.9  # validation accuracy at the end of a sweep run that counts as "trains"


def sweep_outcome(record: dict) -> str:
    """'diverged' (loss became NaN/inf or ended above where it started), 'trains'
    (validation accuracy >= 90%) or 'stalls'."""
    losses = np.asarray(record["losses"], dtype=np.float64)
    if not np.all(np.isfinite(losses)) or np.mean(losses[-20:]) > np.mean(losses[:20]):
        return "diverged"
    return "trains" if record["val_accuracy"] >= TRAINS_ABOVE else "stalls"


def steps_to_reach(record: dict, accuracy: float) -> int | None:
    """The first evaluated step whose validation accuracy is at least `accuracy`, or None."""
    for e in record["evals"]:
        if e["val_accuracy"] >= accuracy:
            return e["step"]
    return None


def percentile_series(record: dict, layer: str, q: int, unit: str = "all") -> np.ndarray:
    """The q-th percentile of `layer`'s nonlinearity input at each probe of `record`.

    `unit`: "all" (every unit) or "unit0" (one fixed unit); q one of PROBE_PERCENTILES.
    """
    from bnbook.networks.probes import PROBE_PERCENTILES  # (TensorFlow: only when drawing)

    column = PROBE_PERCENTILES.index(q)
    return np.array([p["activations"][layer][unit][column] for p in record["probes"]])


def generalization_gap(records: list[dict]) -> dict:
    """At the end of training, in inference mode, mean over seeds: training-subset loss,
    validation loss, and their difference (a regularizer shrinks the difference)."""
    train = float(np.mean([r["evals"][-1]["train_loss"] for r in records]))
    val = float(np.mean([r["evals"][-1]["val_loss"] for r in records]))
    return {"train_loss": train, "val_loss": val, "gap": val - train}


def landscape_series(record: dict, quantity: str) -> np.ndarray:
    """Per probe, along -gradient: "loss_range" (max - min of the loss over the step sizes,
    the start included) or "grad_change" (relative gradient change at the largest step)."""
    probes = [p["landscape"] for p in record["probes"]]
    if quantity == "loss_range":
        return np.array([max(p["loss_at"] + [p["loss"]]) - min(p["loss_at"] + [p["loss"]])
                         for p in probes])  # fmt: skip
    return np.array([p["grad_change"][-1] for p in probes])


def landscape_summary(record: dict) -> dict:
    """The two landscape series of a run, each averaged over its probes."""
    return {q: float(np.mean(landscape_series(record, q))) for q in ("loss_range", "grad_change")}


def epoch_boundary_drop(record: dict, window: int = 50) -> float:
    """Mean fall of the training loss across epoch boundaries: the mean loss of the `window`
    mini-batches before each boundary minus that of the `window` after (nats).

    After a boundary every mini-batch holds images the network has already been
    trained on, so its loss is lower than on the still-unseen images before it.
    """
    first = record["evals"][0]
    per_epoch = round(first["step"] / first["epoch"])
    losses = np.asarray(record["losses"], dtype=np.float64)
    boundaries = range(per_epoch, len(losses) - window + 1, per_epoch)
    drops = [losses[b - window : b].mean() - losses[b : b + window].mean() for b in boundaries]
    return float(np.mean(drops)) if drops else float("nan")
