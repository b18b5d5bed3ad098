"""What a results page shows besides plots: its profile, and tables."""

from IPython.display import Markdown

from bnbook.networks.batchnorm import BatchNorm
from bnbook.runs.profiles import current_profile


def profile_note() -> Markdown:
    """An admonition naming the profile; the smoke one warns that numbers are not real."""
    profile = current_profile()
    if profile.name == "smoke":
        return Markdown(
            ":::{warning}\nSmoke profile: the numbers on this page come from tiny subsets of "
            f"MNIST ({profile.train_examples} training and {profile.test_examples} test images) "
            "and a few training steps. They test the machinery; they are not results.\n:::"
        )
    return Markdown(
        ":::{note}\nFull profile: every number on this page was measured by the run that "
        "built this book, on all 60,000 training and 10,000 test images.\n:::"
    )


def markdown_table(headers: list[str], rows: list[list]) -> Markdown:
    """A Markdown table (renders in HTML and in the LaTeX/PDF build)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def percent(x: float) -> str:
    return f"{100 * x:.2f}%"


def mean_std(summary: dict) -> str:
    """'98.53 ± 0.04%' (sample standard deviation over seeds)."""
    return f"{100 * summary['mean']:.2f} ± {100 * summary['std']:.2f}%"


def summary_table(summaries: dict) -> Markdown:
    """One row per experiment: mean ± std, every seed, time and throughput."""
    rows = [
        [
            name,
            mean_std(s),
            ", ".join(f"{seed}: {percent(acc)}" for seed, acc in s["seeds"].items()),
            f"{s['wall_time_s'] / len(s['seeds']):.0f} s",
            f"{s['images_per_second']:,.0f}",
        ]
        for name, s in summaries.items()
    ]
    headers = ["model", "test accuracy", "per seed", "time per run", "images/s"]
    return markdown_table(headers, rows)


def glue_summary(prefix: str, summary: dict) -> None:
    """Glue `<prefix>_acc` (mean ± std) and `<prefix>_mean` for the prose."""
    from myst_nb import glue

    glue(f"{prefix}_acc", mean_std(summary), display=False)
    glue(f"{prefix}_mean", percent(summary["mean"]), display=False)
    glue(f"{prefix}_time", f"{summary['wall_time_s'] / len(summary['seeds']):.0f} s", display=False)


_ACTIVATION_NAMES = {"relu": "ReLU"}


def _layer_type(layer) -> str:
    """The layer's class name, with the activation it fuses if it is not a separate layer."""
    name = type(layer).__name__
    if isinstance(layer, BatchNorm) and layer.activation is not None:
        return f"{name} + {_ACTIVATION_NAMES.get(layer.activation, layer.activation)} (fused)"
    return name


def layer_table(model) -> Markdown:
    """Each layer's name, type, output shape and parameter count.

    A layer that applies its activation itself says so in its type, e.g.
    "BatchNorm + ReLU (fused)" (models fuse the ReLU after our batch norm).
    """
    rows = [
        [
            layer.name,
            _layer_type(layer),
            str(tuple(layer.output.shape)),
            f"{layer.count_params():,}",
        ]
        for layer in model.layers
    ]
    rows.append(["total", "", "", f"{model.count_params():,}"])
    return markdown_table(["layer", "type", "output shape", "parameters"], rows)
