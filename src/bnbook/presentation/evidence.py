"""What Problem 4's chapters show, computed from the build's records.

One function per section, each returning its glued facts (name -> text), and the comparisons
summary.json stores. The notebooks glue and draw; every judgement is made here.

Every claim about batch norm is a paired comparison (presentation.comparisons):
the same settings, seeds and batches for both arms, a 95% t-interval over seeds,
and the verdict the interval gives.
"""

import math
import statistics
from dataclasses import replace

import numpy as np

from bnbook.presentation import analysis
from bnbook.presentation.comparisons import paired
from bnbook.runs import plan
from bnbook.runs.experiments import summarize
from bnbook.runs.profiles import current_profile
from bnbook.tables import setting


def book_runs():
    """The plan resolved from the build's records; a one-line error if any is missing."""
    from bnbook.runs.experiments import lookup

    resolved = plan.resolve(lookup())
    if not resolved.complete():
        profile = current_profile().name
        build = "make book" if profile == "full" else f"make {profile}"
        raise plan.NotTrained(
            f"the {profile} profile's records are not all stored ({len(resolved.missing())} "
            f"runs missing, or selections not decided): run `{build}` first"
        )
    return resolved


def records_over_seeds(resolved, config, seeds=None) -> list[dict]:
    """`config`'s records for `seeds` (default: every stored seed), by seed."""
    seeds = plan.headline_seeds() if seeds is None else seeds
    return [resolved.records[config.with_seed(s)] for s in seeds
            if config.with_seed(s) in resolved.records]  # fmt: skip


def arm_records(resolved, base, batch_norm: bool, **fields) -> list[dict]:
    """The records over seeds of `base` with batch norm on or off and `fields` set."""
    return records_over_seeds(resolved, replace(base, batch_norm=batch_norm, **fields))


def points(x: float) -> str:
    """A difference of accuracies (a fraction) in percentage points, signed, 2 decimals;
    3 where 2 would print a non-zero value as "+0.00" or "-0.00" (an interval's end that
    close to 0 decides its verdict, so its sign must show)."""
    shown = f"{100 * x:+.2f}"
    if shown in ("+0.00", "-0.00") and x != 0:
        return f"{100 * x:+.3f}"
    return "0.00" if x == 0 else shown


def interval_text(c) -> str:
    """'+0.12 points (95% CI -0.03 to +0.27; n = 5)'."""
    low, high = c.ci95
    return f"{points(c.mean_difference)} points (95% CI {points(low)} to {points(high)}; " \
           f"n = {len(c.seeds)})"  # fmt: skip


def mean_sd(values: list[float]) -> str:
    """'98.12 ± 0.05%' for accuracies (fractions)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.fmean(values):.2f} ± {100 * sd:.2f}%"


def mlp_base(**fields):
    """The MLP pair's config (batch norm off unless `fields` say), in this CPU's precision."""
    return replace(plan.with_precision(plan.MLP), **fields)


def cnn_base(shift=0, **fields):
    """The CNN factorial's config at `shift`, in this CPU's precision."""
    return replace(plan.with_precision(plan.CNN), shift=shift, **fields)


def first_eval_accuracy(record: dict) -> float:
    """Validation accuracy at the first evaluation (early progress)."""
    return record["evals"][0]["val_accuracy"]


def generalization_gap(record: dict) -> float:
    """Validation minus training-subset loss at the end, in inference mode (nats)."""
    return record["evals"][-1]["val_loss"] - record["evals"][-1]["train_loss"]


def layer_spread(record: dict) -> float:
    """log10 of the largest over the smallest layer's gradient norm, averaged over probes."""
    ratios = []
    for p in record["probes"]:
        norms = list(p["grad_norms"].values())
        ratios.append(math.log10(max(norms) / max(min(norms), 1e-30)))
    return statistics.fmean(ratios)


