"""What a results page shows besides plots: its profile, and tables."""

import time

import numpy as np
from IPython.display import Markdown

from bnbook import tables
from bnbook.networks.batchnorm import BatchNorm
from bnbook.runs.devices import describe as describe_device
from bnbook.runs.profiles import current_profile
from bnbook.tables import setting


def page_records(chapter: str) -> list[dict]:
    """The stored records of a chapter of the plan (`runs.plan.CHAPTERS`; never trains)."""
    from bnbook.runs.experiments import lookup
    from bnbook.runs.plan import resolve

    resolved = resolve(lookup())
    configs = dict.fromkeys(resolved.chapter_configs()[chapter])
    return [resolved.records[c] for c in configs if c in resolved.records]


def describe_machines(records: list[dict]) -> str:
    """Each machine the records were made on: CPU, cores, threads, oneDNN, versions, precision."""
    machines = {}
    for r in records:
        m = r.get("machine") or {}
        where = (
            f"{m.get('cpu', 'an unknown CPU')} ({m.get('cores', '?')} cores), "
            f"{m.get('threads', '?')} TensorFlow thread(s), "
            f"oneDNN {'on' if m.get('onednn') else 'off'}, "
            f"TensorFlow {m.get('tensorflow', '?')}, Python {m.get('python', '?')}"
        )
        machines.setdefault(where, set()).add(m.get("precision") or r["config"]["precision"])
    return "; ".join(f"{w}, precision {' and '.join(sorted(p))}" for w, p in machines.items())


def provenance_sentence(records: list[dict]) -> str:
    """When and where the records were trained.

    Not "by the run that built this book": records and pages come from caches,
    so that would be false on any rebuild.
    """
    if not records:
        return "Every number on this page was measured when its record was trained."
    created = sorted(r["created"] for r in records)
    days = sorted({time.strftime("%Y-%m-%d", time.gmtime(t)) for t in created})
    when = days[0] if len(days) == 1 else f"between {days[0]} and {days[-1]}"
    return (
        f"Every number on this page was measured when its record was trained, {when} (UTC), "
        f"on {describe_machines(records)}."
    )


def profile_note(page: str | list | None = None) -> Markdown:
    """An admonition naming the profile and where and when the page's records were made.

    `page`: a chapter of `runs.plan.CHAPTERS` (its records are
    read from the store), or the list of records the page shows; the smoke
    profile's note warns that its numbers are not results.
    """
    records = page_records(page) if isinstance(page, str) else list(page or [])
    where = provenance_sentence(records)
    profile = current_profile()
    device = f" Trained on {describe_device()}."  # part of every record's key
    if profile.name == "smoke":
        return Markdown(
            ":::{warning}\nSmoke profile: the numbers on this page come from tiny subsets of "
            f"MNIST ({profile.train_examples} training, {profile.validation_examples} validation "
            f"and {profile.test_examples} test images) and a few training steps. They test the "
            f"machinery; they are not results.{device} {where}\n:::"
        )
    return Markdown(
        ":::{note}\nFull profile: 55,000 training, 5,000 validation and 10,000 test images."
        f"{device} {where}\n:::"
    )


def glue_facts(facts: dict) -> None:
    """Glue every fact (name -> text) for the page's prose, displaying nothing."""
    from myst_nb import glue

    for name, text in facts.items():
        glue(name, text, display=False)


def markdown_table(headers: list[str], rows: list[list]) -> Markdown:
    """A Markdown table (renders in HTML and in the LaTeX/PDF book)."""
    return Markdown(tables.markdown(headers, rows))


def class_balance(y_train: np.ndarray, y_test: np.ndarray) -> list[list]:
    """Per digit (and in total): its count and share in the training and the test labels."""
    counts = [np.bincount(y, minlength=10) for y in (y_train, y_test)]
    rows = [[d] + [cell for c in counts for cell in (c[d], f"{c[d] / c.sum():.2%}")]
            for d in range(10)]  # fmt: skip
    return rows + [
        ["total"] + [cell for c in counts for cell in (c.sum(), f"{(c / c.sum()).sum():.2%}")]
    ]


def percent(x: float | None) -> str:
    """An accuracy as a percentage with two decimals; None (never evaluated) said so."""
    return "not evaluated" if x is None else f"{100 * x:.2f}%"


