"""Exercises for Problems 1-3: checkers for a learner's own gradient code.

Each check takes the learner's function, runs it on several random shapes and seeds,
compares what it returns with the float64 reference (`derivations.reference`) and with
central differences (`derivations.gradcheck`), and returns a `CheckResult`: passed or
not, and one line saying what was checked or the first thing that was wrong, naming a
known mistake when the wrong answer is one (`exercises.mistakes`). A check never raises
for a wrong answer. The exercise notebooks are in `notebooks/exercises/`.
"""

from bnbook.exercises.checks import (
    check_batchnorm_backward,
    check_network_backward,
    check_softmax_cross_entropy,
)
from bnbook.exercises.result import CheckResult

__all__ = [
    "CheckResult",
    "check_batchnorm_backward",
    "check_network_backward",
    "check_softmax_cross_entropy",
]
