"""Figures of the super-convergence chapter."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lrlab.experiments.super_convergence import (BASELINE_BUDGET, CHANCE_ACCURACY, PAPER_BUDGET, RANGE_TEST_SMOOTHING,
                                                 RULE_NAMES, accuracy_curves, headline_length_accuracy, range_axis_top,
                                                 range_trace)
from lrlab.lr_finder import RULES, agreeing_rules, smoothed

RULE_COLOURS = dict(zip((RULE_NAMES[r] for r in RULES), ("C2", "C3", "C4")))


def range_test(ours, theirs, ours_rules, their_rules):
    """Training loss against the LR of both range tests, each rule's suggestion as a vertical line
    (ours solid and named, torch-lr-finder's dotted)."""
    ours_lr, ours_loss = range_trace(ours)
    ref_lr, ref_loss = range_trace(theirs)
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.plot(ours_lr, ours_loss, color="0.8", lw=0.8, label="lrlab, raw loss per step")
    ax.plot(ours_lr, smoothed(ours_loss, RANGE_TEST_SMOOTHING), color="C0", label="lrlab, smoothed")
    ax.plot(ref_lr, ref_loss, color="C1", ls="--", label="torch-lr-finder, smoothed")
    for value, names in agreeing_rules(ours_rules, RULE_NAMES):
        ax.axvline(value, color=RULE_COLOURS[names.split(" = ")[0]], lw=1.2, label=f"{names}: {value:.3g}")
    for k, (value, names) in enumerate(agreeing_rules(their_rules, RULE_NAMES)):
        ax.axvline(value, color=RULE_COLOURS[names.split(" = ")[0]], lw=1.2, ls=":",
                   label="torch-lr-finder's suggestions (dotted, same colours)" if k == 0 else None)
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="training loss",
           ylim=(ours_loss[np.isfinite(ours_loss)].min() * 0.9, range_axis_top(ours_loss)))
    # below the axes: inside, the suggestions' lines ran through it
    ax.legend(fontsize=9, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    return fig


def accuracy_range_test(record):
    """Test accuracy during Smith's linear range test."""
    trace = pd.DataFrame(record["trace"])
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ax.plot(trace.lr, 100 * trace.test_acc, marker="o", ms=3)
    ax.set(xlabel="learning rate (linear, 0 to 3)", ylabel="test accuracy (%)")
    return fig


def peak_sweep(peaks, constant, suggested):
    """Final accuracy against the cycle's peak and against a constant LR; diverged runs as crosses at 10%
    (chance, dotted); the range test's suggestions as vertical lines."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for frame, label, marker in ((peaks, "one cycle, by its peak", "o"), (constant, "constant rate", "s")):
        trained = frame[frame.status != "diverged"]
        ax.plot(trained.lr, trained.acc, marker=marker, label=label)
        div = frame[frame.status == "diverged"]
        ax.plot(div.lr, np.full(len(div), CHANCE_ACCURACY), ls="none", marker="x", color="k", ms=8)
    ax.axhline(CHANCE_ACCURACY, color="0.5", ls=":", lw=1, label=f"chance: {CHANCE_ACCURACY:g}%")
    for value, names in agreeing_rules(suggested, RULE_NAMES):
        ax.axvline(value, color=RULE_COLOURS[names.split(" = ")[0]], lw=1.2, label=f"range test, {names}")
    ax.set(xscale="log", xlabel="peak (or constant) learning rate (log scale)", ylabel="final test accuracy (%)")
    # the lower left is where neither sweep has points: elsewhere the legend hid the cycle's collapse
    ax.legend(fontsize=9, loc="lower left")
    return fig


def one_cycle_against_baseline(cycle, baseline, steps):
    """The paper's Fig. 1a: test accuracy per iteration, mean over seeds with a ± 1 SD band."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for records, label in ((cycle, f"one cycle 0.1-3-0.1, {steps:,} steps"),
                           (baseline, f"piecewise constant 0.35, {BASELINE_BUDGET * steps:,} steps")):
        c = accuracy_curves(records)
        ax.plot(c.step, c["mean"], label=f"{label} ({int(c['count'].max())} seeds)")
        ax.fill_between(c.step, c["mean"] - c["std"].fillna(0), c["mean"] + c["std"].fillna(0), alpha=0.25)
    ax.set(xlabel="iteration", ylabel="test accuracy (%)")
    ax.legend(fontsize=9)
    return fig


def cycle_budget(budget, headline_steps, ours_label):
    """Final accuracy against the cycle's length, both relative to each side's headline cycle (length 1,
    accuracy 0): the two sides sit tens of points apart, so only their shapes can be compared."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    ours_x = budget.steps.to_numpy(float) / headline_steps
    ours_at_1 = headline_length_accuracy(budget, headline_steps)
    ax.plot(ours_x, budget.acc - ours_at_1, marker="o", label=f"{ours_label}; 0 = {ours_at_1:.1f}%")
    ax.plot(np.array(list(PAPER_BUDGET)) / 10_000, np.array(list(PAPER_BUDGET.values())) - PAPER_BUDGET[10_000],
            marker="D", color="k", ls="--",
            label=f"the paper (ResNet-56, full CIFAR-10; 1 = 10,000 iterations, 0 = {PAPER_BUDGET[10_000]}%)")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(xscale="log", xlabel="cycle length, relative to the headline cycle (log scale)",
           ylabel="test accuracy minus the\nheadline cycle's (points)")
    ax.set_xticks([0.2, 0.6, 1, 2], ["1/5", "3/5", "1", "2"])
    ax.minorticks_off()
    # below the axes: inside, it sat on our curve's steep start
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    return fig
