"""The exercise checkers (bnbook.exercises): right answers pass, known mistakes are named,
a learner's error is reported and never raised, and the exercise notebooks run on their
stubs without an error."""

import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from bnbook.derivations import reference
from bnbook.exercises import (
    CheckResult,
    check_batchnorm_backward,
    check_network_backward,
    check_softmax_cross_entropy,
    mistakes,
)
from bnbook.exercises.cases import NETWORK_INTERMEDIATES, batchnorm_cases, network_cases

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ROOT / "notebooks" / "exercises"
CHECKS = {
    mistakes.P1: check_softmax_cross_entropy,
    mistakes.P2: check_network_backward,
    mistakes.P3: check_batchnorm_backward,
}
SIX = tuple(f"d{name}" for name in reference.PARAM_NAMES)


# --- right answers ------------------------------------------------------------------------
def softmax_reference(o, y):
    return reference.softmax_cross_entropy(o, y)[1]


def network_reference(params, X, y):
    _, forward = reference.network_forward(params, X)
    return reference.network_backward(forward, y)


def batchnorm_node_by_node(dy, x, gamma, beta, eps):
    _, forward = reference.batchnorm_forward(x, gamma, beta, eps)
    return reference.batchnorm_backward(dy, forward)


def batchnorm_compact(dy, x, gamma, beta, eps):
    _, forward = reference.batchnorm_forward(x, gamma, beta, eps)
    return reference.batchnorm_backward_compact(dy, forward)


def only(names, fn):
    """fn with its dict cut down to `names` (a tuple of arrays for batch norm's three)."""

    def cut(*args):
        out = fn(*args)
        return tuple(out[n] for n in names) if names[0] == "dx" else {n: out[n] for n in names}

    return cut


@pytest.mark.parametrize(
    "check, fn",
    [
        (check_softmax_cross_entropy, softmax_reference),
        (check_network_backward, network_reference),
        (check_network_backward, mistakes.network_backward_with),  # with the intermediates
        (check_batchnorm_backward, batchnorm_node_by_node),
        (check_batchnorm_backward, batchnorm_compact),
        (check_batchnorm_backward, mistakes.batchnorm_backward_with),  # with the intermediates
    ],
)
def test_the_reference_passes(check, fn):
    result = check(fn)
    assert isinstance(result, CheckResult)
    assert result.passed, result.message
    assert result.message.startswith("passed") and "\n" not in result.message


def test_intermediates_are_checked_and_named_in_backprop_order():
    result = check_network_backward(mistakes.network_backward_with)
    assert all(name in result.message for name in NETWORK_INTERMEDIATES)

    def dh2_wrong(params, X, y):
        grads = mistakes.network_backward_with(params, X, y)
        return {**grads, "dh2": 2 * grads["dh2"], "dh1": 2 * grads["dh1"]}

    result = check_network_backward(dh2_wrong)
    assert not result.passed and result.message.startswith("dh2 is wrong"), result.message


def test_the_wrong_answers_replace_one_step_of_the_right_backward_passes():
    """mistakes.py's backward passes, with their default steps, are the reference's."""
    for case in network_cases():
        grads, expected = mistakes.network_backward_with(*case.fresh_args()), case.expected
        for name in SIX + ("do",):
            np.testing.assert_allclose(grads[name], expected[name].reference, rtol=1e-12)
    for case in batchnorm_cases():
        grads = mistakes.batchnorm_backward_with(*case.fresh_args())
        for name in ("dx", "dgamma", "dbeta"):
            np.testing.assert_allclose(
                grads[name], case.expected[name].reference, rtol=1e-9, atol=1e-12
            )


# --- known mistakes -----------------------------------------------------------------------
def as_learner_returns(mistake, with_intermediates):
    """The mistake as a learner's function: all outputs, or only the required ones."""
    if with_intermediates or mistake.exercise == mistakes.P1:
        return mistake.wrong
    return only(
        SIX if mistake.exercise == mistakes.P2 else ("dx", "dgamma", "dbeta"), mistake.wrong
    )


