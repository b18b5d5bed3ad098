"""The experiment plan, declared once: every run each chapter reads, and what decides it.

Each *study* names its chapter and the studies whose records decide its configs
(`needs`). Everything that asks "which runs?" calls `resolve` with a lookup that
only reads stored records, so reading the plan never trains. For power per
CPU-second: matched pairs first (both arms at the pre-declared `MLP`/`CNN`
defaults, the same seeds and so the same batches; the CNN factorial over batch
norm and 2-px shifts); each arm's own best as a second view, changed only by
more than the seed noise (`runs.selection`); run lengths sized to minutes.
"""

import functools
from collections.abc import Callable
from dataclasses import replace

from bnbook.runs import resolution
from bnbook.runs.config import Config
from bnbook.runs.precision import best_precision
from bnbook.runs.profiles import current_profile
from bnbook.runs.resolution import NotTrained, Resolved, Study  # noqa: F401 (the plan's API)
from bnbook.runs.selection import Arm, choose

# Chapters, in book order: their identifiers and titles.
CHAPTERS = {
    "p4_1": "4.1 MLP",
    "p4_2": "4.2 MLP + batch norm",
    "p4_3": "4.3 CNN",
    "fig1": "Figure 1 of Ioffe & Szegedy",
}

# 4.1 and 4.2: three ReLU hidden layers; with batch norm, our layer before each ReLU.
# The defaults every comparison starts from are declared here, before any run.
MLP = Config(
    model="mlp",
    widths=(512, 256, 128),
    optimizer="adam",
    lr=1e-3,  # the default, the middle of the candidates
    schedule="cosine",
    epochs=2,
    batch_size=128,
    eval_every=215,  # twice an epoch (430 steps of 128), to watch the distributions move
    probe=True,
)
MLP_RATES = (3e-4, 1e-3, 3e-3)

# 4.3: two 3x3 convolutions (32, 64 filters), each followed by 2x2 max pooling, then a
# dense layer of 128; Adam with cosine decay for 1.5 epochs of 430 steps (the time
# budget, not tuned), evaluated after each epoch and at the end.
CNN = Config(
    model="cnn",
    widths=(32, "pool", 64, "pool"),
    dense=(128,),
    optimizer="adam",
    lr=3e-3,  # the default, the middle of the candidates
    schedule="cosine",
    steps=645,
    batch_size=128,
    probe=True,
    shift=0,  # the default: no augmentation
    bn_placement="after_pool",  # the default: 4x fewer values to normalize
)
CNN_RATES = (1e-3, 3e-3, 1e-2)
SHIFTS = (0, 2)

# 4.2: plain SGD at a fixed rate for SWEEP_STEPS, both arms: which rates train at all.
SWEEP_RATES = (0.1, 0.3, 1.0, 3.0)
SWEEP_STEPS = 150
# 4.2: batch norm's known failure, small batches: each batch size for BATCH_STEPS
# (a step budget: one epoch at batch 2 is 27,500 steps), rate scaled by sqrt(b / 128).
BATCH_SIZES = (2, 8, 128)
BATCH_STEPS = 400
# 4.3: the homework's "different optimizers, number of convolutional layers": an
# exploration on validation (one seed, GRID_STEPS each), from which no claim is made.
GRID_OPTIMIZERS = {"sgd": 0.05, "momentum": 0.01, "rmsprop": 1e-3, "adam": 1e-3}
GRID_DEPTHS = {"1 conv": (32, "pool"), "2 conv": (32, "pool", 64, "pool")}
GRID_STEPS = 100
# Ioffe & Szegedy (2015), Figure 1: 3 x 100 sigmoid units, batches of 60; the paper
# trains 50,000 steps, we train PAPER_STEPS (its effect shows early). Plain SGD.
PAPER_MLP = Config(
    model="mlp",
    widths=(100, 100, 100),
    activation="sigmoid",
    optimizer="sgd",
    lr=0.5,
    schedule="constant",
    batch_size=60,
    steps=4_000,
    eval_every=400,
    probe=True,
)


@functools.cache
def precision() -> str:
    """The precision this machine trains in (bfloat16 only where native); asked once."""
    return best_precision()


def with_precision(config: Config) -> Config:
    """The config in the precision this machine trains in."""
    return replace(config, precision=precision())


def headline_seeds() -> tuple:
    """The seeds of every matched pair (5 in the full profile)."""
    return current_profile().seeds


def support_seeds() -> tuple:
    """The seeds of the supporting studies (sweep, batch sizes, augmentation): fewer."""
    return current_profile().seeds[: current_profile().support_seeds]


def per_seed(config: Config, seeds) -> list[Config]:
    """`config` once per seed."""
    return [config.with_seed(s) for s in seeds]


def both_arms(config: Config) -> list[Config]:
    """`config` without and with batch norm."""
    return [replace(config, batch_norm=False), replace(config, batch_norm=True)]


def mlp_pair(_=None) -> list[Config]:
    """4.1/4.2's headline: both arms at the default, every headline seed."""
    return [c for arm in both_arms(with_precision(MLP)) for c in per_seed(arm, headline_seeds())]


