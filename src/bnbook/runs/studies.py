"""Every training run the book's chapters read, by chapter.

The build trains these first (with progress in the terminal); the notebooks
call the same functions, so the configs a chapter plots are exactly the ones
that were trained. Choices are made for accuracy per CPU-second on a 2-core
machine: Adam with cosine decay, bfloat16 where the CPU computes it natively.
The build trains them on one process per core (bnbook.tooling.build).
"""

from dataclasses import replace

from bnbook.runs.experiments import Config
from bnbook.runs.precision import best_precision
from bnbook.runs.profiles import current_profile

PRECISION = best_precision()

# 4.1 and 4.2: three ReLU hidden layers; with batch norm, the same net with our
# layer before each ReLU (and, as batch norm allows, a 3x larger learning rate).
MLP = Config(
    model="mlp",
    widths=(1024, 512, 256),
    optimizer="adam",
    lr=1e-3,
    schedule="cosine",
    epochs=4,
    batch_size=128,
    precision=PRECISION,
    eval_every=235,  # about twice an epoch, to watch the distributions move
    probe=True,
)
MLP_BN = replace(MLP, batch_norm=True, lr=3e-3)
# Plain SGD at a fixed rate, 150 steps (a third of an epoch), with and without batch norm.
SWEEP_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
SWEEP_STEPS = 150


def lr_sweep() -> list[Config]:
    base = replace(MLP, optimizer="sgd", schedule="constant", steps=SWEEP_STEPS, probe=False)
    return [replace(base, lr=lr, batch_norm=bn) for bn in (False, True) for lr in SWEEP_RATES]


# 4.3: the headline CNN (three 3x3 convolutions, each followed by 2x2 max
# pooling, then a dense layer), with and without batch norm. Augmentation:
# random shifts of up to 2 pixels. Chosen in one-seed trial runs of 3 epochs,
# for accuracy per CPU-second: with two convolutions, 99.37% without BN (lr
# 3e-3; 98.91% at 1e-3 without augmentation) and 99.38-99.53% with BN (lr 3e-3
# to 2e-2; 5 epochs did no better); a third convolution cost 1.5x the time and
# gave 99.43% without and 99.54% with BN (vs 99.42% for two on that seed).
CNN = Config(
    model="cnn",
    widths=(32, "pool", 64, "pool", 128, "pool"),
    dense=(128,),
    optimizer="adam",
    lr=3e-3,
    schedule="cosine",
    epochs=3,
    batch_size=128,
    precision=PRECISION,
    shift=2,
)
CNN_BN = replace(CNN, batch_norm=True, lr=1e-2)
# The grid: every optimizer, two depths, batch norm on and off; 200 steps each
# (0.43 epoch), fixed learning rates that are standard for each optimizer, no
# augmentation.
GRID_OPTIMIZERS = {"sgd": 0.05, "momentum": 0.01, "rmsprop": 1e-3, "adam": 1e-3}
GRID_DEPTHS = {
    "1 conv": (32, "pool"),
    "2 conv": (32, "pool", 64, "pool"),
}
GRID_STEPS = 200


def cnn_grid() -> list[Config]:
    base = replace(CNN, steps=GRID_STEPS, schedule="constant", eval_every=100, shift=0)
    return [
        replace(base, widths=widths, optimizer=opt, lr=lr, batch_norm=bn)
        for widths in GRID_DEPTHS.values()
        for opt, lr in GRID_OPTIMIZERS.items()
        for bn in (False, True)
    ]


def momentum_control() -> Config:
    """The grid's 2-conv Adam cell with batch norm, its moving averages at Keras' momentum 0.99."""
    cell = next(c for c in cnn_grid() if c.batch_norm and c.optimizer == "adam"
                and c.widths == GRID_DEPTHS["2 conv"])  # fmt: skip
    return replace(cell, bn_momentum=0.99)


def precision_check() -> list[Config]:
    """The headline CNN + BN (seed 0) in float32, to show what bfloat16 costs in accuracy."""
    return [replace(CNN_BN, precision="float32")] if PRECISION != "float32" else []


# Ioffe & Szegedy (2015), Figure 1: 3 x 100 sigmoid units, batches of 60,
# 50,000 steps. The paper does not name its optimizer; we use plain SGD.
PAPER_MLP = Config(
    model="mlp",
    widths=(100, 100, 100),
    activation="sigmoid",
    optimizer="sgd",
    lr=0.5,
    schedule="constant",
    batch_size=60,
    steps=50_000,
    eval_every=500,
    probe=True,
)
PAPER_MLP_BN = replace(PAPER_MLP, batch_norm=True)


def seeds(config: Config) -> list[Config]:
    return [config.with_seed(s) for s in current_profile().seeds]


def headline() -> dict:
    """The comparisons the homework asks for, each run with every seed of the profile."""
    return {"mlp": MLP, "mlp_bn": MLP_BN, "cnn": CNN, "cnn_bn": CNN_BN}


def chapter_configs() -> dict:
    """{chapter title: [Config, ...]} in book order."""
    return {
        "4.1 MLP": seeds(MLP),
        "4.2 MLP + batch norm": seeds(MLP_BN) + lr_sweep(),
        "4.3 CNN": seeds(CNN)
        + seeds(CNN_BN)
        + precision_check()
        + cnn_grid()
        + [momentum_control()],
        "Figure 1 of Ioffe & Szegedy": [PAPER_MLP, PAPER_MLP_BN],
    }