@pytest.mark.parametrize("with_intermediates", [True, False], ids=["all", "required"])
@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=lambda m: m.name)
def test_each_known_mistake_fails_with_a_message_naming_it(mistake, with_intermediates):
    result = CHECKS[mistake.exercise](as_learner_returns(mistake, with_intermediates))
    assert not result.passed
    assert f"known mistake: {mistake.name}" in result.message, result.message
    assert "\n" not in result.message


def test_the_brief_s_mistakes_are_all_known():
    names = {m.name for m in mistakes.MISTAKES}
    for words in ("1/(m-1)", "through mu", "through sigma^2", "gamma", "wrong axis",
                  "(y - p)", "1/N", "transpose", "a(1+a)", "1 - a", "not summed"):  # fmt: skip
        assert any(words in name for name in names), words


def test_an_unknown_wrong_answer_is_reported_without_a_mistake():
    result = check_softmax_cross_entropy(lambda o, y: softmax_reference(o, y) + 1e-3)
    assert not result.passed
    assert result.message.startswith("dL/do is wrong at N=4, C=3 (relative error")
    assert "vs the reference" in result.message and "vs central differences" in result.message
    assert "known mistake" not in result.message


# --- what the learner's function does wrong besides the maths -----------------------------
def test_an_exception_is_reported_with_its_type_and_line_not_raised():
    def grad(o, y):
        p = reference.softmax(o)
        return p @ y  # (N, C) @ (N, C): a shape error
        # (the line numbers are the file's: a notebook cell's in a notebook)

    line = inspect.getsourcelines(grad)[1] + 2
    result = check_softmax_cross_entropy(grad)
    assert not result.passed
    assert f"grad raised ValueError at line {line} (`return p @ y" in result.message
    assert result.message.endswith("on N=4, C=3"), result.message


def test_an_exception_in_a_helper_names_the_line_in_the_learners_code():
    def helper(x):
        return x["W9"]

    def grads(params, X, y):
        return {"dW1": helper(params)}

    result = check_network_backward(grads)
    line = inspect.getsourcelines(helper)[1] + 1
    assert f"raised KeyError at line {line} (`return x[\"W9\"]`): 'W9'" in result.message


@pytest.mark.parametrize("check", CHECKS.values())
def test_a_stub_is_not_implemented_yet(check):
    def stub(*args):
        raise NotImplementedError("write your answer here")

    result = check(stub)
    assert not result.passed
    assert result.message.startswith("not implemented yet"), result.message


def test_a_wrong_shape_is_reported_with_both_shapes():
    result = check_softmax_cross_entropy(lambda o, y: softmax_reference(o, y).T)
    assert not result.passed
    assert "dL/do has shape (3, 4), expected (4, 3), at N=4, C=3" in result.message

    def batchnorm(dy, x, gamma, beta, eps):
        dx, dgamma, dbeta = batchnorm_compact(dy, x, gamma, beta, eps)
        return dx, dgamma[None, :], dbeta  # (1, D), a keepdims slip

    result = check_batchnorm_backward(batchnorm)
    assert "dgamma has shape (1, 3), expected (3,)" in result.message, result.message


@pytest.mark.parametrize(
    "check, fn, message",
    [
        (check_softmax_cross_entropy, lambda o, y: None, "returned None"),
        (check_softmax_cross_entropy, lambda o, y: "p - y", "is not an array of numbers"),
        (check_network_backward, lambda params, X, y: [1, 2], "returned list instead of a dict"),
        (check_network_backward, only(SIX[:5], network_reference), "returned no db3"),
        (check_batchnorm_backward, lambda *args: 3.0, "returned float instead of (dx, dgamma"),
        (check_softmax_cross_entropy, lambda o, y: softmax_reference(o, y) * np.nan, "NaN or inf"),
    ],
)
def test_other_wrong_returns_are_reported(check, fn, message):
    result = check(fn)
    assert not result.passed and message in result.message, result.message


def test_the_learners_inputs_are_copies():
    def changes_its_inputs(o, y):
        o -= o.max(axis=1, keepdims=True)  # in place: harmless for the learner, and for us
        do = softmax_reference(o, y)
        y[:] = 0
        return do

    assert check_softmax_cross_entropy(changes_its_inputs).passed
    assert check_softmax_cross_entropy(softmax_reference).passed


