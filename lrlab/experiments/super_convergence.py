"""Super-convergence (Smith & Topin 2017) and the LR range test, on CIFAR-10.

The paper's protocol (its repository's solver files): ResNet-56, total batch 1000, flip-only
augmentation, SGD with momentum 0.9, weight decay 1e-4, BatchNorm moving-average fraction 0.95
(torch momentum 0.05). One cycle: linear 0.1 -> 3.0 -> 0.1 over 10,000 iterations. Baseline:
piecewise constant 0.35, x0.1 at 5/8 and 7/8 (the paper: 50k and 70k of 80k iterations). The
modern recipe (Smith 2018, fastai): batch 512, crop+flip, one-cycle 0.08 -> 0.8 with momentum
0.95 -> 0.85, 95 epochs, against step schedules at 1x, 2x and 4x the epochs.

`parts(profile)` names what each run is for (a run can serve several parts); `runs` is their union.
"""
from dataclasses import replace

import numpy as np

from lrlab.config import RunConfig
from lrlab.experiments import Chunk, train_images, union_of_chunks
from lrlab.lr_finder import RULES, range_test_config, smoothed, suggestions
from lrlab.names import MODEL_LABELS
from lrlab.stats import expected_best_in_sds, listed, mean_sd, percent_or_nan, plain_number
from lrlab.verdict import CONFIRMED, CONTRADICTED, NO_RULE, NOT_RESOLVED, PaperClaim, Verdict

SETTINGS = {
    # model, images/class, test/class, batch, one-cycle steps, budget-curve steps, modern batch, modern epochs,
    # the step schedule's epoch multiples, range-test steps (loss form), range-test steps (accuracy form),
    # trace_every (accuracy form), seeds of the one cycle and of the baseline.
    # budgets: the paper's 2k, 6k and 20k-iteration cycles beside the 10k headline, in proportion to `steps`
    # gpu: the headline pair first on ResNet-20 (`first_model`, whose pair the authors' logs report), the
    # peak and constant sweeps on ResNet-20 with 2k-iteration cycles (`sweep_model`, `sweep_steps`), and
    # ResNet-56 (the paper's headline, budget curve and modern recipe) in the later chunks.
    "smoke": dict(model="resnet8", per_class=20, test_per_class=5, batch=50, steps=8, budgets=(4, 16),
                  modern_batch=25, modern_epochs=2, step_multiples=(1, 2, 4), range_steps=12, accuracy_steps=12,
                  accuracy_every=4, seeds=2, baseline_seeds=2),
    "quick": dict(model="resnet8", per_class=250, test_per_class=200, batch=100, steps=500, budgets=(100, 300, 1000),
                  modern_batch=50, modern_epochs=20, step_multiples=(1, 2, 4), range_steps=300, accuracy_steps=500,
                  accuracy_every=25, seeds=3, baseline_seeds=3),
    "gpu": dict(model="resnet56", per_class=None, test_per_class=None, batch=1000, steps=10_000,
                budgets=(2_000, 6_000, 20_000), modern_batch=512, modern_epochs=95, step_multiples=(1, 2),
                range_steps=500, accuracy_steps=5_000, accuracy_every=100, seeds=2, baseline_seeds=1,
                first_model="resnet20", first_seeds=2, sweep_model="resnet20", sweep_steps=2_000),
    "full": dict(model="resnet56", per_class=None, test_per_class=None, batch=1000, steps=10_000,
                 budgets=(2_000, 6_000, 20_000), modern_batch=512, modern_epochs=95, step_multiples=(1, 2, 4),
                 range_steps=500, accuracy_steps=5_000, accuracy_every=100, seeds=3, baseline_seeds=3),
}
PEAKS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0)          # one-cycle peak LRs: octaves, plus the paper's 3
CONSTANT_LRS = tuple(2.0 ** k for k in range(-5, 3))  # 1/32 .. 4: the largest constant LR that trains
CYCLE_BASE_LR = 0.1                                   # the one-cycle's start and end (the paper's)
HEADLINE_PEAK = 3.0                                   # the headline cycle's peak (the paper's)
# the authors' solver files: SGD momentum, weight decay, and BatchNorm's moving-average fraction 0.95 for the
# cyclic runs, which is torch's momentum 0.05
SOLVER_MOMENTUM, SOLVER_WEIGHT_DECAY, SOLVER_BN_MOMENTUM = 0.9, 1e-4, 0.05
RANGE_LRS = (1e-3, 10.0)                              # the loss-form range test's first and last rate
ACCURACY_RANGE = (0.0, 3.0)                           # Smith's Fig. 2b: a linear range test from 0 to 3
ACCURACY_WINDOWS = ((0.5, 1.5), (2.0, 3.0))           # its accuracy averaged early and late, up to the peak of 3
# the modern recipe (Smith 2018, fastai): one cycle peaking at 0.8 from a tenth of it, momentum 0.95 -> 0.85;
# against a step schedule from 0.1, divided by 10 at half and three quarters of training
MODERN_PEAK, MODERN_DIV_FACTOR, MODERN_MOMENTA = 0.8, 10.0, (0.85, 0.95)
STEP_LR, STEP_MILESTONES = 0.1, (0.5, 0.75)
BASELINE_LR = 0.35                                    # piecewise constant (the paper's solver.prototxt)
BASELINE_BUDGET = 4                                   # x the one-cycle's steps (the paper: 8x)
HEADLINES = (PaperClaim("headline", "one cycle (LR 0.1 to 3 and back) in 10k iterations against a piecewise-constant "
                        "schedule in 80k: ResNet-56 on CIFAR-10", "92.4% against 91.2%", "Smith & Topin, the text of Fig. 1a"),
             PaperClaim("first_headline", "the same pair on ResNet-20", "90.4% against 88.6%",
                        "Smith & Topin v3; the authors' logs give 90.42% and 88.64%"))