def comparisons(resolved) -> list:
    """Every paired comparison the chapters report, in book order."""
    mlp, out = mlp_base(), []
    out.append(paired("MLP: batch norm", ("MLP", "MLP + BN"), arm_records(resolved, mlp, False),
                      arm_records(resolved, mlp, True), settings=_settings(mlp)))  # fmt: skip
    for shift in plan.SHIFTS:
        base = cnn_base(shift)
        out.append(paired(f"CNN: batch norm, shift {shift} px", ("CNN", "CNN + BN"),
                          arm_records(resolved, base, False), arm_records(resolved, base, True),
                          settings=_settings(base)))  # fmt: skip
    for bn in (False, True):
        name = f"CNN{' + BN' if bn else ''}: 2-px shifts"
        out.append(paired(name, ("shift 0", "shift 2"), arm_records(resolved, cnn_base(0), bn),
                          arm_records(resolved, cnn_base(2), bn),
                          settings=_settings(replace(cnn_base(), batch_norm=bn))))  # fmt: skip
    return out


def _settings(config) -> dict:
    return {k: v for k, v in config.as_dict().items() if k not in ("seed", "batch_norm")}


def comparison(resolved, name: str):
    return next(c for c in comparisons(resolved) if c.name == name)


def selections(resolved, model: str) -> dict:
    """{arm name: Selection} of `model`'s arms."""
    return {name: plan.selection(arm, resolved.records) for name, arm in plan.arms(model).items()}


def matched_pairs(resolved) -> dict:
    """summary.json's `pairs`: per network, both arms at the matched settings (test accuracy
    per seed, mean, std): the numbers the answers page shows."""
    out = {}
    for net, base in (("mlp", mlp_base()), ("cnn", cnn_base())):
        out[net] = {}
        for arm, bn in (("without", False), ("with", True)):
            records = arm_records(resolved, base, bn)
            text = mean_sd([r["test_accuracy"] for r in records])
            out[net][arm] = {**summarize(records), "text": text}
    return out


def headline(resolved) -> dict:
    """summary.json's `headline`: each arm at its own best, with its selection."""
    out = {}
    for model in ("mlp", "cnn"):
        for name, s in selections(resolved, model).items():
            out[name] = {
                **summarize(records_over_seeds(resolved, s.config)),
                "is_default": s.config == s.arm.default,
                "selected": {row["field"]: row["chosen"] for row in s.rows},
                "selection": s.rows,
                "noise_sd": s.noise_sd,
                "margin_needed": s.margin_needed,
            }
    return out


OWN_BEST_HEADERS = ["arm", "own best", "seeds", "test accuracy"]


def choice_text(row: dict) -> str:
    """One field's choice, as prose: "lr 0.003", "bn_placement after pool"."""
    return f"{row['field']} {setting(row['chosen'])}"


def own_best_rows(resolved, model: str, chosen: dict | None = None) -> tuple[list, object]:
    """Each arm at its own best (test accuracy over seeds), and the paired difference of
    the two own bests (same seeds and data order; the settings may differ).

    `chosen`: the arms' `selections`, if already made."""
    rows, arms = [], []
    for s in (chosen or selections(resolved, model)).values():
        records = records_over_seeds(resolved, s.config)
        arms.append(records)
        choice = ", ".join(choice_text(r) for r in s.rows)
        label = f"{model.upper()}{' + BN' if s.arm.default.batch_norm else ''}"
        rows.append([label, choice, str(len(records)),
                     mean_sd([r["test_accuracy"] for r in records])])  # fmt: skip
    c = paired(f"{model.upper()}: each arm at its own best", ("", ""), arms[0], arms[1])
    return rows, c


def effect_phrase(verdict: str, subject: str) -> str:
    """A verdict as the predicate of a sentence: "helped the plain CNN", "made no
    difference beyond the seed noise to the plain CNN"."""
    if verdict == "within noise":
        return f"made no difference beyond the seed noise to {subject}"
    return f"{verdict} {subject}"


