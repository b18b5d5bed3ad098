"""Every training run the book's chapters read, by chapter, and how settings are chosen.

Each comparison with and without batch norm is two *arms*: the same base
config, batch norm off and on. Both arms go through the same selection
(`runs.selection`): the learning rate from the same grid of one-epoch runs,
then (CNN) the augmentation at full length, all on validation, seed 0. The
final runs then train at the chosen settings with every seed of the profile
and are evaluated once on the test set. A third, *shared-rate* arm trains
with batch norm at the rate chosen without it, so the gap splits into what
batch norm does at one rate and what the higher rate it allows adds.

The build plans and trains these first (with progress in the terminal); the
notebooks call the same functions, so the configs a chapter shows are the
ones that were trained.
"""

import math
from dataclasses import replace

from bnbook.runs.config import Config
from bnbook.runs.experiments import run_or_load
from bnbook.runs.precision import best_precision
from bnbook.runs.profiles import current_profile
from bnbook.runs.selection import NotReady, Planner, Search, Selection, select
from bnbook.runs.split import VALIDATION_SIZE

PRECISION = best_precision()
ONE_EPOCH = math.ceil((60000 - VALIDATION_SIZE) / 128)  # steps of 128 images (full profile)

# 4.1 and 4.2: three ReLU hidden layers; with batch norm, our layer before each ReLU.
MLP = Config(
    model="mlp",
    widths=(1024, 512, 256),
    optimizer="adam",
    lr=1e-3,  # a placeholder: each arm's rate is chosen on validation
    schedule="cosine",
    epochs=4,
    batch_size=128,
    precision=PRECISION,
    eval_every=ONE_EPOCH // 2,  # twice an epoch, to watch the distributions move
    probe=True,
)
MLP_SEARCHES = [Search("lr", (3e-4, 1e-3, 3e-3, 1e-2), steps=ONE_EPOCH)]

# 4.3: three 3x3 convolutions (32, 64, 128 filters), each followed by 2x2 max
# pooling, then a dense layer of 128. Adam with cosine decay, 3 epochs (the
# time budget, not tuned). Learning rate chosen from one-epoch runs, then the
# augmentation (random shifts of up to 2 pixels, or none) at full length.
CNN = Config(
    model="cnn",
    widths=(32, "pool", 64, "pool", 128, "pool"),
    dense=(128,),
    optimizer="adam",
    lr=3e-3,  # a placeholder: chosen on validation
    schedule="cosine",
    epochs=3,
    batch_size=128,
    precision=PRECISION,
    probe=True,
)
CNN_SEARCHES = [
    Search("lr", (1e-3, 3e-3, 1e-2, 3e-2), steps=ONE_EPOCH),
    Search("shift", (0, 2)),
]
# With batch norm only: where it goes, after pooling (4x fewer values) or before.
PLACEMENT_SEARCH = Search("bn_placement", ("after_pool", "before_pool"))


ARMS = {  # name: (base config, searches)
    "mlp": (MLP, MLP_SEARCHES),
    "mlp_bn": (replace(MLP, batch_norm=True), MLP_SEARCHES),
    "cnn": (CNN, CNN_SEARCHES),
    "cnn_bn": (replace(CNN, batch_norm=True), CNN_SEARCHES + [PLACEMENT_SEARCH]),
}


def arm(name: str, run=run_or_load) -> Selection:
    """One arm at its selected settings (its selection runs trained if needed)."""
    base, searches = ARMS[name]
    return select(base, searches, run)


def arms(run=run_or_load) -> dict[str, Selection]:
    """Every arm of every comparison at its selected settings."""
    return {name: arm(name, run) for name in ARMS}


def headline(run=run_or_load) -> dict[str, Config]:
    """The comparisons the homework asks for, at the settings chosen on validation."""
    return {name: s.config for name, s in arms(run).items()}


def shared_rate(model: str, run=run_or_load) -> Config:
    """`model` ("mlp" or "cnn") with batch norm, at the learning rate chosen without it."""
    return replace(arm(f"{model}_bn", run).config, lr=arm(model, run).config.lr)


def seeds(config: Config) -> list[Config]:
    """`config` once per seed of the current profile."""
    return [config.with_seed(s) for s in current_profile().seeds]


# 4.2: plain SGD at a fixed rate, 150 steps (a third of an epoch), with and without
# batch norm: which rates train at all.
SWEEP_RATES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
SWEEP_STEPS = 150


