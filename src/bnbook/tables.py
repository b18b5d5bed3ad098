"""One Markdown table writer, for the derivation checks and the results pages alike."""


def markdown(headers: list, rows: list[list]) -> str:
    """A Markdown pipe table (MyST renders it in the HTML and in the LaTeX/PDF book)."""
    lines = ["| " + " | ".join(str(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