def selection_facts(resolved, model: str, prefix: str) -> dict:
    """Glued: the noise margin per arm and whether each arm kept its default."""
    facts, chosen = {}, selections(resolved, model)
    for name, s in chosen.items():
        key = f"{prefix}_{'bn' if name.endswith('_bn') else 'plain'}"
        facts[f"{key}_noise"] = f"{100 * s.noise_sd:.2f}"
        facts[f"{key}_needed"] = f"{100 * s.margin_needed:.2f}"
        changed = [choice_text(r) for r in s.rows if r["chosen"] != r["default"]]
        facts[f"{key}_choice"] = (
            ("changed " + ", ".join(changed)) if changed else "kept its defaults"
        )
        facts[f"{key}_lr"] = f"{s.config.lr:g}"
    same = all(s.config == s.arm.default for s in chosen.values())
    facts[f"{prefix}_own_best"] = (
        "both arms kept their defaults, so each arm's own best is the matched pair itself"
        if same else "an arm that changed a setting trained it again with every seed"
    )  # fmt: skip
    c = own_best_rows(resolved, model, chosen)[1]
    facts[f"{prefix}_own_diff"] = interval_text(c)
    facts[f"{prefix}_own_verdict"] = c.verdict
    return facts


def layer_facts() -> dict:
    """Our batch-norm layer's settings as the runs use them."""
    from bnbook.networks.batchnorm import BatchNorm

    return {"p42_momentum": str(plan.MLP.bn_momentum), "p42_eps": f"{BatchNorm().epsilon:g}"}


def mlp_facts(resolved) -> dict:
    """4.1's answer: the plain MLP at its setting, every seed."""
    records = arm_records(resolved, mlp_base(), False)
    gap = analysis.generalization_gap(records)
    first = records[0]["evals"][0]
    per_epoch = round(first["step"] / first["epoch"])
    losses = np.asarray([r["losses"] for r in records])
    factor = losses[:, :20].mean() / losses[:, per_epoch - 50 : per_epoch].mean()
    return {
        "p41_acc": mean_sd([r["test_accuracy"] for r in records]),
        "p41_val": mean_sd([r["val_accuracy"] for r in records]),
        "p41_lr": f"{mlp_base().lr:g}",
        "p41_epochs": str(mlp_base().epochs),
        "p41_steps": str(records[0]["steps"]),
        "p41_seeds": str(len(records)),
        "p41_time": f"{statistics.fmean(r['wall_time_s'] for r in records):.0f} s",
        "p41_train_loss": f"{gap['train_loss']:.4f}",
        "p41_val_loss": f"{gap['val_loss']:.4f}",
        "p41_first_factor": f"{factor:.0f}",
        "p41_drop": f"{statistics.fmean(analysis.epoch_boundary_drop(r) for r in records):.3f}",
        "p4_precision": mlp_base().precision,
        "p4_support_seeds": str(len(plan.support_seeds())),
    }


