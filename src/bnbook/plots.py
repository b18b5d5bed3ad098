"""The few plot functions the chapters share, in one print-friendly style."""

import matplotlib.pyplot as plt
import numpy as np

# Colour-blind-safe colours that also separate in greyscale (dark vs light), plus dashes.
COLORS = {"plain": "#1b4f8a", "bn": "#e08a1e"}
LINESTYLES = {"plain": "-", "bn": "--"}


def use_book_style() -> None:
    """Vector figures (SVG for HTML, PDF for print) with readable fonts."""
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    set_matplotlib_formats("svg", "pdf")
    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 3.6),
            "font.size": 10,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.fonttype": "none",
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