def cnn_factorial(_=None) -> list[Config]:
    """4.3's headline: batch norm x shift at the defaults; shift 0 with every headline
    seed, shift 2 with the support seeds."""
    base = with_precision(CNN)
    return [
        c
        for shift in SHIFTS
        for arm in both_arms(replace(base, shift=shift))
        for c in per_seed(arm, headline_seeds() if shift == 0 else support_seeds())
    ]


def arms(model: str) -> dict[str, Arm]:
    """The two arms of `model` ("mlp" or "cnn"): each one's default and the values its
    selection may try instead (batch norm's placement only where there is pooling)."""
    base = with_precision(MLP if model == "mlp" else CNN)
    rates = MLP_RATES if model == "mlp" else CNN_RATES
    bn_only = {} if model == "mlp" else {"bn_placement": ("after_pool", "before_pool")}
    return {
        model: Arm(model, replace(base, batch_norm=False), {"lr": rates}),
        f"{model}_bn": Arm(f"{model}_bn", replace(base, batch_norm=True), {"lr": rates, **bn_only}),
    }


def candidates(model: str) -> list[Config]:
    """Every arm's candidates (seed 0, validation only), the defaults aside."""
    return [c for arm in arms(model).values() for c in arm.candidates()]


def own_best(model: str, runs: dict) -> list[Config]:
    """Each arm at the setting its selection chose, every headline seed, where that
    setting is not the default (at the default, the pair's runs are that view)."""
    chosen = [selection(arm, runs) for arm in arms(model).values()]
    return [
        c for s in chosen if s.config != s.arm.default for c in per_seed(s.config, headline_seeds())
    ]


def selection(arm: Arm, runs: dict):
    """`arm`'s choice from the records in `runs` (its pair's seeds give the noise)."""
    noise = [runs[c] for c in per_seed(arm.default, headline_seeds())]
    return choose(arm, {c: runs[c] for c in arm.candidates()}, noise)


def lr_sweep(_=None) -> list[Config]:
    """4.2's sweep: plain SGD at each of SWEEP_RATES for SWEEP_STEPS, both arms, support seeds."""
    base = replace(with_precision(MLP), optimizer="sgd", schedule="constant", steps=SWEEP_STEPS,
                   eval_every=None, evaluate_test=False)  # fmt: skip
    return [c for lr in SWEEP_RATES for arm in both_arms(replace(base, lr=lr))
            for c in per_seed(arm, support_seeds())]  # fmt: skip


def batch_size_study(_=None) -> list[Config]:
    """4.2's small-batch study: both arms at each BATCH_SIZES for BATCH_STEPS, support seeds."""
    base = replace(with_precision(MLP), steps=BATCH_STEPS, eval_every=None, probe=False,
                   evaluate_test=False)  # fmt: skip
    return [
        c
        for b in BATCH_SIZES
        for arm in both_arms(replace(base, batch_size=b, lr=MLP.lr * (b / 128) ** 0.5))
        for c in per_seed(arm, support_seeds())
    ]


def cnn_grid(_=None) -> list[Config]:
    """4.3's grid: every optimizer x depth x batch norm on/off, GRID_STEPS each, seed 0."""
    base = replace(with_precision(CNN), steps=GRID_STEPS, schedule="constant", eval_every=None,
                   probe=False, evaluate_test=False)  # fmt: skip
    return [
        c
        for widths in GRID_DEPTHS.values()
        for opt, lr in GRID_OPTIMIZERS.items()
        for c in both_arms(replace(base, widths=widths, optimizer=opt, lr=lr))
    ]


def figure1(_=None) -> list[Config]:
    """Ioffe & Szegedy's Figure 1 network, both arms, support seeds (float32, as the paper)."""
    return [c for arm in both_arms(PAPER_MLP) for c in per_seed(arm, support_seeds())]


def own_best_study(model: str, chapter: str, pair: str) -> Study:
    """Each arm of `model` at its own best: known once its pair and candidates are stored."""
    return Study(f"{model}_own_best", chapter, lambda runs: own_best(model, runs),
                 needs=(pair, f"{model}_candidates"))  # fmt: skip


STUDIES = (
    Study("mlp_pair", "p4_2", mlp_pair, also_read_by=("p4_1",)),
    Study("mlp_candidates", "p4_2", lambda runs: candidates("mlp")),
    own_best_study("mlp", "p4_2", pair="mlp_pair"),
    Study("lr_sweep", "p4_2", lr_sweep),
    Study("batch_size", "p4_2", batch_size_study),
    Study("cnn_factorial", "p4_3", cnn_factorial),
    Study("cnn_candidates", "p4_3", lambda runs: candidates("cnn")),
    own_best_study("cnn", "p4_3", pair="cnn_factorial"),
    Study("cnn_grid", "p4_3", cnn_grid),
    Study("figure1", "fig1", figure1),
)


def resolve(lookup: Callable) -> Resolved:
    """Every study whose needs are stored, with the records `lookup` finds (never trains)."""
    return resolution.resolve(lookup, STUDIES, CHAPTERS)