def mean_std(summary: dict) -> str:
    """'98.53 ± 0.04%' (sample standard deviation over seeds)."""
    return f"{100 * summary['mean']:.2f} ± {100 * summary['std']:.2f}%"


_ACTIVATION_NAMES = {"relu": "ReLU"}


def describe_layer(layer) -> str:
    """What a layer computes, in the chapters' words ("dense, Wx + b", "ReLU", ...)."""
    kind = type(layer).__name__
    if isinstance(layer, BatchNorm):
        relu = " + ReLU (one layer)" if layer.activation is not None else ""
        return f"batch norm{relu}"
    if kind == "Dense":
        return f"dense, {layer.units} units, " + ("Wx + b" if layer.use_bias else "Wx (no bias)")
    if kind == "Conv2D":
        size = "x".join(map(str, layer.kernel_size))
        bias = "" if layer.use_bias else ", no bias"
        return f"{size} convolution, {layer.filters} filters{bias}"
    if kind == "MaxPooling2D":
        return f"{'x'.join(map(str, layer.pool_size))} max pooling"
    if kind == "Activation":
        name = getattr(layer.activation, "__name__", str(layer.activation))
        return _ACTIVATION_NAMES.get(name, name)
    return {"InputLayer": "input image", "Flatten": "flatten to a vector"}.get(kind, kind)


def layer_table(model) -> Markdown:
    """Each layer in order: what it computes, its output shape and parameter count."""
    rows = [
        [str(i), describe_layer(layer), str(tuple(layer.output.shape)), f"{layer.count_params():,}"]
        for i, layer in enumerate(model.layers)
    ]
    rows.append(["", "total", "", f"{model.count_params():,}"])
    return markdown_table(["", "layer", "output shape", "parameters"], rows)


def selection_table(selections: dict) -> Markdown:
    """Every candidate of every field, per arm: validation accuracy (seed 0), the default
    marked, the best one's margin over it, the noise margin it had to beat, the choice.

    `selections`: {arm label: runs.selection.Selection}.
    """
    rows = []
    for label, selection in selections.items():
        for row in selection.rows:
            cells = [
                f"{setting(v)}{' (default)' if v == row['default'] else ''}: {percent(acc)}"
                for v, acc in zip(row["values"], row["val_accuracy"], strict=True)
            ]
            margin = f"{100 * row['margin']:+.2f} / {100 * selection.margin_needed:.2f}"
            rows.append([label, row["field"], "; ".join(cells), margin, setting(row["chosen"])])
    headers = ["arm", "setting", "candidate (seed 0): validation", "margin / needed (points)",
               "chosen"]  # fmt: skip
    return markdown_table(headers, rows)


def accuracy_table(see: dict[str, str] | None = None) -> Markdown:
    """Problem 4's answer: test accuracy (mean ± std over seeds) without and with batch
    norm at the matched settings, and the paired difference with its interval.

    `see` maps a network ("mlp", "cnn") to MyST text naming where it is shown (a sentence
    under the table: a column of links would squeeze the numbers in print).
    """
    from bnbook.presentation import evidence

    resolved = evidence.book_runs()
    found = {c.name: c for c in evidence.comparisons(resolved)}
    pairs = evidence.matched_pairs(resolved)
    nets = {"mlp": ("MLP", "MLP: batch norm"), "cnn": ("CNN", "CNN: batch norm, shift 0 px")}
    rows = []
    for net, (label, name) in nets.items():
        c = found[name]
        low, high = (evidence.points(x) for x in c.ci95)
        row = [label, pairs[net]["without"]["text"], pairs[net]["with"]["text"],
               evidence.points(c.mean_difference), f"{low} to {high}", c.verdict]  # fmt: skip
        rows.append(row)
    headers = ["network", "without BN", "with BN", "difference (points)", "95% CI", "verdict"]
    profile = current_profile().name
    note = (
        f"Test accuracy, mean ± sample standard deviation over seeds "
        f"{', '.join(map(str, found['MLP: batch norm'].seeds))}; both arms at the same "
        "pre-declared settings, seeds and batches; the test set is evaluated once, at the "
        f"end of each run ({profile} profile"
        f"{': tiny subsets, not results' if profile == 'smoke' else ''})."
    )
    if see:
        note += (
            " Derived and plotted in: " + "; ".join(f"{nets[n][0]}, {see[n]}" for n in nets) + "."
        )
    return Markdown(markdown_table(headers, rows).data + "\n\n" + note)