def lr_sweep() -> list[Config]:
    """4.2's sweep: plain SGD at each of SWEEP_RATES for SWEEP_STEPS, both arms."""
    base = replace(MLP, optimizer="sgd", schedule="constant", steps=SWEEP_STEPS, probe=False)
    base = replace(base, evaluate_test=False)
    return [replace(base, lr=lr, batch_norm=bn) for bn in (False, True) for lr in SWEEP_RATES]


# 4.2: batch norm's known failure, small batches. Each arm at its chosen rate,
# scaled by sqrt(batch / 128) (Adam's usual rule), one epoch of images.
BATCH_SIZES = (2, 8, 32, 128)


def batch_size_study(run=run_or_load) -> list[Config]:
    """4.2's small-batch study: each MLP arm at its chosen setting, at every BATCH_SIZES."""
    chosen = {name: arm(name, run).config for name in ("mlp", "mlp_bn")}
    return [
        replace(
            chosen[name],
            batch_size=b,
            lr=chosen[name].lr * math.sqrt(b / 128),
            steps=math.ceil((60000 - VALIDATION_SIZE) / b),
            eval_every=None,
            probe=False,
            evaluate_test=False,
        )
        for name in ("mlp", "mlp_bn")
        for b in BATCH_SIZES
    ]


# 4.3: the grid the homework asks for: every optimizer, two depths, batch norm
# on and off; 200 steps each (0.47 epoch), each optimizer at its usual rate,
# no augmentation. An exploration read on validation, not a selection.
GRID_OPTIMIZERS = {"sgd": 0.05, "momentum": 0.01, "rmsprop": 1e-3, "adam": 1e-3}
GRID_DEPTHS = {
    "1 conv": (32, "pool"),
    "2 conv": (32, "pool", 64, "pool"),
}
GRID_STEPS = 200


def cnn_grid() -> list[Config]:
    """4.3's grid: every optimizer x depth x batch norm on/off, GRID_STEPS each."""
    base = replace(CNN, steps=GRID_STEPS, schedule="constant", eval_every=100, shift=0)
    base = replace(base, probe=False, evaluate_test=False)
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


def precision_check(run=run_or_load) -> list[Config]:
    """Both headline CNN arms (seed 0) in float32, where the book trains in bfloat16."""
    if PRECISION == "float32":
        return []
    return [replace(arm(name, run).config, precision="float32") for name in ("cnn", "cnn_bn")]


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


def chapter_configs(run=run_or_load) -> dict:
    """{chapter title: [Config, ...]} in book order: every run each chapter reads."""
    selections = arms(run)
    chosen = {name: s.config for name, s in selections.items()}
    return {
        "4.1 MLP": selections["mlp"].candidates + seeds(chosen["mlp"]),
        "4.2 MLP + batch norm": selections["mlp_bn"].candidates
        + seeds(chosen["mlp_bn"])
        + seeds(shared_rate("mlp", run))
        + lr_sweep()
        + batch_size_study(run),
        "4.3 CNN": selections["cnn"].candidates
        + selections["cnn_bn"].candidates
        + seeds(chosen["cnn"])
        + seeds(chosen["cnn_bn"])
        + seeds(shared_rate("cnn", run))
        + precision_check(run)
        + cnn_grid()
        + [momentum_control()],
        "Figure 1 of Ioffe & Szegedy": [PAPER_MLP, PAPER_MLP_BN],
    }


def runs_to_train_next(is_cached, load) -> list[Config]:
    """The runs the chapters need that are missing and can be trained now.

    Selection is sequential (a search starts from the choices before it), so
    the build trains in rounds: each round, every group of runs whose inputs
    are known contributes its missing runs. An empty list: everything is cached.
    """
    planner = Planner(is_cached, load)
    groups = [
        *(lambda run, name=name: arm(name, run).candidates for name in ARMS),
        lambda run: seeds(arm("mlp", run).config),
        lambda run: seeds(arm("mlp_bn", run).config),
        batch_size_study,
        lambda run: seeds(arm("cnn", run).config),
        lambda run: seeds(arm("cnn_bn", run).config),
        lambda run: seeds(shared_rate("mlp", run)),
        lambda run: seeds(shared_rate("cnn", run)),
        precision_check,
        lambda run: lr_sweep() + cnn_grid() + [momentum_control(), PAPER_MLP, PAPER_MLP_BN],
    ]
    for group in groups:
        try:
            for config in group(planner):
                planner(config)
        except NotReady:
            pass  # its inputs are trained in this round; it joins a later one
    return planner.missing