def pair_facts(resolved, model: str, prefix: str) -> dict:
    """A pair's accuracies, its comparison, early progress, generalization gap and the
    spread of gradient norms over layers, each paired over seeds."""
    base = mlp_base() if model == "mlp" else cnn_base()
    plain, bn = arm_records(resolved, base, False), arm_records(resolved, base, True)
    name = "MLP: batch norm" if model == "mlp" else "CNN: batch norm, shift 0 px"
    headline_c = comparison(resolved, name)
    early = paired("early", ("", ""), plain, bn, first_eval_accuracy)
    gap = paired("gap", ("", ""), plain, bn, generalization_gap, words=("smaller", "larger"))
    spread = paired("spread", ("", ""), plain, bn, layer_spread, words=("smaller", "larger"))
    gaps = [[generalization_gap(r) for r in arm] for arm in (plain, bn)]
    spreads = [[10 ** layer_spread(r) for r in arm] for arm in (plain, bn)]
    return {
        f"{prefix}_plain_acc": mean_sd([r["test_accuracy"] for r in plain]),
        f"{prefix}_bn_acc": mean_sd([r["test_accuracy"] for r in bn]),
        f"{prefix}_diff": interval_text(headline_c),
        f"{prefix}_verdict": headline_c.verdict,
        f"{prefix}_lr": f"{base.lr:g}",
        f"{prefix}_seeds": str(len(plain)),
        f"{prefix}_first_step": str(plain[0]["evals"][0]["step"]),
        f"{prefix}_plain_first": mean_sd([first_eval_accuracy(r) for r in plain]),
        f"{prefix}_bn_first": mean_sd([first_eval_accuracy(r) for r in bn]),
        f"{prefix}_early_diff": interval_text(early),
        f"{prefix}_early_verdict": early.verdict,
        f"{prefix}_plain_gap": f"{statistics.fmean(gaps[0]):.4f}",
        f"{prefix}_bn_gap": f"{statistics.fmean(gaps[1]):.4f}",
        f"{prefix}_gap_ci": _ci_plain(gap, 4),
        f"{prefix}_gap_verdict": gap.verdict,
        f"{prefix}_gap_phrase": phrase(gap, "the gap between validation and training loss"),
        f"{prefix}_spread_phrase": phrase(spread, "the spread of gradient norms across layers"),
        f"{prefix}_plain_spread": f"{statistics.fmean(spreads[0]):.1f}",
        f"{prefix}_bn_spread": f"{statistics.fmean(spreads[1]):.1f}",
        f"{prefix}_spread_ci": _ci_plain(spread, 2, "log10 "),
        f"{prefix}_spread_verdict": spread.verdict,
    }


def phrase(c, what: str) -> str:
    """'<what> was smaller with batch norm' or '<what> did not differ beyond the seed noise'."""
    if c.verdict == "within noise":
        return f"{what} did not differ beyond the seed noise"
    return f"{what} was {c.verdict} with batch norm"


def _ci_plain(c, digits: int, unit: str = "") -> str:
    low, high = c.ci95
    return (f"{unit}{c.mean_difference:+.{digits}f} (95% CI {low:+.{digits}f} to "
            f"{high:+.{digits}f}; n = {len(c.seeds)})")  # fmt: skip


def cnn_facts(resolved) -> dict:
    """4.3's factorial: batch norm with and without shifts, and the shifts' own effect."""
    facts = pair_facts(resolved, "cnn", "p43")
    for c in comparisons(resolved):
        key = {"CNN: batch norm, shift 2 px": "bn_shift2", "CNN: 2-px shifts": "shift_plain",
               "CNN + BN: 2-px shifts": "shift_bn"}.get(c.name)  # fmt: skip
        if key:
            facts[f"p43_{key}_diff"] = interval_text(c)
            facts[f"p43_{key}_verdict"] = c.verdict
    subjects = {"shift_plain": "the plain CNN", "shift_bn": "the CNN with batch norm"}
    for key, subject in subjects.items():
        facts[f"p43_{key}_effect"] = effect_phrase(facts[f"p43_{key}_verdict"], subject)
    shifted = [arm_records(resolved, cnn_base(2), bn) for bn in (False, True)]
    facts["p43_plain_shift_acc"] = mean_sd([r["test_accuracy"] for r in shifted[0]])
    facts["p43_bn_shift_acc"] = mean_sd([r["test_accuracy"] for r in shifted[1]])
    facts["p43_epochs"] = f"{arm_records(resolved, cnn_base(), False)[0]['evals'][-1]['epoch']:.1f}"
    facts["p43_shift_seeds"] = str(len(shifted[0]))
    return facts


