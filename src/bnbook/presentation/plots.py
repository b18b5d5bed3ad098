"""The few plot functions the chapters share, in one print-friendly style."""

import matplotlib.pyplot as plt
import numpy as np

from bnbook.networks.probes import PROBE_PERCENTILES
from bnbook.presentation.analysis import landscape_series, percentile_series
from bnbook.tooling.figure_check import checked

# Colour-blind-safe colours that also separate in greyscale (dark vs light), plus dashes.
COLORS = {"plain": "#1b4f8a", "bn": "#e08a1e"}
LINESTYLES = {"plain": "-", "bn": "--"}
MARKERS = {"plain": "o", "bn": "s"}


def use_book_style() -> None:
    """Vector figures (SVG for HTML, PDF for print) whose text prints at 9-11 pt.

    A figure 6.4 in wide prints at its own size (the PDF's text block is 6.5 in), so
    these sizes are the printed sizes; a wider figure is scaled down to the text block,
    and the PDF tests fail any figure text that prints under 7 pt.
    """
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("svg", "pdf")
    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "font.size": 10,
            "axes.titlesize": 10,
            "axes.labelsize": 10,
            "xtick.labelsize": 9,
            "ytick.labelsize": 9,
            "legend.fontsize": 9,
            "legend.title_fontsize": 9,
            "figure.titlesize": 11,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.fonttype": "none",
            "pdf.fonttype": 42,  # TrueType: text stays text, so its printed size is measurable
        }
    )


