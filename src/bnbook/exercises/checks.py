"""The three checks: the learner's function against the reference and central differences.

Each check calls the learner's function on every case of `exercises.cases` in turn and
compares each output, in backprop order, with its reference value (relative error at
most TOL) or, for intermediates the reference does not compute, with central
differences (at most TOL_NUMERICAL); the relative error is gradcheck's
max|a-b| / max(1e-8, |a|+|b|). The first wrong output ends the check: its name, the
case, both errors (or both shapes), and the known mistake that gives the same value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bnbook.derivations.gradcheck import rel_error
from bnbook.exercises import cases, mistakes
from bnbook.exercises.calling import LearnerError, call, function_name
from bnbook.exercises.result import CheckResult

TOL = 1e-6  # a float64 implementation of the right formula is at ~1e-12
TOL_NUMERICAL = 1e-5  # central differences resolve these to ~1e-9 on the checks' inputs
MATCH_TOL = 1e-6  # a wrong answer this close to a known mistake's is that mistake


class BadOutput(Exception):
    """The learner's function returned something that is not the expected outputs."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its name in `mistakes`, its cases, how to read its function's return
    value into named arrays, and what the cases cover (for the pass message)."""

    name: str
    cases: Callable[[], tuple[cases.Case, ...]]
    read: Callable[[object, cases.Case], dict[str, np.ndarray]]
    covers: str


def _array(name: str, value) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float64)
    except Exception:  # whatever the learner returned, the check reports it
        raise BadOutput(f"{name} is not an array of numbers ({type(value).__name__})") from None


def _read_array(out, case: cases.Case) -> dict[str, np.ndarray]:
    if out is None:
        raise BadOutput("returned None instead of dL/do")
    return {"dL/do": _array("dL/do", out)}


def _read_dict(out, case: cases.Case) -> dict[str, np.ndarray]:
    if isinstance(out, tuple | list) and len(out) == 3 and "dx" in case.expected:
        out = dict(zip(("dx", "dgamma", "dbeta"), out, strict=True))
    if not isinstance(out, Mapping):
        wanted = "(dx, dgamma, dbeta) or a dict" if "dx" in case.expected else "a dict"
        raise BadOutput(f"returned {type(out).__name__} instead of {wanted}")
    for name, expected in case.expected.items():
        if expected.required and name not in out:
            raise BadOutput(f"returned no {name}")
    return {name: _array(name, out[name]) for name in case.expected if name in out}


def _first_problem(got: dict[str, np.ndarray], case: cases.Case) -> tuple[str, str, float]:
    """(output, what is wrong with it, worst error): the first wrong output in backprop
    order ("{what} at {case.label}" in the message), or ("", "", worst error) if none is."""
    worst = 0.0
    for name, expected in case.expected.items():
        if name not in got:
            continue
        value = got[name]
        target = expected.numerical if expected.reference is None else expected.reference
        if value.shape != target.shape:
            return name, f"has shape {value.shape}, expected {target.shape}, at {case.label}", worst
        if not np.all(np.isfinite(value)):
            return name, f"has NaN or inf entries at {case.label}", worst
        vs_numerical = f"{rel_error(value, expected.numerical):.1e} vs central differences"
        if expected.reference is None:
            error, bar = rel_error(value, expected.numerical), TOL_NUMERICAL
            detail = vs_numerical
        else:
            error, bar = rel_error(value, expected.reference), TOL
            detail = f"{error:.1e} vs the reference, {vs_numerical}"
        if error > bar:
            return name, f"is wrong at {case.label} (relative error {detail})", worst
        worst = max(worst, error)
    return "", "", worst


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shapes, NaN and inf in the same places, the rest within MATCH_TOL."""
    if a.shape != b.shape:
        return False
    finite = np.isfinite(a)
    if not np.array_equal(finite, np.isfinite(b)):
        return False
    if not np.array_equal(a[~finite], b[~finite], equal_nan=True):
        return False
    return rel_error(a[finite], b[finite]) <= MATCH_TOL


def _known_mistake(exercise: Exercise, case: cases.Case, name: str, value) -> str:
    """'; known mistake: <name> (<fix>)' if a known mistake gives this value, else ''."""
    for mistake in mistakes.known_mistakes(exercise.name):
        try:
            theirs = exercise.read(call(mistake.wrong, *case.fresh_args()), case)
        except (LearnerError, BadOutput):  # a mistake that fails outright on this case
            continue
        if name in theirs and _same(value, theirs[name]):
            return f"; known mistake: {mistake.name} ({mistake.fix})"
    return ""


def _check(exercise: Exercise, fn: Callable) -> CheckResult:
    worst = 0.0
    all_cases = exercise.cases()
    for case in all_cases:
        try:
            got = exercise.read(call(fn, *case.fresh_args()), case)
        except LearnerError as error:
            message = str(error)
            if not message.startswith("not implemented yet"):
                message += f", on {case.label}"
            return CheckResult(False, message)
        except BadOutput as error:
            return CheckResult(False, f"{function_name(fn)} {error}, on {case.label}")
        name, problem, case_worst = _first_problem(got, case)
        if name:
            mistake = _known_mistake(exercise, case, name, got[name])
            return CheckResult(False, f"{name} {problem}{mistake}")
        worst = max(worst, case_worst)
        checked = [name for name in case.expected if name in got]
    return CheckResult(
        True,
        f"passed: {', '.join(checked)} {'match' if len(checked) > 1 else 'matches'} the float64 "
        f"reference and central differences on {len(all_cases)} cases ({exercise.covers} among "
        f"them); worst relative error {worst:.1e}",
    )


SOFTMAX = Exercise(
    mistakes.P1, cases.softmax_cases, _read_array, "N = 1, C = 2, logits near +-1000"
)
NETWORK = Exercise(mistakes.P2, cases.network_cases, _read_dict, "N = 1 and C = 2")
BATCHNORM = Exercise(mistakes.P3, cases.batchnorm_cases, _read_dict, "m = 1 and m = 2")


def check_softmax_cross_entropy(fn: Callable) -> CheckResult:
    """Problem 1. fn(o, y) -> dL/do: o (N, C) logits, y (N, C) one-hot, L the batch mean."""
    return _check(SOFTMAX, fn)


def check_network_backward(fn: Callable) -> CheckResult:
    """Problem 2. fn(params, X, y) -> dict with dW1, db1, dW2, db2, dW3, db3 (shaped like
    the parameters) and optionally do, da2, dh2, da1, dh1; params as
    derivations.reference takes them, X (N, D), y (N, C) one-hot, L the batch mean."""
    return _check(NETWORK, fn)


def check_batchnorm_backward(fn: Callable) -> CheckResult:
    """Problem 3. fn(dy, x, gamma, beta, eps) -> (dx, dgamma, dbeta), or a dict with those
    and optionally dxhat, dvar, dmu; x, dy (m, D), gamma, beta (D,), F = sum(y * dy)."""
    return _check(BATCHNORM, fn)