def _one_cycle(base, peak, steps, steps_per_epoch):
    """Smith & Topin's v1 cycle: linear CYCLE_BASE_LR -> peak -> CYCLE_BASE_LR, no annihilation."""
    return base.replace(lr=peak, schedule="triangular", schedule_args={"base_ratio": CYCLE_BASE_LR / peak},
                        epochs=steps // steps_per_epoch)


def _headline_pair(paper, steps, steps_per_epoch, cycle_seeds, baseline_seeds):
    """One cycle 0.1-3-0.1 over `steps` and the piecewise-constant baseline over BASELINE_BUDGET x as many."""
    cycle = _one_cycle(paper, HEADLINE_PEAK, steps, steps_per_epoch)
    baseline = paper.replace(lr=BASELINE_LR, schedule="multistep", schedule_args={"milestones": [5 / 8, 7 / 8]},
                             epochs=BASELINE_BUDGET * steps // steps_per_epoch)
    return [cycle.replace(seed=k) for k in range(cycle_seeds)], [baseline.replace(seed=k) for k in range(baseline_seeds)]


def parts(profile):
    s = SETTINGS[profile]
    steps_per_epoch = train_images(s["per_class"]) // s["batch"]
    paper = RunConfig(task="cifar10", model=s["model"], batch_size=s["batch"], augment="flip", optimizer="sgd",
                      momentum=SOLVER_MOMENTUM, weight_decay=SOLVER_WEIGHT_DECAY, bn_momentum=SOLVER_BN_MOMENTUM,
                      train_per_class=s["per_class"], test_per_class=s["test_per_class"])
    steps = s["steps"]
    sweep_base = paper.replace(model=s.get("sweep_model", s["model"]))
    sweep_steps = s.get("sweep_steps", steps)
    cycle = _one_cycle(paper, HEADLINE_PEAK, steps, steps_per_epoch)
    one_cycles, baselines = _headline_pair(paper, steps, steps_per_epoch, s["seeds"], s["baseline_seeds"])
    out = {
        "range_test_loss": [range_test_config(paper, *RANGE_LRS, s["range_steps"])],
        "range_test_loss_torch_lr_finder": [range_test_config(paper, *RANGE_LRS, s["range_steps"])
                                            .replace(runner="torch-lr-finder")],
        "range_test_accuracy": [range_test_config(paper, *ACCURACY_RANGE, s["accuracy_steps"], mode="linear",
                                                  trace_every=s["accuracy_every"], trace_test=True)],
        # the rules are read against the sweeps on the sweeps' own model: at gpu a ResNet-20 test of its own,
        # elsewhere the same run as range_test_loss
        "sweep_range_test": [range_test_config(sweep_base, *RANGE_LRS, s["range_steps"])],
        "peak_sweep": [_one_cycle(sweep_base, peak, sweep_steps, steps_per_epoch) for peak in PEAKS],
        "constant_sweep": [sweep_base.replace(lr=lr, epochs=sweep_steps // steps_per_epoch) for lr in CONSTANT_LRS],
        "headline_one_cycle": one_cycles,
        "headline_baseline": baselines,
        "budget_curve": [_one_cycle(paper, HEADLINE_PEAK, b, steps_per_epoch) for b in s["budgets"]] + [cycle],
    }
    if s.get("first_model"):   # the same pair on the smaller net the authors also logged
        out["first_headline_one_cycle"], out["first_headline_baseline"] = _headline_pair(
            paper.replace(model=s["first_model"]), steps, steps_per_epoch, s["first_seeds"], s["first_seeds"])
    modern = RunConfig(task="cifar10", model=s["model"], batch_size=s["modern_batch"], augment="crop+flip",
                       optimizer="sgd", momentum=SOLVER_MOMENTUM, weight_decay=SOLVER_WEIGHT_DECAY,
                       train_per_class=s["per_class"], test_per_class=s["test_per_class"], epochs=s["modern_epochs"])
    one_cycle = modern.replace(lr=MODERN_PEAK, schedule="one_cycle",
                               schedule_args={"div_factor": MODERN_DIV_FACTOR, "base_momentum": MODERN_MOMENTA[0],
                                              "max_momentum": MODERN_MOMENTA[1]})
    out["modern_one_cycle"] = [one_cycle]
    out["modern_constant_momentum"] = [one_cycle.replace(
        schedule_args={**one_cycle.schedule_args, "cycle_momentum": False})]
    out["modern_step"] = [modern.replace(lr=STEP_LR, schedule="multistep",
                                         schedule_args={"milestones": list(STEP_MILESTONES)},
                                         epochs=k * s["modern_epochs"]) for k in s["step_multiples"]]
    return out


PART_TITLES = {
    "range_test_loss": "the range test", "range_test_loss_torch_lr_finder": "torch-lr-finder's range test",
    "range_test_accuracy": "the accuracy range test", "sweep_range_test": "the sweeps' range test",
    "peak_sweep": "the peak sweep",
    "constant_sweep": "the constant-LR sweep", "headline_one_cycle": "the headline one cycle",
    "headline_baseline": "the headline baseline", "budget_curve": "the budget curve",
    "first_headline_one_cycle": "ResNet-20's one cycle", "first_headline_baseline": "ResNet-20's baseline",
    "modern_one_cycle": "the modern one cycle", "modern_constant_momentum": "its constant-momentum twin",
    "modern_step": "the step schedules"}
# parts read against each other: the book shows each group from one profile
SHOWN_TOGETHER = (("range_test_loss", "range_test_loss_torch_lr_finder"),
                  ("sweep_range_test", "peak_sweep", "constant_sweep"),
                  ("headline_one_cycle", "headline_baseline"),
                  ("first_headline_one_cycle", "first_headline_baseline"),
                  ("modern_one_cycle", "modern_constant_momentum", "modern_step"))

# what the gpu profile changes from the paper's protocol (the chapter prints it beside the results)
GPU_CHANGES = (
    "the headline pair runs first on ResNet-20, whose pair the authors' logs report (one cycle 90.42% at 10k "
    "iterations, piecewise constant 88.64% at 80k): the one cycle and the baseline with 2 seeds each",
    "the piecewise-constant baseline trains 40k iterations, not 80k (as in every profile)",
    "the peak and constant-LR sweeps train ResNet-20 over 2k-iteration cycles, not ResNet-56 over 10k; the "
    "range-test rules are read against them from a range test of ResNet-20",
    "ResNet-56 runs the one cycle with 2 seeds and the baseline with 1, not 3 and 3",
    "the modern recipe's step schedule runs at 1x and 2x the epochs, not also 4x",
)
HEADLINE_CLAIM = "one cycle reaches the piecewise-constant baseline's accuracy in a fraction of its iterations"


def chunks(profile):
    """In the order a GPU should run them: the range test and the headline pair first."""
    p = parts(profile)
    range_tests = Chunk("range_tests", 1, "where the LR range test puts the rate, by three rules and by "
                        "torch-lr-finder, against the peaks that train best",
                        p["range_test_loss"] + p["range_test_loss_torch_lr_finder"] + p["range_test_accuracy"])
    modern = Chunk("modern", 2, "the modern recipe: one cycle with and without cyclical momentum against "
                   "step schedules", p["modern_one_cycle"] + p["modern_constant_momentum"] + p["modern_step"])
    if "first_headline_one_cycle" not in p:
        return [range_tests,
                Chunk("headline", 1, HEADLINE_CLAIM, p["headline_one_cycle"] + p["headline_baseline"]),
                Chunk("sweeps", 2, "the peak that trains best against the largest constant rate that trains",
                      p["peak_sweep"] + p["constant_sweep"]),
                Chunk("budget_curve", 2, "accuracy against the cycle's length", p["budget_curve"]),
                modern]
    first_cycles, first_baselines = p["first_headline_one_cycle"], p["first_headline_baseline"]
    return [range_tests,
            Chunk("resnet20_headline", 1, HEADLINE_CLAIM + " (ResNet-20; the authors' logs: 90.42% at 10k "
                  "against 88.64% at 80k)", first_cycles + first_baselines[:1]),
            Chunk("resnet20_sweeps", 2, "the peak that trains best against the largest constant rate that "
                  "trains, and where ResNet-20's range test puts the rate; the baseline's second seed",
                  p["sweep_range_test"] + p["peak_sweep"] + p["constant_sweep"] + first_baselines[1:]),
            Chunk("resnet56_headline", 2, HEADLINE_CLAIM + " (ResNet-56, the paper's headline): the one cycle",
                  p["headline_one_cycle"]),
            Chunk("resnet56_baseline", 2, HEADLINE_CLAIM + " (ResNet-56): the baseline, longer than one job",
                  p["headline_baseline"]),
            Chunk("resnet56_budget", 2, "accuracy against the cycle's length (the paper's 2k, 6k, 20k)",
                  [c for c in p["budget_curve"] if c not in p["headline_one_cycle"]]),
            modern]


def runs(profile):
    return union_of_chunks(chunks(profile))


# -- analysis: what the chapter reads off its records (each rule tested in tests/test_super_convergence.py)
# (pandas is imported inside the functions that build frames: a sweep imports this module for its
# declarations and must run where only torch and numpy are installed)

RULE_NAMES = {"steepest": "steepest", "min_over_10": "min/10", "valley": "valley"}   # as the prose names them
RANGE_TEST_SMOOTHING = 0.95   # torch-lr-finder's default, so both range-test curves are smoothed alike
FASTAI_SMOOTHING = 0.98   # fastai's Recorder smooths its range test's loss with beta = 0.98
PAPER_BUDGET = {2_000: 89.7, 6_000: 92.1, 10_000: 92.4, 20_000: 92.7}   # Smith & Topin's text, ResNet-56


def quick_scale():
    """What the quick profile shrinks: (the page note's sentence, the phrase its deviations list uses)."""
    q = SETTINGS["quick"]
    model = MODEL_LABELS[q["model"]]
    return (f"The quick profile is a small-scale CPU version ({model} instead of ResNet-56, "
            f"{train_images(q['per_class']):,} training images, batch {q['batch']} instead of 1,000, a "
            f"{q['steps']:,}-step cycle instead of 10,000).",
            f"{model} on {train_images(q['per_class']):,} images with batch {q['batch']} and a {q['steps']:,}-step cycle")


def steps_per_epoch_of(record):
    c = record["config"]
    return train_images(c["train_per_class"]) // c["batch_size"]


def range_trace(record):
    """(learning rates, training losses) of a range test's trace."""
    import pandas as pd
    t = pd.DataFrame(record["trace"])
    return t.lr.values, t.train_loss.astype(float).values


def range_axis_top(loss):
    """The top of the range test's loss axis: near twice the first step's loss, so that the run-away at
    the end of the test does not flatten the rest of the curve."""
    finite = loss[np.isfinite(loss)]
    return float(min(finite.max(), 2 * finite[0]) * 1.05)


def range_cut_words(record):
    """What the range test's loss axis leaves out, in a sentence ("" where nothing)."""
    lr, loss = range_trace(record)
    top, finite = range_axis_top(loss), np.isfinite(loss)
    above = np.flatnonzero(~finite | (loss > top))
    if not len(above):
        return ""
    peak = f"{np.nanmax(loss[finite]):,.0f}" if finite.any() else "no finite value"
    return (f"The loss axis stops at {top:.1f}, about twice the first step's loss; from a rate of {lr[above[0]]:.2g} "
            f"on, the loss leaves it, reaching {peak} by the test's last step (at {lr[-1]:.3g}).")


def our_suggestions(record):
    """The three rules read off one of lrlab's range tests, smoothed as the book smooths them."""
    return suggestions(*range_trace(record), beta=RANGE_TEST_SMOOTHING)


def sweep_range_words(sweep_test, range_test):
    """Which range test the rules in the sweep's figure come from, in words."""
    if range_test and sweep_test["id"] == range_test["id"]:
        return "the range test above"
    c = sweep_test["config"]
    return (f"a range test of {MODEL_LABELS[c['model']]} at the sweeps' own scale ({len(sweep_test['trace']):,} "
            "steps), not the one above, which tests another setup")


def loss_at_paper_peak(record, paper_peak=3.0):
    """The loss form of the range test read at the paper's one-cycle peak, off lrlab's smoothed curve:
    ({start, lowest, lowest_lr, at_peak}, a sentence). `at_peak` is NaN where the test ended before the peak."""
    lrs, losses = range_trace(record)
    smooth = smoothed(losses, RANGE_TEST_SMOOTHING)
    finite = np.isfinite(smooth)
    lowest = int(np.nanargmin(np.where(finite, smooth, np.nan)))
    reached = np.nonzero((lrs >= paper_peak) & finite)[0]
    numbers = {"start": float(smooth[0]), "lowest": float(smooth[lowest]), "lowest_lr": float(lrs[lowest]),
               "at_peak": float(smooth[reached[0]]) if len(reached) else float("nan")}
    text = (f"lrlab's smoothed loss starts at {numbers['start']:.2f} and is lowest, {numbers['lowest']:.2f}, at rate "
            f"{numbers['lowest_lr']:.2g}; ")
    if len(reached):
        text += f"at the paper's one-cycle peak of {paper_peak:g} it is {numbers['at_peak']:.2f}."
    else:
        text += (f"the test ended at rate {lrs[finite][-1]:.2g}" + (" (it diverged)" if record["status"] == "diverged" else "")
                 + f", before the paper's one-cycle peak of {paper_peak:g}.")
    return numbers, text


def range_rules(ours, theirs):
    """The three rules read off our range test and torch-lr-finder's (whose losses arrive smoothed):
    (our suggestions, theirs, the table side by side with the larger-over-smaller ratio per rule)."""
    import pandas as pd
    ref_lr, ref_loss = range_trace(theirs)
    mine = our_suggestions(ours)
    tool = suggestions(ref_lr, ref_loss, beta=0.0)
    table = pd.DataFrame({"rule": [RULE_NAMES[r] for r in RULES], "lrlab": [mine[r] for r in RULES],
                          "torch-lr-finder": [tool[r] for r in RULES]})
    table["ratio"] = table[["lrlab", "torch-lr-finder"]].max(axis=1) / table[["lrlab", "torch-lr-finder"]].min(axis=1)
    return mine, tool, table


def rules_agree(table, stopped_early=False):
    """Whether the two tools' rules agree within a factor of 2, in a sentence; and the worst rule.
    `stopped_early`: torch-lr-finder stopped before the end of the test (its 5x-the-best-loss rule)."""
    worst = table.loc[table.ratio.idxmax()]
    if table.ratio.max() <= 2:
        return "All three rules agree within a factor of 2 between the two tools.", worst
    where = "how each tool smooths and where it stops" if stopped_early else (
        "how each tool smooths (both ran the whole test)")
    return (f"The rules do **not** all agree within a factor of 2: {RULE_NAMES.get(worst.rule, worst.rule)} differs "
            f"by a factor of {worst.ratio:.1f}. The two curves come from the same weights and batches, so the "
            f"difference is in {where}: a rule that reads a slope or a minimum off a flat, noisy curve moves a long "
            "way for a small change in it."), worst


def grid_offset(ours, theirs):
    """How far apart the two tools' LR grids are at the same step: the largest relative difference of
    the LR over the steps both ran (their exponential grids step slightly differently)."""
    a, b = range_trace(ours)[0], range_trace(theirs)[0]
    n = min(len(a), len(b))
    return float(np.max(np.abs(a[:n] / b[:n] - 1)))


SAME_GRID = 1e-9   # rates within this (relative) at every step: the same grid, up to float rounding


def grid_words(ours, theirs):
    """The sentence that compares the two tools' rates step by step, from the records."""
    offset = grid_offset(ours, theirs)
    if offset <= SAME_GRID:
        return (f"both grids give the same rate at every step (the largest relative difference is "
                f"{offset:.0e}, float rounding)")
    return f"at the same step the two grids' rates differ by up to {offset:.1%}"


def range_extent(ours, theirs):
    """How far torch-lr-finder's range test ran against ours."""
    n_ours, n_ref = len(ours["trace"]), len(theirs["trace"])
    return (f"torch-lr-finder's run took all {n_ref}" if n_ref == n_ours else
            f"torch-lr-finder's run stopped after {n_ref}, at 5 times its best loss")


def accuracy_peak(record):
    """Smith's accuracy form of the range test: (best test accuracy %, the LR there, the accuracy % at the end)."""
    import pandas as pd
    trace = pd.DataFrame(record["trace"])
    best = trace.loc[trace.test_acc.idxmax()]
    return 100 * float(best.test_acc), float(best.lr), 100 * float(trace.test_acc.iloc[-1])


def accuracy_between(record, lo, hi):
    """Mean test accuracy (%) of an accuracy range test's points at rates in [lo, hi] (NaN where none)."""
    import pandas as pd
    trace = pd.DataFrame(record["trace"])
    inside = trace[(trace.lr >= lo) & (trace.lr <= hi)]
    return 100 * float(inside.test_acc.mean()) if len(inside) else float("nan")


CONSTANT_LATE_EPOCHS = 3   # a constant-rate run's accuracy swings from epoch to epoch: read the mean of its last 3


def lr_sweep(records, late_epochs=1):
    """LR, test accuracy (%: the mean over the last `late_epochs` epochs; NaN diverged) and status per
    run of a sweep."""
    import pandas as pd

    def accuracy(r):
        if r["status"] != "completed":   # as percent_or_nan: a diverged run is shown, never averaged in
            return float("nan")
        return 100 * float(np.mean([h["test_acc"] for h in r["history"][-late_epochs:]]))
    return pd.DataFrame([{"lr": r["config"]["lr"], "acc": accuracy(r), "status": r["status"]} for r in records])


CHANCE_ACCURACY = 10.0   # %: a uniform guess over CIFAR-10's ten classes


def sweep_failures(peaks, constant):
    """What the two sweeps' failed runs are, in words for their figure's caption: those the divergence
    rule stopped (crosses at chance) and those that completed within a point of chance, having learned
    nothing."""
    diverged = int((peaks.status == "diverged").sum() + (constant.status == "diverged").sum())
    runs = "the one run" if diverged == 1 else f"the {diverged} runs"
    said = [f"crosses at {CHANCE_ACCURACY:g}% mark {runs} that diverged" if diverged else "no run diverged by the rule (`lrlab.divergence`)"]
    named = []
    for frame, what in ((peaks, "peak"), (constant, "constant rate")):
        rates = sorted(frame[(frame.status == "completed") & (frame.acc < CHANCE_ACCURACY + 1)].lr)
        if rates:
            named.append(f"the {what}{'s' if len(rates) > 1 else ''} {listed(f'{lr:g}' for lr in rates)}")
    if named:
        one = len(named) == 1 and " and " not in named[0]
        said.append(f"{' and '.join(named)} completed at chance (dotted): {'it' if one else 'they'} trained to the "
                    "end and learned nothing")
    return "; ".join(said)

WITHIN_FACTOR = 2.0   # "within a factor of two" of the best rate: the range-test claim the seed articles make


def _nearest(sweep, lr):
    return sweep.loc[(np.log(sweep.lr) - np.log(lr)).abs().idxmin()]


def where_rules_fall(suggested, peaks, constant):
    """Each rule's suggestion against both sweeps: octaves from the best one-cycle peak and the accuracy
    of the nearest swept peak, and the factor over the best constant rate with the accuracy of the
    nearest constant run (the rules are read as a constant rate in the textbooks, as a peak by Smith)."""
    import pandas as pd
    best, best_constant = peaks.loc[peaks.acc.idxmax()], constant.loc[constant.acc.idxmax()]
    return pd.DataFrame([{"rule": RULE_NAMES[rule], "suggested LR": suggested[rule],
                          "octaves from the best peak": np.log2(suggested[rule] / best.lr),
                          "accuracy of the nearest swept peak (%)": _nearest(peaks, suggested[rule]).acc,
                          "x the best constant rate": suggested[rule] / best_constant.lr,
                          "accuracy of the nearest constant run (%)": _nearest(constant, suggested[rule]).acc}
                         for rule in RULES])


def rules_against_constant(where, constant):
    """The textbook claim (a range-test rule lands within a factor of 2 of the best rate) read off the
    constant sweep, in a sentence: which rules land within WITHIN_FACTOR of its best rate."""
    best = constant.loc[constant.acc.idxmax()]
    factor = where["x the best constant rate"]
    inside = where[(factor <= WITHIN_FACTOR) & (factor >= 1 / WITHIN_FACTOR)]
    outside = where.drop(inside.index)

    def say(rows):
        return ", ".join(f"{r['rule']} ({r['x the best constant rate']:.2g}x)" for _, r in rows.iterrows())
    text = (f"Read as a constant rate, as the textbooks read them: the best constant rate of the sweep is "
            f"{best.lr:g} ({best.acc:.1f}%). "
            + (f"{say(inside)} land within a factor of {WITHIN_FACTOR:g} of it" if len(inside) else
               f"No rule lands within a factor of {WITHIN_FACTOR:g} of it")
            + (f"; {say(outside)} do not" if len(outside) and len(inside) else f" ({say(outside)})" if len(outside) else "")
            + ". The grid of constant rates is a factor of 2 apart, one seed each.")
    return text


TRAINS_WITHIN = 10.0   # a run "trains" when it did not diverge and ends within this many points of its sweep's best


def largest_that_trains(sweep, within=TRAINS_WITHIN):
    """The largest LR of a sweep that did not diverge and ends within `within` points of its best run."""
    ok = sweep[(sweep.status == "completed") & (sweep.acc >= sweep.acc.max() - within)]
    return float(ok.lr.max())


def trains_table(peaks, constant, within=TRAINS_WITHIN):
    """How `largest_that_trains` draws each sweep's edge with the band `within` (points below the sweep's
    best run): per sweep, its best accuracy, the band's floor, the largest rate that trains, and the next
    rate of the grid above it with that run's accuracy (NaN: diverged, or no rate above)."""
    import pandas as pd

    def row(name, sweep):
        sweep = sweep.sort_values("lr")
        largest = largest_that_trains(sweep, within)
        above = sweep[sweep.lr > largest]
        return {"sweep": name, "best (%)": float(sweep.acc.max()), "floor (%)": float(sweep.acc.max() - within),
                "largest rate that trains": largest,
                "next rate up": float(above.lr.iloc[0]) if len(above) else float("nan"),
                "its accuracy (%)": float(above.acc.iloc[0]) if len(above) else float("nan")}
    return pd.DataFrame([row("one-cycle peaks", peaks), row("constant rates", constant)])


def closest_to_floor(peaks, constant, within=TRAINS_WITHIN):
    """The run of either sweep, diverged ones aside, whose accuracy lies nearest its sweep's floor (its best
    minus `within` points), the run whose side of `largest_that_trains`'s band the smallest change would
    flip: (the sweep's name as `trains_table` gives it, its LR, its accuracy minus the floor in points);
    (None, NaN, NaN) when no run has an accuracy."""
    best = (None, float("nan"), float("nan"))
    for name, sweep in (("one-cycle peaks", peaks), ("constant rates", constant)):
        done = sweep[(sweep.status == "completed") & sweep.acc.notna()]
        if done.empty:
            continue
        gaps = done.acc - (done.acc.max() - within)
        i = gaps.abs().idxmin()
        if best[0] is None or abs(gaps[i]) < abs(best[2]):
            best = (name, float(done.lr[i]), float(gaps[i]))
    return best


def trains_answer_words(peaks, constant, book_within, within, loose_within, seed_sd):
    """The "what counts as trains" exercise's answer: which sweep's edge moves when the band goes from the
    book's `book_within` points to `within`, the ratio and its word at each, how near its floor the deciding
    run ends against the seed SD `seed_sd`, and the ratio at a loose band `loose_within`."""
    def edges(band):
        peak, const = largest_that_trains(peaks, band), largest_that_trains(constant, band)
        return peak, const, peak_ratio_verdict(peak, const)

    def moved(name, a, b):
        return f"the largest {name} stays {a:g}" if a == b else f"the largest {name} goes from {a:g} to {b:g}"
    (p0, c0, v0), (p1, c1, v1) = edges(book_within), edges(within)
    sweep, lr, gap = closest_to_floor(peaks, constant, within)
    said = (f"At {within:g} points {moved('constant rate', c0, c1)} and {moved('peak', p0, p1)}, so the ratio goes from "
            f"{p0 / c0:.1f} to {p1 / c1:.1f} ({v0.word}, then {v1.word}).")
    if sweep is not None:
        near = ("inside" if abs(gap) < seed_sd else "outside") if np.isfinite(seed_sd) else "against an unmeasured"
        run = "one cycle with peak" if sweep == "one-cycle peaks" else "constant rate"
        said += (f" The run nearest its floor, the {run} {lr:g}, ends {abs(gap):.2f} points "
                 f"{'above' if gap >= 0 else 'below'} it: {near} the seed noise (the headline cycle's seed SD is "
                 f"{seed_sd:.2f} points).")
    p2, c2, v2 = edges(loose_within)
    return said + f" A loose band of {loose_within:g} points gives {p2 / c2:.1f} ({v2.word})."


def accuracy_curves(records):
    """Test accuracy (%) per step over seeds: mean, SD and count."""
    import pandas as pd
    h = pd.DataFrame([{"seed": r["config"]["seed"], "step": row["epoch"] * steps_per_epoch_of(r),
                       "acc": 100 * row["test_acc"]} for r in records for row in r["history"]])
    return h.groupby("step").acc.agg(["mean", "std", "count"]).reset_index()


REACH_RULE = ("a cycle reaches the baseline unless it falls short of the baseline's mean by more than the two "
              "sides' seed SDs together (read with two trained seeds of the cycle or more; a cycle whose every seed "
              "diverged reaches nothing)")


def reaches(gap, noise):
    """The headline's rule: a gap (cycle minus baseline, points) reaches the baseline unless it is
    below minus `noise` (the two sides' seed SDs together)."""
    return gap >= -noise


def headline(cycle, baseline, cycle_steps, noise_multiple=1.0):
    """The one cycle against the baseline: each side's mean and SD over seeds (diverged seeds left out),
    and the verdict (REACH_RULE). The paper's cycle had 1/8 of its baseline's iterations; ours
    has 1/BASELINE_BUDGET. `noise_multiple` widens the rule's margin to that many times the two spreads
    (the book's rule: 1; the exercises turn it); `numbers["noise"]` stays the spreads themselves. With one
    trained seed of the cycle the gap has no noise to be read against: not resolved."""
    cycle_acc = np.array([percent_or_nan(r) for r in cycle])
    base_acc = np.array([percent_or_nan(r) for r in baseline])
    (cycle_mean, cycle_sd), (base_mean, base_sd) = mean_sd(cycle_acc), mean_sd(base_acc)
    gap = cycle_mean - base_mean
    noise = float(np.nansum([cycle_sd, base_sd])) if len(cycle_acc) > 1 else 0.0   # a side of one seed adds none
    spreads = "the two runs' seed spreads together" if noise_multiple == 1 else (
        f"{noise_multiple:g} times the two runs' seed spreads together")
    trained = int(np.isfinite(cycle_acc).sum())
    if trained == 0 and len(cycle_acc):   # a diverged cycle is a result: it reaches nothing
        verdict = Verdict(CONTRADICTED, f"So at this scale every seed of the {cycle_steps:,}-step cycle **diverged**.",
                          REACH_RULE)
    elif not np.isfinite(base_mean):      # nor does a diverged baseline set anything to reach
        verdict = Verdict(NOT_RESOLVED, "Every seed of the baseline **diverged**, so there is no accuracy for the "
                          f"{cycle_steps:,}-step cycle to reach: not resolved.", REACH_RULE)
    elif trained < 2:   # no seed spread to measure the gap against
        verdict = Verdict(NOT_RESOLVED, f"With one trained seed of the {cycle_steps:,}-step cycle ({gap:+.2f} points "
                          "against the baseline) the gap has no seed noise to be read against: not resolved.", REACH_RULE)
    elif reaches(gap, noise_multiple * noise):
        verdict = Verdict(CONFIRMED, f"So at this scale the {cycle_steps:,}-step cycle **reaches the baseline** with "
                          f"1/{BASELINE_BUDGET} of its iterations ({gap:+.2f} points), as the paper found.", REACH_RULE)
    else:
        verdict = Verdict(CONTRADICTED, f"So at this scale the {cycle_steps:,}-step cycle, with 1/{BASELINE_BUDGET} of "
                          f"the baseline's iterations, **falls short** of it by {-gap:.2f} points, more than {spreads} "
                          f"({noise_multiple * noise:.2f}).", REACH_RULE)
    return dict(cycle_mean=cycle_mean, cycle_sd=cycle_sd, base_mean=base_mean, base_sd=base_sd,
                n_seeds=len(cycle_acc), noise=noise), verdict


def budget_against_baseline(budget, baseline, cycle, noise_multiple=1.0):
    """Each budget cycle (one seed) against the headline baseline by the headline's rule, its seed SD
    taken from the headline cycle's seeds: a frame (steps, share of the baseline's steps, accuracy, gap,
    noise: the two spreads, reaches) and the sentence saying which shares reach it. `noise_multiple`
    widens the margin as in `headline`."""
    import pandas as pd
    scales = {r.get("profile") for r in budget} | {r.get("profile") for r in baseline}
    if len(scales) > 1:
        return None, (f"The budget cycles ({budget[0].get('profile')}) and the headline baseline "
                      f"({baseline[0].get('profile')}) come from different profiles, so they are not compared.")
    base_acc = np.array([percent_or_nan(r) for r in baseline])
    cycle_acc = np.array([percent_or_nan(r) for r in cycle])
    base_mean, base_sd = mean_sd(base_acc)
    if not np.isfinite(base_mean):
        return None, "Every seed of the headline baseline diverged, so no budget cycle is compared with it."
    spreads = float(np.nansum([base_sd, mean_sd(cycle_acc)[1]]))
    noise = noise_multiple * spreads
    base_steps = baseline[0]["final"]["steps"]
    frame = pd.DataFrame([{"steps": r["final"]["steps"], "share": r["final"]["steps"] / base_steps,
                           "acc": percent_or_nan(r)} for r in budget]).sort_values("steps").reset_index(drop=True)
    frame["gap"] = frame.acc - base_mean
    frame["noise"] = spreads
    frame["reaches"] = [bool(reaches(g, noise)) for g in frame.gap]

    def share(s):
        from fractions import Fraction
        f = Fraction(s).limit_denominator(64)
        return f"{f.numerator}/{f.denominator}" if abs(float(f) - s) < 1e-9 and f.denominator > 1 else f"{s:.2g}"
    said = [f"{share(row.share)} ({row.acc:.2f}%, {row.gap:+.2f} points)" for row in frame.itertuples()]
    reach = [s for s, row in zip(said, frame.itertuples()) if row.reaches]
    short = [s for s, row in zip(said, frame.itertuples()) if not row.reaches]
    text = (f"Against the same baseline ({base_mean:.2f}%, {base_steps:,} steps) and by the same rule (a noise "
            f"margin of {noise:.2f} points), cycles of "
            + (", ".join(reach) + " of its iterations reach it" if reach else "no length swept reach it")
            + ("; " + ", ".join(short) + " fall short" if short else "")
            + ". The paper's cycle had 1/8 of its baseline's iterations. Each budget cycle is one seed.")
    return frame, text


def mean_pm(records):
    """"91.20 ± 0.30%" over the records' seeds (diverged ones left out), "91.20%" for one, "diverged" for none."""
    mean, sd = mean_sd([percent_or_nan(r) for r in records])
    return f"{mean:.2f} ± {sd:.2f}%" if np.isfinite(sd) else f"{mean:.2f}%" if np.isfinite(mean) else "diverged"


def budget_curve(records):
    """Final test accuracy (%) against the cycle's steps."""
    import pandas as pd
    return pd.DataFrame([{"steps": r["final"]["steps"], "acc": percent_or_nan(r)} for r in records]).sort_values("steps")


def headline_length_accuracy(budget, headline_steps):
    """The budget curve's accuracy at the headline cycle's length (length 1), interpolated in log length:
    the zero both sides of Fig. 2.5 are drawn from."""
    x = budget.steps.to_numpy(float) / headline_steps
    return float(np.interp(0.0, np.log(x), budget.acc.to_numpy(float)))


def budget_zero_words(budget, headline_steps, cycle_mean):
    """Where the budget figure's zero for our side comes from, against the headline's mean over seeds
    (`cycle_mean`, %), for the caption, which follows it with Fig. 1a's number."""
    per_length = int(budget.groupby("steps").size().max())
    runs = "one run per length" if per_length == 1 else f"up to {per_length} runs per length"
    measured = "its own run at length 1" if (budget.steps == headline_steps).any() else "read between its lengths"
    return (f"Our zero, {headline_length_accuracy(budget, headline_steps):.1f}%, is the budget sweep's, {measured} "
            f"({runs}), not the {cycle_mean:.2f}% mean over seeds of the paper's Fig. 1a redrawn")

def flip_multiple(gap, noise):
    """The smallest multiple of the noise margin `noise` at which a cycle short of the baseline by `gap`
    (points, cycle minus baseline) reaches it by the headline's rule: 0 for a cycle already level or
    above, inf when there is no noise to widen, NaN when the gap is unknown."""
    if not np.isfinite(gap):
        return float("nan")
    if gap >= 0:
        return 0.0
    return float(-gap / noise) if noise > 0 else float("inf")


def budget_flips(frame):
    """The noise multiples at which `budget_verdict` would leave its word, read off
    `budget_against_baseline`'s frame: (the multiple at which a swept cycle of at most BUDGET_SHORT of the
    baseline's steps first reaches it, so "contradicted" can no longer hold; the multiple at which one of at
    most BUDGET_CLAIM does, which "confirmed" needs). NaN where no such cycle was swept or the frame is None."""
    if frame is None or frame.empty:
        return float("nan"), float("nan")

    def first(rows):
        multiples = [flip_multiple(g, n) for g, n in zip(rows.gap, rows.noise)]
        return float(np.nanmin(multiples)) if len(multiples) and not np.all(np.isnan(multiples)) else float("nan")
    return first(frame[frame.share <= BUDGET_SHORT]), first(frame[frame.share <= BUDGET_CLAIM])


def budget_flip_words(word, to_unresolved, to_confirmed):
    """Where the budget verdict (`word`, the book's) would change as its noise margin widens, from
    `budget_flips`: a wider margin lets more cycles reach the baseline, so only "confirmed" never moves."""
    if word == CONFIRMED:
        return ("The budget verdict is confirmed already, and a wider margin only lets more cycles reach the "
                "baseline: it stays.")
    said = []
    if word == CONTRADICTED:
        said.append(f'"contradicted" needs every cycle of at most {BUDGET_SHORT:.0%} of the baseline\'s steps to fall '
                    "short, and " + (f"the first of them reaches it at {to_unresolved:.2f} times the margin"
                                     if np.isfinite(to_unresolved) else "none of them has a measured gap"))
    said.append(f'"confirmed" needs a cycle of at most {BUDGET_CLAIM:.0%} to reach it, '
                + (f"which takes {to_confirmed:.1f} times" if np.isfinite(to_confirmed) else
                   "and no such cycle was swept"))
    return f"The budget verdict ({word}) changes at {'two multiples' if len(said) > 1 else 'one multiple'}: " \
        + "; ".join(said) + "."


def step_multiple(step, one_cycle):
    """How many times the one cycle's epochs a step-schedule run of the modern recipe trains for (the
    profile's `step_multiples`, read from the records so that a missing run mislabels nothing)."""
    return step["config"]["epochs"] / one_cycle["config"]["epochs"]


def modern_table(one_cycle, constant_momentum, steps):
    """The modern recipe's runs beside the paper's Table 1 (Smith 2018: ResNet-56, batch 512, 95 epochs,
    cycle 0.08-0.8, 5 runs) and the other published runs of the same cycle; the paper's constant-0.95
    row, which we did not run, for its numbers."""
    import pandas as pd

    def row(name, record, table_1, others):
        return {"run": name, "epochs": record["config"]["epochs"] if record else None,
                "ours: test accuracy (%)": percent_or_nan(record) if record else None,
                "Smith 2018, Table 1": table_1, "other published runs": others}
    return pd.DataFrame(
        [row("one cycle 0.08-0.8, cyclical momentum 0.95-0.85", one_cycle, "92.0 ± 0.2% (CM 0.95-0.8)",
             "93.53% (fastai notebook, CM 0.95-0.85, 95 epochs)"),
         row("one cycle 0.08-0.8, constant momentum 0.9", constant_momentum, "91.4 ± 0.3%",
             "93.39% (fastai notebook, at LR 0.8)"),
         row("one cycle 0.08-0.8, constant momentum 0.95 (not run)", None, "92.1 ± 0.1%",
             "91.9% (Smith's hyperParam1 log, M.95, 95 epochs)")]
        + [row(f"step schedule, {step_multiple(r, one_cycle):g}x the epochs", r, "", "") for r in steps])


def modern_verdict(one_cycle, constant_momentum, steps, seed_sd):
    """The modern recipe's two claims, one seed a run, read against seed noise: cyclical momentum beats
    constant 0.9 (Table 1: 92.0 vs 91.4), and one cycle beats the step schedule at equal epochs. A
    difference counts beyond 2 x sqrt(2) x `seed_sd` (two single runs; the SD measured on the headline
    cycle's seeds). Returns (verdict on momentum, verdict on the schedule)."""
    margin = 2 * np.sqrt(2) * seed_sd
    rule = (f"a difference between two single runs counts beyond 2 x sqrt(2) x the seed SD "
            f"({seed_sd:.2f} points, from the headline cycle): {margin:.2f} points")

    def word(diff):
        if not np.isfinite(margin):
            return NOT_RESOLVED
        return CONFIRMED if diff > margin else CONTRADICTED if diff < -margin else NOT_RESOLVED
    cm, const = percent_or_nan(one_cycle), percent_or_nan(constant_momentum)
    d = cm - const
    said = {CONFIRMED: "beats", CONTRADICTED: "trails", NOT_RESOLVED: "is within seed noise of"}
    momentum = Verdict(word(d), f"Cyclical momentum {said[word(d)]} constant momentum 0.9 ({cm:.2f}% against {const:.2f}%, "
                       f"{d:+.2f} points; the margin is {margin:.2f}); the paper's Table 1 has 92.0 ± 0.2% against "
                       "91.4 ± 0.3%, and constant 0.95 level with the cycle at 92.1 ± 0.1%.", rule)
    step = {step_multiple(r, one_cycle): percent_or_nan(r) for r in steps}
    d1 = cm - step.get(1, np.nan)
    matched = sorted(k for k, acc in step.items() if acc >= cm - margin)
    within = (f"; the step schedule comes within the margin of it at {matched[0]:g}x the epochs."
              if matched and matched[0] > 1 else ".")
    if 1 not in step:
        return momentum, Verdict(NOT_RESOLVED, "The step schedule at the cycle's epochs is not recorded" + within, rule)
    schedule = Verdict(word(d1), f"One cycle {said[word(d1)]} the step schedule at the same epochs ({cm:.2f}% against "
                       f"{step[1]:.2f}%, {d1:+.2f} points)" + within, rule)
    return momentum, schedule


def one_cycle_landmarks(record, div_factor=None):
    """The modern recipe's one cycle as `lrlab.schedules.lr_curve` steps it over the record's steps, and
    the same cycle with `div_factor` (peak over starting LR) instead of the record's: a frame of the
    landmarks (the first step, the peak, the end of the way down, the last step) with the step, both
    cycles' LR and the momentum there. The phases' steps do not depend on `div_factor`."""
    import pandas as pd
    from lrlab.schedules import lr_curve
    c = record["config"]
    total = c["epochs"] * (c.get("steps_per_epoch") or steps_per_epoch_of(record))
    args = dict(c["schedule_args"])
    book = lr_curve(c["schedule"], total, lr=c["lr"], momentum=c["momentum"], **args)
    this = lr_curve(c["schedule"], total, lr=c["lr"], momentum=c["momentum"],
                    **{**args, "div_factor": args.get("div_factor", 10.0) if div_factor is None else div_factor})
    lr = np.array(this["lr"])
    peak = int(lr.argmax())
    down = peak + int(np.argmax(lr[peak:] <= lr[0] * (1 + 1e-9)))   # back at the starting LR
    steps = {"first step": 0, "peak": peak, "end of the way down": down, "last step": total - 1}
    return pd.DataFrame([{"landmark": name, "step": step, "LR (the book's cycle)": book["lr"][step],
                          "LR (this cycle)": this["lr"][step], "momentum": this["momentum"][step]}
                         for name, step in steps.items()])


# Smith's guideline for the span of a single cycle (1803.09820): its minimum at the maximum over 10 to 20
CYCLE_SPAN_GUIDE = (10.0, 20.0)


def cycle_worked(config, div_factor):
    """The cycle exercise's answer in plain text: the modern recipe's one cycle (`config`, a record's config)
    started at its peak over `div_factor` instead of its own. A dict of the pieces the solution glues: each
    worked as arithmetic ("0.8/25 = 0.032"), the phases from `pct_start`, the momentum's ends and peak, how the
    span compares with Smith's guideline, the first steps' rate against the own cycle's, and the floor's distance
    below the peak."""
    from lrlab.schedules import OPTIONS
    args = {**OPTIONS[config["schedule"]], **config["schedule_args"]}
    peak, own, final, pct = config["lr"], args["div_factor"], args["final_div_factor"], args["pct_start"]
    start, own_start = peak / div_factor, peak / own
    lo, hi = CYCLE_SPAN_GUIDE
    against = ("more than" if div_factor > hi else "less than" if div_factor < lo else "within")
    return {"own_div": f"{own:g}", "own_start": f"{peak:g}/{own:g} = {own_start:g}", "final": f"{final:g}",
            "start": f"{peak:g}/{div_factor:g} = {plain_number(start)}",
            "end": f"{plain_number(start)}/{final:g} = {plain_number(start / final)}",
            "own_end": plain_number(own_start / final), "peak_step": f"{pct:g}N − 1",
            "tail": f"1 − 2 × {pct:g} = {1 - 2 * pct:.0%}", "momentum_ends": f"{args['max_momentum']:g}",
            "momentum_peak": f"{args['base_momentum']:g}",
            "span": f"a factor {div_factor:g} from start to peak, {against} Smith's {lo:g} to {hi:g}",
            "first_steps": ("the same rate" if div_factor == own else "a smaller rate, a gentler warm-up"
                            if div_factor > own else "a larger rate, a steeper start"),
            "floor": f"{div_factor * final:,.0f}"}


def tools_agree_verdict(rules):
    """Our range test and torch-lr-finder's, on the same weights and batches, should suggest the same rates:
    confirmed when every rule's two suggestions agree within a factor of 2, contradicted otherwise."""
    worst = rules.loc[rules.ratio.idxmax()]
    return Verdict(CONFIRMED if worst.ratio <= 2 else CONTRADICTED,
                   f"The two tools' suggestions differ by a factor of {worst.ratio:.2f} at most ({worst.rule}).",
                   "every rule's two suggestions within a factor of 2: confirmed; beyond: contradicted",
                   f"largest ratio {worst.ratio:.2f}")


def versus(parts, profile_of, model, steps, budget, peak_ratios, modern, rules, words=None):
    """The paper's claims beside our numbers, with each row's verdict word. `parts`: part -> records;
    `profile_of`: part -> profile; `peak_ratios`: (best peak, largest working peak) over the largest constant
    LR that trains; `modern`: the modern recipe's settings; `rules`: the range-test rules' table; `words`:
    the verdicts (Verdict) by row: headline, budget, peak_ratio, cyclical_momentum (a row without one
    shows NO_RULE)."""
    import pandas as pd
    words = {k: v.word for k, v in (words or {}).items() if v is not None}
    words["tools"] = tools_agree_verdict(rules).word
    worst = rules.loc[rules.ratio.idxmax()]
    first_pair = []   # the GPU profile's first pair: ResNet-20, whose pair the authors' logs report
    for part, label, paper in (("first_headline_one_cycle", "one cycle 0.1-3-0.1, 10k iterations", "90.42% (authors' log)"),
                               ("first_headline_baseline", "piecewise constant 0.35", "88.64% at 80k (authors' log)")):
        if parts.get(part):
            records = parts[part]
            first_pair.append({"claim": f"ResNet-20: {label}", "paper": paper,
                               "ours": f"{mean_pm(records)} ({records[0]['final']['steps']:,} steps, {len(records)} "
                                       f"seed{'s' if len(records) > 1 else ''}, {profile_of[part]})"})
    cycle, baseline = parts["headline_one_cycle"], parts["headline_baseline"]
    range_rows = range_test_rows(parts, profile_of)
    rows = pd.DataFrame([
        {"claim": "one cycle 0.1-3-0.1, 10k iterations", "paper": "92.4% (text); 92.44% (authors' log)",
         "ours": f"{mean_pm(cycle)} ({steps:,} steps, {model}, {len(cycle)} seeds, {profile_of['headline_one_cycle']})"},
        {"claim": "piecewise constant 0.35", "paper": "91.2% at 80k (text); 90.32% (authors' log)",
         "ours": f"{mean_pm(baseline)} ({BASELINE_BUDGET * steps:,} steps)"},
    ] + first_pair + [
        {"claim": "cycle budget 2k to 20k iterations", "paper": "89.7% to 92.7%",
         "ours": f"{budget.acc.iloc[0]:.1f}% to {budget.acc.iloc[-1]:.1f}% ({int(budget.steps.iloc[0]):,} to "
                 f"{int(budget.steps.iloc[-1]):,} steps)"},
        {"claim": "cycle peak vs largest constant LR",
         "paper": "10-20x (popular summaries, e.g. the seed articles; not found in Smith's papers)",
         "ours": f"best peak {peak_ratios[0]:.1f}x, largest working peak {peak_ratios[1]:.1f}x"},
        {"claim": "modern one cycle, cyclical momentum",
         "paper": "92.0 ± 0.2% (Smith 2018, Table 1); 93.53% (fastai); 95 epochs, batch 512",
         "ours": f"{percent_or_nan(parts['modern_one_cycle'][0]):.2f}% ({modern['modern_epochs']} epochs, "
                 f"batch {modern['modern_batch']})"},
        {"claim": "range-test rules, lrlab vs torch-lr-finder", "paper": "(one test, two tools: they should agree within 2x)",
         "ours": f"largest ratio {rules.ratio.max():.2f} ({worst.rule}; {_where(parts, profile_of, 'range_test_loss')})"},
    ] + range_rows)
    row_words = ([words.get("headline", NO_RULE)] * 2 + [NO_RULE] * len(first_pair)
                 + [words.get(k, NO_RULE) for k in ("budget", "peak_ratio", "cyclical_momentum", "tools")]
                 + [NO_RULE] * len(range_rows))
    return rows.assign(verdict=row_words)


def versus_of(chapter):
    """`versus` read from a chapter, each part at its own profile (what the page computes section by
    section, gathered: the headline pair, the budget curve, the sweeps' peak ratios, the modern recipe,
    the range tests' rules, and the verdicts)."""
    parts = {name: chapter[name] for name in chapter.part}
    profile_of = {p: chapter.profile_of(p) for p in parts}
    peaks, constant = lr_sweep(parts["peak_sweep"]), lr_sweep(parts["constant_sweep"], CONSTANT_LATE_EPOCHS)
    largest_const = largest_that_trains(constant)
    ratios = (peaks.lr[peaks.acc.idxmax()] / largest_const, largest_that_trains(peaks) / largest_const)
    *_, rules = range_rules(parts["range_test_loss"][0], parts["range_test_loss_torch_lr_finder"][0])
    return versus(parts, profile_of, MODEL_LABELS[parts["headline_one_cycle"][0]["config"]["model"]],
                  SETTINGS[profile_of["headline_one_cycle"]]["steps"], budget_curve(parts["budget_curve"]), ratios,
                  SETTINGS[profile_of["modern_one_cycle"]], rules, verdicts(chapter))


def protocol_words(step_multiples):
    """The set-up's numbers as the chapter's prose quotes them, from the constants its runs are built with
    (the step schedule's epoch multiples are the profile's): {glue name: Markdown}."""
    from lrlab.schedules import OPTIONS
    cycle = OPTIONS["one_cycle"]
    pct, final = cycle["pct_start"], cycle["final_div_factor"]
    (early_lo, early_hi), (late_lo, late_hi) = ACCURACY_WINDOWS
    return {"solver_momentum": f"{SOLVER_MOMENTUM:g}", "solver_wd": plain_number(SOLVER_WEIGHT_DECAY),
            "bn_fraction": f"{1 - SOLVER_BN_MOMENTUM:g}", "bn_torch": f"{SOLVER_BN_MOMENTUM:g}",
            "range_lrs": f"{plain_number(RANGE_LRS[0])} to {RANGE_LRS[1]:g}",
            "acc_range": f"{ACCURACY_RANGE[0]:g} to {ACCURACY_RANGE[1]:g}", "acc_top": f"{ACCURACY_RANGE[1]:g}",
            "acc_windows": f"over rates {early_lo:g} to {early_hi:g}", "acc_late_window": f"over {late_lo:g} to {late_hi:g}",
            "cycle_base": f"{CYCLE_BASE_LR:g}", "headline_peak": f"{HEADLINE_PEAK:g}",
            "modern_cycle": f"{MODERN_PEAK / MODERN_DIV_FACTOR:g} to {MODERN_PEAK:g}", "modern_peak": f"{MODERN_PEAK:g}",
            "modern_div": f"{MODERN_DIV_FACTOR:g}", "modern_final": f"{final:,.0f}",
            "modern_momenta": f"{MODERN_MOMENTA[1]:g} down to {MODERN_MOMENTA[0]:g}",
            "modern_momenta_set": f"{MODERN_MOMENTA[0]:g} and {MODERN_MOMENTA[1]:g}",
            "modern_phases": f"{pct:.0%} up, {pct:.0%} down, {1 - 2 * pct:.0%} annihilation to 1/{final:,.0f} of the start",
            "step_schedule": (f"{STEP_LR:g}, divided by {1 / OPTIONS['multistep']['gamma']:g} at "
                              f"{listed([f'{m:.0%}' for m in STEP_MILESTONES])} of training"),
            "step_multiples": listed([f"{k:g}" for k in step_multiples])}


def _where(parts, profile_of, part):
    """A part's model and profile, as a table cell names them."""
    return f"{MODEL_LABELS[parts[part][0]['config']['model']]}, {profile_of[part]}"


def range_test_rows(parts, profile_of):
    """The range tests beside Fig. 2b and the paper's peak (numbers only: no verdict is read from one trace)."""
    rows = []
    if parts.get("range_test_accuracy"):
        record, (early, late) = parts["range_test_accuracy"][0], ACCURACY_WINDOWS
        rows.append({"claim": "accuracy range test 0 to 3 (Fig. 2b)", "paper": "test accuracy stays high up to 3 (ResNet-56)",
                     "ours": f"{accuracy_between(record, *late):.1f}% over rates {late[0]:g}-{late[1]:g} against "
                             f"{accuracy_between(record, *early):.1f}% over {early[0]:g}-{early[1]:g} "
                             f"({_where(parts, profile_of, 'range_test_accuracy')})"})
    if parts.get("range_test_loss"):
        numbers, _ = loss_at_paper_peak(parts["range_test_loss"][0])
        at_peak = (f"{numbers['at_peak']:.2f} at 3" if np.isfinite(numbers["at_peak"]) else "the test ended before 3")
        rows.append({"claim": "range test (loss) at the cycle's peak 3", "paper": "3 is usable (the cycle peaks there)",
                     "ours": f"smoothed loss lowest {numbers['lowest']:.2f} at {numbers['lowest_lr']:.2g}, {at_peak} "
                             f"({_where(parts, profile_of, 'range_test_loss')})"})
    return rows


# -- the seed articles' claims this chapter answers (the claims scorecard reads `verdicts`)

RULE_CLAIMS = {"steepest": "steepest", "min_over_10": "min/10"}   # the two rules the articles give
PEAK_CLAIM = (10.0, 20.0)    # "learning rates 10x to 20x larger than conventional schedules"
BUDGET_CLAIM = 0.15          # "roughly 10 percent of the usual number of iterations": a share up to this reaches
BUDGET_SHORT = 0.25          # every swept cycle up to this share of the baseline's steps falling short contradicts
SCHEDULE_GAIN_CLAIM = (2.0, 5.0)   # "schedules can improve accuracy by 2-5%" (points)


def rule_verdict(where, rule):
    """One range-test rule read as a constant rate: confirmed within a factor WITHIN_FACTOR of the best
    constant rate, contradicted beyond a further factor 2 (the constant grid's step, one seed a rate)."""
    row = where.set_index("rule").loc[RULE_NAMES[rule]]
    factor = float(row["x the best constant rate"])
    off = abs(np.log2(factor))
    word = CONFIRMED if off <= np.log2(WITHIN_FACTOR) else CONTRADICTED if off > np.log2(WITHIN_FACTOR) + 1 else NOT_RESOLVED
    return Verdict(word, f"The {RULE_NAMES[rule]} rule suggests {row['suggested LR']:.3g}, {factor:.2g} times the best "
                   f"constant rate of the sweep ({row['accuracy of the nearest constant run (%)']:.1f}% at the nearest "
                   "constant run).", f"within a factor {WITHIN_FACTOR:g} of the best constant rate: confirmed; beyond "
                   f"a factor {2 * WITHIN_FACTOR:g} (one more grid step): contradicted", f"{factor:.2g}x the best constant rate")


def rules_at_smoothing(ours, peaks, constant, beta=RANGE_TEST_SMOOTHING):
    """Our range test read by the three rules with the loss smoothed by `beta` (the moving average's
    factor; the book's is RANGE_TEST_SMOOTHING) beside the book's reading: per rule, both suggestions,
    the new one over the best constant rate, and the verdict `rule_verdict` gives it (NO_RULE for the
    rule no article claims)."""
    import pandas as pd
    lrs, losses = range_trace(ours)
    book, this = suggestions(lrs, losses, beta=RANGE_TEST_SMOOTHING), suggestions(lrs, losses, beta=beta)
    where = where_rules_fall(this, peaks, constant)
    factor = where.set_index("rule")["x the best constant rate"]
    return pd.DataFrame([{"rule": RULE_NAMES[r], "suggested LR (the book's smoothing)": book[r],
                          "suggested LR (this smoothing)": this[r], "x the best constant rate": float(factor[RULE_NAMES[r]]),
                          "verdict": rule_verdict(where, r).word if r in RULE_CLAIMS else NO_RULE} for r in RULES])


def smoothing_answer_words(book, other, predicted):
    """The smoothing exercise's answer from two `rules_at_smoothing` tables, at the book's factor and at the
    exercise's: how far each rule's suggestion moved against `predicted` (the factor the lag alone moves a
    minimum by), and whether the claimed rules' words changed."""
    was, now = book.set_index("rule"), other.set_index("rule")
    moved = (now["suggested LR (this smoothing)"] / now["suggested LR (the book's smoothing)"]).to_dict()
    m = moved[RULE_NAMES["min_over_10"]]
    how = ("about as far as" if 1 / 1.25 <= m / predicted <= 1.25 else
           "further than" if m > predicted else "less far than")
    rest = [r for r in RULES if r != "min_over_10"]
    larger = [RULE_NAMES[r] for r in rest if abs(np.log(moved[RULE_NAMES[r]])) > abs(np.log(m))]
    said = (f"Here min/10 moved by a factor {m:.2f}, {how} the {predicted:.2f} the lag alone predicts; "
            + listed(f"{RULE_NAMES[r]} by a factor {moved[RULE_NAMES[r]]:.2g}" for r in rest)
            + (f": {listed(larger)} moved more than min/10. " if larger else ": both moved less than min/10. "))
    words = []
    for rule in RULE_CLAIMS.values():
        a, b = was.loc[rule], now.loc[rule]
        factors = (f"{a['x the best constant rate']:.2g}x, now {b['x the best constant rate']:.2g}x the best "
                   "constant rate")
        words.append(f"{rule} stays {a['verdict']} ({factors})" if a["verdict"] == b["verdict"] else
                     f"{rule} turns from {a['verdict']} to {b['verdict']} ({factors})")
    return said + "Of the articles' two rules, " + " and ".join(words) + "."


def peak_ratio_verdict(largest_peak, largest_const):
    """How far above the largest constant rate that trains the one-cycle peak can go, against "10x to 20x":
    each end is known to a factor 2 (the grids' steps), so the ratio r to a factor 2 either way.
    Confirmed when r lies in 10-20, contradicted when r/2..2r misses it."""
    r = largest_peak / largest_const
    lo, hi = PEAK_CLAIM
    word = CONFIRMED if lo <= r <= hi else CONTRADICTED if 2 * r < lo or r / 2 > hi else NOT_RESOLVED
    return Verdict(word, f"The largest peak that trains ({largest_peak:g}) is {r:.1f} times the largest constant rate "
                   f"that trains ({largest_const:g}).", "the ratio in 10-20: confirmed; 10-20 outside the ratio's "
                   "factor-2 uncertainty (the grids' steps): contradicted", f"{r:.1f}x")


def budget_verdict(frame):
    """"Roughly 10% of the iterations" read off `budget_against_baseline`'s frame: confirmed when a cycle
    of at most BUDGET_CLAIM of the baseline's steps reaches it, contradicted when every cycle swept up to
    BUDGET_SHORT of them falls short."""
    rule = (f"a cycle of at most {BUDGET_CLAIM:.0%} of the baseline's steps reaches it: confirmed; every swept cycle "
            f"up to {BUDGET_SHORT:.0%} falls short: contradicted")
    if frame is None or frame.empty:
        return Verdict(NOT_RESOLVED, "The budget cycles and the baseline come from different profiles.", rule)
    reach = frame[frame.reaches]
    smallest = float(reach.share.min()) if len(reach) else float("nan")
    share = f"{100 * smallest:.3g}% of the baseline's steps"
    number = f"the shortest cycle that reaches it has {share}" if len(reach) else "no cycle swept reaches it"
    short = frame[frame.share <= BUDGET_SHORT]
    if len(reach) and smallest <= BUDGET_CLAIM:
        word = CONFIRMED
    elif len(short) and not short.reaches.any():
        word = CONTRADICTED
    else:
        word = NOT_RESOLVED
    return Verdict(word, f"The shortest cycle that reaches the baseline's accuracy has {share}."
                   if len(reach) else "No cycle swept reaches the baseline.", rule, number)


def schedule_gain_verdict(peaks, constant, seed_sd):
    """"Schedules improve accuracy by 2-5%": the best one-cycle peak against the best constant rate at the
    same steps (one seed each); confirmed when the gain +- 2 sqrt(2) seed SDs overlaps 2-5 points. Each
    side is the best of its sweep, so the margin also holds what the two sweeps' sizes alone would make."""
    gain = float(peaks.acc.max() - constant.acc.max())
    margin = seed_sd * (2 * np.sqrt(2) + abs(expected_best_in_sds(len(peaks)) - expected_best_in_sds(len(constant))))
    lo, hi = SCHEDULE_GAIN_CLAIM
    rule = ("our gain +- 2 sqrt(2) seed SDs (two single runs, plus the difference the two sweeps' sizes make to "
            "their best) overlaps 2-5 points: confirmed; misses it: contradicted")
    if not np.isfinite(margin):
        word = NOT_RESOLVED
    else:
        word = CONFIRMED if gain - margin <= hi and gain + margin >= lo else CONTRADICTED
    return Verdict(word, f"The best one cycle beats the best constant rate at the same steps by {gain:+.1f} points "
                   f"(margin {margin:.1f}), against the claimed {lo:g}-{hi:g}.", rule, f"{gain:+.1f} points (margin {margin:.1f})")


def verdicts(chapter):
    """The seed claims this chapter answers, by name (the claims scorecard reads them)."""
    p = {name: chapter[name] for name in chapter.part}

    def profile(*parts):
        return " + ".join(dict.fromkeys(chapter.profile_of(q) for q in parts))
    out = {}
    numbers, _ = headline(p["headline_one_cycle"], p["headline_baseline"],
                          SETTINGS[chapter.profile_of("headline_one_cycle")]["steps"])
    if p["peak_sweep"] and p["constant_sweep"]:
        peaks, constant = lr_sweep(p["peak_sweep"]), lr_sweep(p["constant_sweep"], CONSTANT_LATE_EPOCHS)
        out["peak_ratio"] = replace(peak_ratio_verdict(largest_that_trains(peaks), largest_that_trains(constant)),
                                    profile=profile("peak_sweep", "constant_sweep"))
        out["schedule_gain"] = replace(schedule_gain_verdict(peaks, constant, numbers["cycle_sd"]),
                                       profile=profile("peak_sweep", "constant_sweep", "headline_one_cycle"))
        if p["sweep_range_test"]:   # shown with the sweeps, so from their profile and on their model
            where = where_rules_fall(our_suggestions(p["sweep_range_test"][0]), peaks, constant)
            at = profile("sweep_range_test", "constant_sweep")
            out.update({f"rule_{r}": replace(rule_verdict(where, r), profile=at) for r in RULE_CLAIMS})
    frame, _ = budget_against_baseline(p["budget_curve"], p["headline_baseline"], p["headline_one_cycle"])
    out["budget"] = replace(budget_verdict(frame), profile=profile("budget_curve", "headline_baseline"))
    one_cycle, constant_momentum = p["modern_one_cycle"][0], p["modern_constant_momentum"][0]
    momentum, _ = modern_verdict(one_cycle, constant_momentum, p["modern_step"], numbers["cycle_sd"])
    difference = percent_or_nan(one_cycle) - percent_or_nan(constant_momentum)
    out["cyclical_momentum"] = replace(momentum, number=f"{difference:+.2f} points",
                                       profile=profile("modern_one_cycle", "modern_constant_momentum", "headline_one_cycle"))
    for name, cycle, baseline in (("headline", "headline_one_cycle", "headline_baseline"),
                                  ("first_headline", "first_headline_one_cycle", "first_headline_baseline")):
        if p.get(cycle) and p.get(baseline):   # the paper's claims of Fig. 1a (the book's headline table reads them)
            numbers, verdict = headline(p[cycle], p[baseline], SETTINGS[chapter.profile_of(cycle)]["steps"])
            out[name] = replace(verdict, number=headline_number(numbers, p[cycle], p[baseline]),
                                profile=profile(cycle, baseline))
    return out


def headline_number(numbers, cycle, baseline):
    """A headline pair in a few words: each side's mean ± SD, the model, the steps and the seeds."""
    def side(mean, sd, records):
        spread = f" ± {sd:.2f}" if np.isfinite(sd) else ""
        value = f"{mean:.2f}{spread}%" if np.isfinite(mean) else "diverged"
        return f"{value} ({records[0]['final']['steps']:,} steps, {len(records)} seed{'s' * (len(records) > 1)})"
    return (f"{side(numbers['cycle_mean'], numbers['cycle_sd'], cycle)} against "
            f"{side(numbers['base_mean'], numbers['base_sd'], baseline)}, {MODEL_LABELS[cycle[0]['config']['model']]}")