def sweep_rows(resolved) -> tuple[list, list, dict]:
    """4.2's sweep: (table headers, rows, facts). Per rate and arm: how many seeds
    trained, the median final loss and the median activation spread at the end."""
    records = [resolved.records[c] for c in plan.lr_sweep()]
    seeds = len(plan.support_seeds())
    layer = f"act_in_{len(plan.MLP.widths) - 1}"
    rows, trains_all = [], {False: [], True: []}
    for lr in plan.SWEEP_RATES:
        row = [f"{lr:g}"]
        for bn in (False, True):
            runs = [
                r for r in records if r["config"]["lr"] == lr and r["config"]["batch_norm"] == bn
            ]
            outcomes = [analysis.sweep_outcome(r) for r in runs]
            if outcomes.count("trains") == len(runs):
                trains_all[bn].append(lr)
            scale = statistics.median(activation_scale(r, layer) for r in runs)
            row += [f"{outcomes.count('trains')}/{len(runs)}",
                    "non-finite" if not math.isfinite(scale) else f"{scale:.3g}"]  # fmt: skip
        rows.append(row)
    headers = ["rate", "trained (no BN)", "activation spread (no BN)", "trained (BN)",
               "activation spread (BN)"]  # fmt: skip
    facts = {
        "p42_sweep_steps": str(plan.SWEEP_STEPS),
        "p42_sweep_seeds": str(seeds),
        "p42_plain_rates": ", ".join(f"{r:g}" for r in trains_all[False]) or "none",
        "p42_bn_rates": ", ".join(f"{r:g}" for r in trains_all[True]) or "none",
        "p42_max_plain": f"{max(trains_all[False], default=0):g}",
        "p42_max_bn": f"{max(trains_all[True], default=0):g}",
        "p42_runaway": _runaway_sentence(records, layer),
    }
    tolerates = max(trains_all[True], default=0) > max(trains_all[False], default=0)
    facts["p42_tolerates"] = (
        "trained at larger rates than the plain MLP" if tolerates
        else "did not train at a larger rate than the plain MLP"
    )  # fmt: skip
    return headers, rows, facts


def activation_scale(record: dict, layer: str) -> float:
    """The 15th-85th percentile range of `layer`'s pre-activations at the end (inf if NaN)."""
    last = record["probes"][-1]["activations"][layer]["all"]
    spread = last[-1] - last[0] if len(last) >= 2 else float("nan")
    return spread if math.isfinite(spread) else float("inf")


def _runaway_sentence(records: list[dict], layer: str) -> str:
    """Whether the plain runs that diverged ended with activations far larger than the
    runs that trained (10x their median spread, or non-finite)."""
    plain = [r for r in records if not r["config"]["batch_norm"]]
    trained = [activation_scale(r, layer) for r in plain if analysis.sweep_outcome(r) == "trains"]
    diverged = [activation_scale(r, layer) for r in plain
                if analysis.sweep_outcome(r) == "diverged"]  # fmt: skip
    if not diverged:
        return "no plain run diverged, so there is no runaway to measure"
    bar = 10 * statistics.median(trained) if trained else 0.0
    ran_away = sum(1 for s in diverged if not math.isfinite(s) or s > bar)
    return (f"{ran_away} of the {len(diverged)} plain runs that diverged ended with "
            f"pre-activations {'non-finite or ' if trained else ''}over 10 times the spread of "
            f"the runs that trained")  # fmt: skip


def batch_size_comparisons(resolved) -> list:
    """4.2's small batches: batch norm against none at each batch size, on validation."""
    out = []
    for config in plan.batch_size_study()[:: 2 * len(plan.support_seeds())]:
        base = config.with_seed(0)
        plain = records_over_seeds(resolved, replace(base, batch_norm=False), plan.support_seeds())
        bn = records_over_seeds(resolved, replace(base, batch_norm=True), plan.support_seeds())
        out.append(paired(f"MLP: batch norm at batch size {base.batch_size}", ("MLP", "MLP + BN"),
                          plain, bn, "val_accuracy", settings=_settings(base)))  # fmt: skip
    return out


def batch_size_facts(resolved) -> dict:
    smallest = batch_size_comparisons(resolved)[0]
    return {
        "p42_batch_steps": str(plan.BATCH_STEPS),
        "p42_small_batch": str(min(plan.BATCH_SIZES)),
        "p42_small_diff": interval_text(smallest),
        "p42_small_verdict": smallest.verdict,
    }