def test_warnings_are_not_printed(capfd):
    check_softmax_cross_entropy(mistakes.MISTAKES[2].wrong)  # exp overflows
    check_batchnorm_backward(mistakes.MISTAKES[-5].wrong)  # 1/(m-1) at m = 1
    assert capfd.readouterr().err == ""


def test_a_check_result_is_one_line():
    assert CheckResult(False, "a\nb  c").message == "a b c"
    assert str(CheckResult(True, "passed: x")) == "passed: x"


# --- the notebooks and the book -----------------------------------------------------------
def exercise_notebooks() -> list[Path]:
    return sorted(EXERCISES.glob("ex*.ipynb"))


def test_there_is_one_exercise_notebook_per_problem_committed_without_outputs():
    notebooks = exercise_notebooks()
    assert [p.stem[:3] for p in notebooks] == ["ex1", "ex2", "ex3"]
    for path in notebooks:
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "bnbook"  # as the chapters
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def dropdowns(path: Path) -> list[str]:
    """The titles of a notebook's folded admonitions, in order."""
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return re.findall(r"^:::\{admonition\} (.+)\n:class: dropdown$", text, re.MULTILINE)


@pytest.mark.parametrize("path", exercise_notebooks(), ids=lambda p: p.stem)
def test_each_exercise_has_folded_hints_then_a_folded_solution(path):
    titles = dropdowns(path)
    assert len(titles) >= 3 and titles[-1] == "Solution"
    assert titles[:-1] == [f"Hint {i}" for i in range(1, len(titles))]


def solution_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    (solution,) = [
        "".join(c["source"]) for c in cells if "".join(c["source"]).startswith(
            ":::{admonition} Solution")
    ]  # fmt: skip
    return re.search(r"```python\n(.*?)```", solution, re.S).group(1)


@pytest.mark.parametrize("path", exercise_notebooks(), ids=lambda p: p.stem)
def test_each_solution_passes_its_check(path):
    cells = json.loads(path.read_text())["cells"]
    code = [("".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    namespace = {}
    exec(code[0], namespace)  # the set-up cell: imports
    exec(solution_code(path), namespace)
    exec(code[1].split("raise NotImplementedError")[0] + "pass", {})  # the stub parses
    check_cell = code[-1].strip()
    result = eval(check_cell.removeprefix("print(").removesuffix(")"), namespace)
    assert result.passed, (path.name, result.message)


def test_the_html_book_has_the_exercises_and_the_pdf_does_not():
    html = yaml.safe_load((ROOT / "_toc.yml").read_text())
    (part,) = [p for p in html["parts"] if p["caption"] == "Exercises"]
    files = [c["file"] for c in part["chapters"]]
    assert files == [f"notebooks/exercises/{p.stem}" for p in exercise_notebooks()]
    assert "exercises" not in (ROOT / "_toc_pdf.yml").read_text()
    answers = json.loads((ROOT / "notebooks" / "00_answers.ipynb").read_text())
    prose = "".join("".join(c["source"]) for c in answers["cells"])
    assert re.search(r"\{only\} html\n[^`]*Exercises", prose), "the answers page names no exercises"


@pytest.mark.slow
def test_the_exercise_notebooks_run_on_their_stubs_without_an_error():
    """Run as the book runs them (the chapters' kernel, in their folder): no error output,
    nothing on stderr but TensorFlow's start-up notes, and each check prints its line."""
    import nbformat
    from nbclient import NotebookClient

    for path in exercise_notebooks():
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=120, kernel_name="bnbook",
                       resources={"metadata": {"path": str(EXERCISES)}}).execute()  # fmt: skip
        outputs = [out for cell in nb.cells for out in cell.get("outputs", [])]
        assert not [o for o in outputs if o["output_type"] == "error"], path.name
        stderr = "".join(o["text"] for o in outputs if o.get("name") == "stderr")
        assert "Traceback" not in stderr and "Error" not in stderr, (path.name, stderr)
        printed = [o["text"] for o in outputs if o.get("name") == "stdout"]
        assert printed == [printed[0]] and printed[0].startswith("not implemented yet"), printed
