"""Every training run the book's chapters read, by chapter.

The build trains these first (with progress in the terminal); the notebooks
call the same functions, so the configs a chapter plots are exactly the ones
that were trained.
"""


def chapter_configs() -> dict:
    """{chapter title: [Config, ...]} in book order."""
    return {}