def digit_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 8):
    """The first `per_class` examples of each digit, one row per class."""
    fig, axes = plt.subplots(10, per_class, figsize=(per_class * 0.55, 10 * 0.55))
    for digit in range(10):
        indices = np.flatnonzero(labels == digit)[:per_class]
        for ax, index in zip(axes[digit], indices, strict=True):
            ax.imshow(images[index], cmap="gray_r", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
        axes[digit][0].set_ylabel(str(digit), rotation=0, labelpad=10, va="center")
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def moving_average(values, window: int) -> np.ndarray:
    """Trailing mean over `window` values (shorter at the start); a NaN (a diverged run)
    makes every later value NaN."""
    values = np.asarray(values, dtype=np.float64)
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    end = np.arange(1, len(values) + 1)
    start = np.maximum(0, end - max(1, window))
    return (cumsum[end] - cumsum[start]) / (end - start)


def style(batch_norm: bool) -> dict:
    """Line colour and dash of an arm (the same in every figure)."""
    key = "bn" if batch_norm else "plain"
    return {"color": COLORS[key], "linestyle": LINESTYLES[key]}


def marker(batch_norm: bool) -> str:
    """Marker of an arm (the same in every figure)."""
    return MARKERS["bn" if batch_norm else "plain"]


def loss_curves(runs: dict, window: int = 50, ax=None, title: str | None = None):
    """Training loss per iteration (seed 0 raw, light) and its moving average (mean
    over seeds), with the validation loss at each evaluation as markers.

    `runs`: {label: (batch_norm, [record per seed])}.
    """
    alone = ax is None  # a figure of its own: checked here
    if alone:
        _, ax = plt.subplots()
    for label, (batch_norm, records) in runs.items():
        s = style(batch_norm)
        raw = np.asarray(records[0]["losses"])
        steps = np.arange(1, len(raw) + 1)
        ax.plot(steps, raw, color=s["color"], alpha=0.25, linewidth=0.6,
                label=f"{label}: every batch (seed 0)")  # fmt: skip
        mean = np.mean([r["losses"] for r in records], axis=0)
        ax.plot(steps, moving_average(mean, window), label=f"{label}: train (avg)", **s)
        eval_steps = [e["step"] for e in records[0]["evals"]]
        val = np.mean([[e["val_loss"] for e in r["evals"]] for r in records], axis=0)
        ax.plot(eval_steps, val, marker=marker(batch_norm), linestyle="none", color=s["color"],
                markerfacecolor="white", label=f"{label}: validation")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("iteration (mini-batch)")
    ax.set_ylabel("cross-entropy loss (nats)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    if alone:
        checked(ax.figure)
    return ax


def sweep_curves(records: list[dict], tail: int = 50):
    """Final training loss and validation accuracy against the learning rate, BN on and
    off: the median over seeds, each seed as a small dot (a diverged run's loss is not
    finite: it is drawn at the top of the panel, marked x)."""
    # 6.4 in wide: printed at its own size, so no text shrinks below the style's 9 pt.
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(6.4, 3.8))
    top = 1e2
    for batch_norm in (False, True):
        runs = [r for r in records if r["config"]["batch_norm"] == batch_norm]
        lrs = sorted({r["config"]["lr"] for r in runs})
        loss = {lr: [_finite_or(np.mean(r["losses"][-tail:]), top) for r in runs
                     if r["config"]["lr"] == lr] for lr in lrs}  # fmt: skip
        acc = {lr: [100 * r["val_accuracy"] for r in runs if r["config"]["lr"] == lr] for lr in lrs}
        label = "with batch norm" if batch_norm else "without"
        s, m = style(batch_norm), marker(batch_norm)
        ax_loss.plot(lrs, [np.median(loss[lr]) for lr in lrs], marker=m, label=label, **s)
        ax_acc.plot(lrs, [np.median(acc[lr]) for lr in lrs], marker=m, label=label, **s)
        for lr in lrs:
            diverged = top in loss[lr]
            ax_loss.plot([lr] * len(loss[lr]), loss[lr], "x" if diverged else ".",
                         color=s["color"], markersize=4,
                         label=f"{label}: {'diverged' if diverged else SEED_LABEL}")  # fmt: skip
            ax_acc.plot([lr] * len(acc[lr]), acc[lr], ".", color=s["color"], markersize=4,
                        label=f"{label}: {SEED_LABEL}")  # fmt: skip
            if diverged:  # say so where the point would be, not only in the caption
                ax_loss.annotate(f"{label}:\ndiverged", (lr, top), xytext=(-4, -4),
                                 textcoords="offset points", ha="right", va="top",
                                 fontsize=8, color=s["color"])  # fmt: skip
    for ax in (ax_loss, ax_acc):
        ax.set_xscale("log")
        ax.set_xlabel("learning rate (plain SGD)")
    ax_loss.set_yscale("log")
    ax_loss.set_ylabel(f"training loss,\nlast {tail} steps (nats)")
    ax_acc.set_ylabel(f"validation accuracy (%)\nafter {records[0]['steps']} steps")
    # One legend for both panels, under them: in a panel it hid the "diverged" note.
    shown = {}
    for ax in (ax_loss, ax_acc):
        shown.update(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    fig.legend(shown.values(), shown.keys(), loc="lower center", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return checked(fig)


def _finite_or(value: float, instead: float) -> float:
    return float(value) if np.isfinite(value) else instead


def percentile_bands(ax, record: dict, layer: str, unit: str = "all", label: str = ""):
    """The 15th, 50th and 85th percentiles of a nonlinearity's input over training."""
    steps = [p["step"] for p in record["probes"]]
    p15, p50, p85 = (percentile_series(record, layer, q, unit) for q in (15, 50, 85))
    s = style(record["config"]["batch_norm"])
    ax.fill_between(steps, p15, p85, color=s["color"], alpha=0.2)
    ax.plot(steps, p50, label=label or "median", **s)
    ax.plot(steps, p15, color=s["color"], linewidth=0.7, label="15th, 85th percentile")
    ax.plot(steps, p85, color=s["color"], linewidth=0.7, label="_band edge")
    ax.set_xlabel("iteration")
    return ax


LAYER_MARKERS = ("o", "s", "^", "D", "v", "P")  # one per layer: readable in greyscale
SEED_LABEL = "each seed"  # the small dots: one legend entry however many are drawn


def grad_norms(ax, records: list[dict], title: str):
    """Gradient norm of each layer's weights at every evaluation: the geometric mean over
    seeds (line, one marker per layer) and the range over seeds (band)."""
    steps = [p["step"] for p in records[0]["probes"]]
    names = list(records[0]["probes"][0]["grad_norms"])
    s = style(records[0]["config"]["batch_norm"])
    for i, name in enumerate(names):
        values = np.array([[p["grad_norms"][name] for p in r["probes"]] for r in records])
        ax.fill_between(steps, values.min(0), values.max(0), color="0.5", alpha=0.15)
        ax.plot(steps, np.exp(np.log(values).mean(0)), color="black" if i % 2 else s["color"],
                linestyle=s["linestyle"], marker=LAYER_MARKERS[i % len(LAYER_MARKERS)],
                markersize=4, label=f"layer {i + 1}")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    return ax


def batch_size_bars(ax, records: dict):
    """Validation accuracy per batch size, BN on and off: mean over seeds, seeds as dots.

    `records`: {(batch size, batch_norm): [record per seed]}.
    """
    sizes = sorted({b for b, _ in records})
    for batch_norm in (False, True):
        means = [100 * np.mean([r["val_accuracy"] for r in records[b, batch_norm]]) for b in sizes]
        label = "with batch norm" if batch_norm else "without"
        ax.plot(sizes, means, marker=marker(batch_norm), label=label, **style(batch_norm))
        for b in sizes:
            accs = [100 * r["val_accuracy"] for r in records[b, batch_norm]]
            ax.plot([b] * len(accs), accs, ".", color=style(batch_norm)["color"], markersize=4,
                    label=f"{label}: {SEED_LABEL}")  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.set_xlabel("batch size (same number of steps each)")
    ax.set_ylabel("validation accuracy (%)")
    legend_once(ax)
    return ax


def accuracy_curves(ax, runs: dict):
    """Validation accuracy at each evaluation, mean over seeds; `runs`: {label: [record]}."""
    for label, records in runs.items():
        steps = [e["step"] for e in records[0]["evals"]]
        acc = np.mean([[100 * e["val_accuracy"] for e in r["evals"]] for r in records], axis=0)
        ax.plot(steps, acc, label=label, **style(records[0]["config"]["batch_norm"]))
    ax.set_xlabel("training step")
    ax.set_ylabel("validation accuracy (%)")
    ax.legend(fontsize=8)
    return ax


def gamma_bands(ax, record: dict, layer: str):
    """The 15th, 50th and 85th percentiles of a batch-norm layer's gamma over training."""
    steps = [p["step"] for p in record["probes"]]
    column = {q: PROBE_PERCENTILES.index(q) for q in (15, 50, 85)}
    values = np.array([p["scale_and_shift"][layer]["gamma"] for p in record["probes"]])
    s = style(True)
    ax.fill_between(
        steps, values[:, column[15]], values[:, column[85]], color=s["color"], alpha=0.2
    )
    ax.plot(steps, values[:, column[50]], label=r"median $\gamma$", **s)
    ax.set_xlabel("iteration")
    ax.set_ylabel(r"$\gamma$ (15th, 50th, 85th percentile)")
    return ax


def landscape_curves(ax, runs: dict, quantity: str = "loss_range"):
    """Along -gradient at each probe: the range of the loss over the step sizes
    ("loss_range") or the relative gradient change at the largest step ("grad_change").

    `runs`: {label: record}.
    """
    for label, record in runs.items():
        steps = [p["step"] for p in record["probes"]]
        values = landscape_series(record, quantity)
        ax.plot(steps, values, label=label, **style(record["config"]["batch_norm"]))
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss range along -gradient (nats)" if quantity == "loss_range"
                  else "relative gradient change")  # fmt: skip
    ax.legend(fontsize=8)
    return ax


def legend_once(ax, **kwargs):
    """A legend with one entry per label (the per-seed dots are drawn once per setting)."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=8, **kwargs)


def batch_size_figure(records: dict):
    """Validation accuracy per batch size (see batch_size_bars), a figure of its own."""
    fig, ax = plt.subplots(figsize=(6.4, 2.8))
    batch_size_bars(ax, records)
    fig.tight_layout()
    return checked(fig)


def grad_norm_figure(plain: list[dict], bn: list[dict]):
    """Each layer's gradient norm, without batch norm (left) and with it (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(6.4, 3.4), sharey=True)
    grad_norms(axes[0], plain, "without batch norm")
    grad_norms(axes[1], bn, "with batch norm")
    axes[0].set_ylabel("gradient norm of the weights")
    fig.tight_layout()
    return checked(fig)


def distribution_figure(plain: dict, bn: dict, layer: str):
    """A layer's ReLU input over training without and with batch norm, and its gamma."""
    fig, axes = plt.subplots(1, 3, figsize=(6.4, 3.0))
    percentile_bands(axes[0], plain, layer)
    percentile_bands(axes[1], bn, layer)
    axes[1].sharey(axes[0])
    gamma_bands(axes[2], bn, layer)
    for ax, title in zip(axes, ("without BN", "with BN", "with BN: gamma"), strict=True):
        ax.set_title(title)
        ax.legend(fontsize=7.5, loc="lower right")
    axes[0].set_ylabel("input to ReLU")
    fig.tight_layout()
    return checked(fig)


def figure1_figure(plain: list[dict], bn: list[dict], layer: str):
    """Ioffe and Szegedy's Figure 1: (a) accuracy, (b, c) a sigmoid's input without and
    with batch norm."""
    fig, axes = plt.subplots(1, 3, figsize=(6.4, 3.0))
    accuracy_curves(axes[0], {"without BN": plain, "with BN": bn})
    percentile_bands(axes[1], plain[0], layer, unit="unit0")
    percentile_bands(axes[2], bn[0], layer, unit="unit0")
    axes[2].sharey(axes[1])
    for ax, title in zip(axes, ("(a)", "(b) without BN", "(c) with BN"), strict=True):
        ax.set_title(title)
    for ax in axes[1:]:
        ax.legend(fontsize=7.5, loc="lower right")
    axes[1].set_ylabel("input to a sigmoid")
    fig.tight_layout()
    return checked(fig)


def landscape_figure(pairs: dict):
    """The loss range along -gradient, without and with batch norm, one panel per pair;
    `pairs`: {title: (record without, record with)}."""
    fig, axes = plt.subplots(1, len(pairs), figsize=(6.4, 3.4))
    for ax, (title, (plain, bn)) in zip(axes, pairs.items(), strict=True):
        landscape_curves(ax, {"without BN": plain, "with BN": bn})
        ax.set_title(title)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.tight_layout()
    return checked(fig)
