"""Which parts of a notebook cell the printed book leaves out, from the cell's tags: one
rule for the book's PDF (tooling/pages.py) and `make notebook-pdf` (nbconvert_pdf.py).

`remove-*` leaves a part out of every format; `hide-*` collapses it in HTML and leaves
it out of print.
"""

HIDDEN_IN_PRINT = {
    "input": {"remove-input", "remove_input", "hide-input"},
    "output": {"remove-output", "remove_output", "hide-output"},
    "cell": {"remove-cell", "remove_cell", "hide-cell"},
}


def parts_left_out(tags) -> set[str]:
    """{"input", "output"}, either or neither: what print leaves out of a cell so tagged."""
    tags = set(tags or ())
    if tags & HIDDEN_IN_PRINT["cell"]:
        return {"input", "output"}
    return {part for part in ("input", "output") if tags & HIDDEN_IN_PRINT[part]}
