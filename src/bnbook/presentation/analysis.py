"""Small judgements the Problem 4 chapters make from records, in one tested place."""

import numpy as np

from bnbook.networks.probes import PROBE_PERCENTILES

TRAINS_ABOVE = 0.9  # test accuracy at the end of a sweep run that counts as "trains"


def sweep_outcome(record: dict) -> str:
    """'diverged' (loss became NaN/inf or ended above where it started), 'trains'
    (test accuracy >= 90%) or 'stalls'."""
    losses = np.asarray(record["losses"], dtype=np.float64)
    if not np.all(np.isfinite(losses)) or np.mean(losses[-20:]) > np.mean(losses[:20]):
        return "diverged"
    return "trains" if record["test_accuracy"] >= TRAINS_ABOVE else "stalls"


def rates_that_train(records: list[dict], batch_norm: bool) -> list[float]:
    return sorted(
        r["config"]["lr"]
        for r in records
        if r["config"]["batch_norm"] == batch_norm and sweep_outcome(r) == "trains"
    )


def steps_to_reach(record: dict, accuracy: float) -> int | None:
    """The first evaluated step whose test accuracy is at least `accuracy`, or None."""
    for e in record["evals"]:
        if e["test_accuracy"] >= accuracy:
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
