"""One Markdown table writer, for the derivation checks and the results pages alike,
and how a setting reads in a cell or a sentence."""


def markdown(headers: list, rows: list[list]) -> str:
    """A Markdown pipe table (MyST renders it in the HTML and in the LaTeX/PDF book)."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def setting(value) -> str:
    """A candidate value as prose: 0.003 -> "0.003", "after_pool" -> "after pool"."""
    return f"{value:g}" if isinstance(value, int | float) else str(value).replace("_", " ")
