"""CheckResult: what an exercise check returns, a verdict and one line saying why."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """passed: the learner's function gave the right answer on every case.
    message: one line, what was checked (passed) or the first thing that was wrong."""

    passed: bool
    message: str

    def __post_init__(self):
        # One line whatever went into it (an exception's message may have several).
        object.__setattr__(self, "message", " ".join(str(self.message).split()))

    def __str__(self) -> str:
        return self.message
