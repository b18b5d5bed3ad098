"""What a results page shows besides plots: its profile, and tables."""

from IPython.display import Markdown

from bnbook.profiles import current_profile


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
