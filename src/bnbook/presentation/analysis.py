"""Small judgements the Problem 4 chapters make from records, in one tested place."""

import numpy as np

from bnbook.networks.probes import PROBE_PERCENTILES

TRAINS_ABOVE = 0.9  # validation accuracy at the end of a sweep run that counts as "trains"


def sweep_outcome(record: dict) -> str:
    """'diverged' (loss became NaN/inf or ended above where it started), 'trains'
    (validation accuracy >= 90%) or 'stalls'."""
    losses = np.asarray(record["losses"], dtype=np.float64)
    if not np.all(np.isfinite(losses)) or np.mean(losses[-20:]) > np.mean(losses[:20]):
        return "diverged"
    return "trains" if record["val_accuracy"] >= TRAINS_ABOVE else "stalls"


def rates_that_train(records: list[dict], batch_norm: bool) -> list[float]:
    """The swept learning rates whose run trains (sweep_outcome), for one arm, ascending."""
    return sorted(
        r["config"]["lr"]
        for r in records
        if r["config"]["batch_norm"] == batch_norm and sweep_outcome(r) == "trains"
    )


def steps_to_reach(record: dict, accuracy: float) -> int | None:
    """The first evaluated step whose validation accuracy is at least `accuracy`, or None."""
    for e in record["evals"]:
        if e["val_accuracy"] >= accuracy:
            return e["step"]
    return None


def compare(with_bn: float, without: float, unit: str = " points") -> str:
    """A sentence fragment that says honestly which way a difference went."""
    diff = with_bn - without
    if abs(diff) < 1e-12:
        return "made no difference"
    verb = "raised" if diff > 0 else "lowered"
    return f"{verb} it by {abs(diff):.2f}{unit}"


def percentile_series(record: dict, layer: str, q: int, unit: str = "all") -> np.ndarray:
    """The q-th percentile of `layer`'s nonlinearity input at each probe of `record`.

    `unit`: "all" (every unit) or "unit0" (one fixed unit); q one of PROBE_PERCENTILES.
    """
    column = PROBE_PERCENTILES.index(q)
    return np.array([p["activations"][layer][unit][column] for p in record["probes"]])


def grid_gains(grid: dict) -> dict:
    """Batch norm's gain in validation accuracy (points) per grid cell.

    `grid`: {(depth, optimizer, batch_norm): record} -> {(depth, optimizer): points}.
    """
    cells = {(d, o) for d, o, _ in grid}
    return {
        (d, o): 100 * (grid[d, o, True]["val_accuracy"] - grid[d, o, False]["val_accuracy"])
        for d, o in sorted(cells)
    }


def mean_gain_by(gains: dict, position: int) -> dict:
    """Mean gain over the other key: position 0 -> per depth, 1 -> per optimizer."""
    groups = {}
    for key, gain in gains.items():
        groups.setdefault(key[position], []).append(gain)
    return {k: float(np.mean(v)) for k, v in groups.items()}


def final_loss(record: dict, tail: int = 50) -> float:
    """Mean training loss over the last `tail` mini-batches."""
    return float(np.mean(record["losses"][-tail:]))


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


def grad_norm_spread(record: dict) -> float:
    """Largest over smallest gradient norm among the layers' kernels, at the last probe."""
    norms = list(record["probes"][-1]["grad_norms"].values())
    return max(norms) / max(min(norms), 1e-30)


def rates_near_best(search: dict, points: float = 0.5) -> list:
    """The candidate values of a selection search whose validation accuracy is within
    `points` percentage points of the best one (how forgiving the setting is)."""
    best = max(search["val_accuracy"])
    return [
        v
        for v, a in zip(search["values"], search["val_accuracy"], strict=True)
        if 100 * (best - a) <= points
    ]


def depth_name(widths, depths: dict) -> str:
    """The name under which `widths` appears in `depths` ({name: widths})."""
    names = [name for name, w in depths.items() if tuple(w) == tuple(widths)]
    if len(names) != 1:
        raise ValueError(f"widths {widths} name {len(names)} entries of {list(depths)}")
    return names[0]
