"""Calling the learner's function: its answer, or one line saying how it failed.

An exception is never passed on: it becomes a `LearnerError` whose message names the
exception's type, the line of the learner's code it came from, and its text; a stub
that raises NotImplementedError is "not implemented yet". NumPy's and Python's warnings
are silenced during the call (the check reports NaN or inf outputs itself).
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable

import numpy as np

NOT_IMPLEMENTED = "not implemented yet"


class LearnerError(Exception):
    """The learner's function raised; str() is the one-line message for the learner."""


def function_name(fn) -> str:
    """The learner's function's name, for messages ("your function" if it has none)."""
    return getattr(fn, "__name__", None) or "your function"


def call(fn: Callable, *args):
    """fn(*args), or LearnerError if it raised."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return fn(*args)
    except NotImplementedError:
        raise LearnerError(
            f"{NOT_IMPLEMENTED} ({function_name(fn)} raises NotImplementedError)"
        ) from None
    except Exception as error:  # any mistake of the learner's, reported, not raised
        text = (str(error).strip().splitlines() or [""])[0][:200]
        detail = f": {text}" if text else ""
        raise LearnerError(
            f"{function_name(fn)} raised {type(error).__name__}{where(error, fn)}{detail}"
        ) from None


def where(error: Exception, fn: Callable) -> str:
    """' at line 7 (`return p - y`)': the deepest line of the learner's own code (the file
    or notebook cell that defines fn) in the traceback; '' if there is none."""
    frames = traceback.extract_tb(error.__traceback__)[1:]  # [0] is call() itself
    own_file = getattr(getattr(fn, "__code__", None), "co_filename", None)
    own = [frame for frame in frames if frame.filename == own_file] or frames[:1]
    if not own:
        return ""
    frame = own[-1]
    text = (frame.line or "").strip()
    return f" at line {frame.lineno}" + (f" (`{text}`)" if text else "")
