"""What a results page shows besides plots: its profile, and tables."""

import time

from IPython.display import Markdown

from bnbook.runs.profiles import current_profile


def page_records(chapter: str) -> list[dict]:
    """The stored records of a chapter of `runs.studies.chapter_configs()` (never trains)."""
    from bnbook.runs.experiments import record_key
    from bnbook.runs.records import RecordStore
    from bnbook.runs.studies import chapter_configs

    store, profile = RecordStore(), current_profile()
    records = (store.get(record_key(c, profile)) for c in chapter_configs()[chapter])
    return [r for r in records if r is not None]


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

    `page`: a chapter title of `runs.studies.chapter_configs()` (its records are
    read from the store), or the list of records the page shows; the smoke
    profile's note warns that its numbers are not results.
    """
    records = page_records(page) if isinstance(page, str) else list(page or [])
    where = provenance_sentence(records)
    profile = current_profile()
    if profile.name == "smoke":
        return Markdown(
            ":::{warning}\nSmoke profile: the numbers on this page come from tiny subsets of "
            f"MNIST ({profile.train_examples} training and {profile.test_examples} test images) "
            "and a few training steps. They test the machinery; they are not results. "
            f"{where}\n:::"
        )
    return Markdown(
        f":::{{note}}\nFull profile: all 60,000 training and 10,000 test images. {where}\n:::"
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
