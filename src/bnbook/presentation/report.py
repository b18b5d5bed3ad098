"""What a results page shows besides plots: its profile, and tables."""

from IPython.display import Markdown

from bnbook.runs.devices import describe as describe_device
from bnbook.runs.profiles import current_profile


def profile_note() -> Markdown:
    """An admonition naming the profile; the smoke one warns that numbers are not real."""
    profile = current_profile()
    device = f" Trained on {describe_device()}."  # part of every record's key (issue 13)
    if profile.name == "smoke":
        return Markdown(
            ":::{warning}\nSmoke profile: the numbers on this page come from tiny subsets of "
            f"MNIST ({profile.train_examples} training and {profile.test_examples} test images) "
            "and a few training steps. They test the machinery; they are not results."
            f"{device}\n:::"
        )
    return Markdown(
        ":::{note}\nFull profile: every number on this page was measured by the run that "
        f"built this book, on all 60,000 training and 10,000 test images.{device}\n:::"
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


def layer_table(model) -> Markdown:
    """Each layer's name, type, output shape and parameter count."""
    rows = [
        [
            layer.name,
            type(layer).__name__,
            str(tuple(layer.output.shape)),
            f"{layer.count_params():,}",
        ]
        for layer in model.layers
    ]
    rows.append(["total", "", "", f"{model.count_params():,}"])
    return markdown_table(["layer", "type", "output shape", "parameters"], rows)
