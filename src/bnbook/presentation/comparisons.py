"""Paired comparisons: two arms that share every setting but one, and seed s of one saw
the batches seed s of the other saw (runs.plan). The per-seed differences, their mean,
a 95% t-interval, and the verdict the interval alone gives."""

import math
import statistics
from dataclasses import asdict, dataclass


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with `df` degrees of freedom (p > 0.5), by bisection
    on its CDF, itself integrated numerically (Simpson's rule) from the density."""

    def density(x):
        c = math.gamma((df + 1) / 2) / (math.sqrt(df * math.pi) * math.gamma(df / 2))
        return c * (1 + x * x / df) ** (-(df + 1) / 2)

    def cdf(x, n=2000):  # 0.5 + the integral from 0 to x
        h = x / n
        odd = sum(density((2 * i - 1) * h) for i in range(1, n // 2 + 1))
        even = sum(density(2 * i * h) for i in range(1, n // 2))
        return 0.5 + h / 3 * (density(0) + 4 * odd + 2 * even + density(x))

    low, high = 0.0, 1000.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if cdf(mid) < p else (low, mid)
    return (low + high) / 2


def interval95(differences: list[float]) -> tuple[float, float]:
    """The 95% t-interval of the mean of `differences` (at least two)."""
    n = len(differences)
    if n < 2:
        raise ValueError("an interval needs at least two paired differences")
    mean = statistics.fmean(differences)
    half = t_quantile(0.975, n - 1) * statistics.stdev(differences) / math.sqrt(n)
    return mean - half, mean + half


def verdict(ci: tuple[float, float], words=("hurt", "helped")) -> str:
    """What the interval says of the second arm against the first: words[1] if it lies
    above 0, words[0] if below, "within noise" if it contains 0."""
    if ci[0] > 0:
        return words[1]
    if ci[1] < 0:
        return words[0]
    return "within noise"


@dataclass
class Comparison:
    """One paired comparison, as summary.json stores it (values as fractions)."""

    name: str
    arms: list  # [the baseline arm, the arm compared with it]
    settings: dict  # what both arms share
    metric: str
    seeds: list
    per_seed_difference: list
    mean_difference: float
    ci95: list
    verdict: str

    def as_dict(self) -> dict:
        return asdict(self)


def paired(name: str, arms: tuple, baseline: list, treated: list, metric="test_accuracy",
           settings: dict | None = None, words=("hurt", "helped")) -> Comparison:  # fmt: skip
    """Compare `treated` with `baseline` (records) on `metric`, over the seeds both have.

    `metric`: a record field, or a function of a record. `words`: the verdict when the
    interval lies below / above 0 (accuracy: hurt / helped).
    """
    value = metric if callable(metric) else (lambda r: r[metric])
    by_seed = {r["config"]["seed"]: r for r in baseline}
    treated = [r for r in treated if r["config"]["seed"] in by_seed]
    seeds = [r["config"]["seed"] for r in treated]
    if len(seeds) < 2:
        raise ValueError(f"{name}: the arms share {len(seeds)} seed(s); a pair needs two")
    differences = [value(r) - value(by_seed[r["config"]["seed"]]) for r in treated]
    ci = interval95(differences)
    return Comparison(
        name=name,
        arms=list(arms),
        settings=settings or {},
        metric=metric if isinstance(metric, str) else getattr(metric, "__name__", "metric"),
        seeds=seeds,
        per_seed_difference=differences,
        mean_difference=statistics.fmean(differences),
        ci95=list(ci),
        verdict=verdict(ci, words),
    )
