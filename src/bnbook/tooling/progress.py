"""The overall progress bar of the training phase: runs done / total, time left.

Runs differ in cost by orders of magnitude (a 30-step smoke MLP, a 10-epoch
CNN), so the time left is the elapsed time scaled by the estimated work
(`training_pool.estimated_work`) still to do, averaged with the count of runs left.
"""

import sys
import time

from tqdm import tqdm


def time_left(elapsed, done_work, total_work, done_runs=None, total_runs=None) -> float | None:
    """Seconds left if the remaining work goes at the rate so far (None before any is done).

    With run counts, the mean of that and the count-based estimate: every run
    also has a fixed cost (building the model, tracing, evaluating) that the
    work estimate leaves out, and which dominates tiny (smoke) runs.
    """
    if done_work <= 0:
        return None
    by_work = (total_work - done_work) / done_work
    if not done_runs:
        return elapsed * by_work
    return elapsed * (by_work + (total_runs - done_runs) / done_runs) / 2


class OverallBar:
    """A bar on the top line (position 0); the workers' bars go on the lines below it."""

    def __init__(self, works: list, position: int = 0, file=None):
        self.total_work, self.done_work = float(sum(works)), 0.0
        self.started = time.time()
        self.bar = tqdm(
            total=len(works),
            desc="all runs",
            unit="run",
            position=position,
            file=file or sys.stderr,
            bar_format="{desc}: {n_fmt}/{total_fmt} runs |{bar}| {elapsed} elapsed{postfix}",
        )

    def add(self, work: float) -> None:
        """One more run to do, of estimated `work` (the plan grows as selections finish)."""
        self.total_work += work
        self.bar.total += 1
        self.bar.refresh()

    def done(self, work: float) -> None:
        """One run finished; `work` is its estimated work."""
        self.done_work += work
        elapsed = time.time() - self.started
        runs = (self.bar.n + 1, self.bar.total)
        left = time_left(elapsed, self.done_work, self.total_work, *runs)
        if left is not None:
            self.bar.set_postfix_str(f"about {_duration(left)} left", refresh=False)
        self.bar.update(1)

    def track(self, future, work: float):
        """Count `future` (a run of estimated `work`) when it succeeds; returns it."""
        future.add_done_callback(lambda f: f.cancelled() or f.exception() or self.done(work))
        return future

    def close(self) -> None:
        self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"