def comparison_rows(items) -> list[list]:
    """Table rows: name, seeds, mean difference, 95% CI, verdict."""
    return [[c.name, str(len(c.seeds)), points(c.mean_difference),
             f"{points(c.ci95[0])} to {points(c.ci95[1])}", c.verdict] for c in items]  # fmt: skip


COMPARISON_HEADERS = ["comparison", "seeds", "mean difference (points)", "95% CI", "verdict"]


def grid_rows(resolved) -> list[list]:
    """4.3's exploration: validation accuracy per depth, optimizer and batch norm (seed 0)."""
    rows = []
    for name, widths in plan.GRID_DEPTHS.items():
        for opt, lr in plan.GRID_OPTIMIZERS.items():
            acc = [resolved.records[c]["val_accuracy"] for c in plan.cnn_grid()
                   if c.widths == widths and c.optimizer == opt]  # fmt: skip
            rows.append([name, opt, f"{lr:g}", f"{100 * acc[0]:.2f}%", f"{100 * acc[1]:.2f}%"])
    return rows


def figure1_facts(resolved) -> dict:
    """The Figure 1 rerun over its seeds, and the landscape test on it and on 4.2's pair."""
    plain, bn = (
        records_over_seeds(resolved, c, plan.support_seeds())
        for c in plan.both_arms(plan.PAPER_MLP)
    )
    target = 0.95

    def steps_to_target(r):
        return analysis.steps_to_reach(r, target) or r["steps"] * 2  # never: twice the run

    steps = paired("steps", ("", ""), plain, bn, steps_to_target, words=("fewer", "more"))
    facts = {
        "fig1_lr": f"{plan.PAPER_MLP.lr:g}",
        "fig1_steps": f"{plan.PAPER_MLP.steps:,}",
        "fig1_seeds": str(len(plain)),
        "fig1_target": f"{target:.0%}",
        "fig1_plain_acc": mean_sd([r["test_accuracy"] for r in plain]),
        "fig1_bn_acc": mean_sd([r["test_accuracy"] for r in bn]),
        "fig1_steps_diff": f"{steps.mean_difference:+.0f} (95% CI {steps.ci95[0]:+.0f} to "
        f"{steps.ci95[1]:+.0f}; n = {len(steps.seeds)})",  # fmt: skip
        "fig1_steps_verdict": steps.verdict,
        "fig1_momentum": str(plan.PAPER_MLP.bn_momentum),
    }
    mlp = mlp_base()
    pairs = {"fig1": (plain, bn), "mlp": (arm_records(resolved, mlp, False),
                                          arm_records(resolved, mlp, True))}  # fmt: skip
    for key, (a, b) in pairs.items():
        for quantity in ("loss_range", "grad_change"):
            c = paired(quantity, ("", ""), a, b,
                       lambda r, q=quantity: analysis.landscape_summary(r)[q],
                       words=("smaller", "larger"))  # fmt: skip
            facts[f"land_{key}_{quantity}"] = _ci_plain(c, 3)
            facts[f"land_{key}_{quantity}_verdict"] = c.verdict
    return facts


def study_costs(resolved) -> list[list]:
    """Per study: its chapter, runs, seeds per arm, and the worker time its records took."""
    rows = []
    for study in plan.STUDIES:
        configs = resolved.configs.get(study.name, [])
        if not configs:
            continue
        seeds = len({c.seed for c in configs})
        seconds = sum(resolved.records[c]["wall_time_s"] for c in configs)
        rows.append([study.name.replace("_", " "), plan.CHAPTERS[study.chapter], str(len(configs)),
                     str(seeds), f"{seconds:.0f}"])  # fmt: skip
    return rows


STUDY_COST_HEADERS = ["study", "chapter", "runs", "seeds", "worker time (s)"]
