"""Figures of the rules-of-thumb chapter: schedules at equal budget, warmup and clipping for Adam, Lion
against Adam, AdamW's decay, batch growth against rate decay, and fine-tuning at discriminative rates."""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.lines import Line2D

from lrlab import schedules
from lrlab.experiments.rules_of_thumb import (ADAMW_ARMS, ADAMW_CLAIM, ADAMW_DECAY, BATCH_ARMS, CLAIMED_WARMUPS,
                                              CLIPPING_ARMS, DISCRIMINATIVE, FINE_TUNE_ARMS, LION_ARMS, LION_CLAIM,
                                              LION_WARMUP, ONE_RATE, SCHEDULE_POLICIES, compare, noise_path)
from lrlab.figures import label_log_decades


def _crosses(ax, x, y_at, color):
    ax.scatter(x, np.full(len(x), y_at), marker="x", color=color, s=50)


def schedule_comparison(frame, history, best, total_steps):
    """Left: each policy's LR over the run (peak 1), drawn by the schedulers the loop steps. Middle: final test
    accuracy against the peak rate (seed 0; crosses: diverged). Right: test accuracy per epoch of each policy's
    best run. Two by two, the fourth place holding the legend: three panels abreast would shrink the text."""
    fig, grid_axes = plt.subplots(2, 2, figsize=(7.9, 6.6))
    axes, legend_ax = grid_axes.flat[:3], grid_axes.flat[3]
    colors = {label: f"C{i}" for i, label in enumerate(SCHEDULE_POLICIES)}
    # each schedule a little thinner than the one drawn before it: where two share a stretch (a plateau at
    # the peak, say), the earlier shows around the later instead of vanishing under it
    for k, (label, (schedule, args)) in enumerate(SCHEDULE_POLICIES.items()):
        curve = schedules.lr_curve(schedule, total_steps, **args)
        axes[0].plot(curve["step"], curve["lr"], color=colors[label], label=label,
                     lw=1.4 + 0.6 * (len(SCHEDULE_POLICIES) - 1 - k))
    axes[0].set(xlabel="optimizer step", ylabel="learning rate / peak", title="the five schedules")
    grid = frame[frame.seed == 0].sort_values("lr")
    low = grid.acc.min() if grid.acc.notna().any() else 10.0
    for label, group in grid.groupby("policy", sort=False):
        ok = group.dropna(subset=["acc"])
        axes[1].plot(np.log2(ok.lr), ok.acc, marker="o", color=colors[label], label=label)
        _crosses(axes[1], np.log2(group[group.status == "diverged"].lr), low - 3, colors[label])
    axes[1].set(xlabel="log$_2$ peak learning rate", ylabel="final test accuracy (%)",
                title="each schedule over the same rates")
    for label in SCHEDULE_POLICIES:
        if label in best.index and isinstance(best.loc[label, "id"], str):
            run = history[history.id == best.loc[label, "id"]]
            axes[2].plot(run.epoch, 100 * run.test_acc, marker=".", color=colors[label], label=label)
    axes[2].set(xlabel="epoch", ylabel="test accuracy (%)", title="each at its best peak rate")
    # one legend for the three panels: the colours are the same throughout
    legend_ax.axis("off")
    legend_ax.legend([Line2D([], [], color=colors[label], lw=2) for label in SCHEDULE_POLICIES], list(SCHEDULE_POLICIES),
                     loc="center", fontsize=10, frameon=False, title="schedule")
    return fig


def warmup_sweep(frame, best, seed_sd):
    """Left: final validation loss against the peak rate, one line per warmup fraction (seed 0; crosses:
    diverged). Right: each warmup's best loss, beside no warmup's best and the margin around it that the
    verdict's comparison (the best of 5% and 10% against none, `compare`) must clear."""
    fig, axes = plt.subplots(1, 2, figsize=(7.9, 4.0), gridspec_kw={"width_ratios": [1.5, 1]})
    grid = frame[frame.seed == 0].sort_values("lr")
    high = grid.loss.max() if grid.loss.notna().any() else 4.0
    for i, (warmup, group) in enumerate(grid.groupby("warmup")):
        ok = group.dropna(subset=["loss"])
        line, = axes[0].plot(np.log2(ok.lr), ok.loss, marker="o", color=f"C{i}", label=f"warmup {warmup:.0%}")
        _crosses(axes[0], np.log2(group[group.status == "diverged"].lr), high + 0.1, line.get_color())
    axes[0].set(xlabel="log$_2$ peak learning rate", ylabel="final validation loss",
                title="Adam on the character GPT, by warmup")
    axes[0].legend(fontsize=9)
    shown = best.dropna(subset=["loss"])
    _, none, _, margin, _ = compare(best, list(CLAIMED_WARMUPS), 0.0, "loss", seed_sd, lower_is_better=True)
    if np.isfinite(none) and np.isfinite(margin):   # a point outside the band differs from no warmup beyond noise
        axes[1].axhspan(none - margin, none + margin, color="0.85", lw=0,
                        label=f"no warmup's best ± the margin ({none - margin:.3f} to {none + margin:.3f})")
        axes[1].legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    axes[1].plot(100 * shown.index.to_numpy(), shown.loss, marker="o", color="C0")
    # a point near the band's edge is read by its number, not by eye; neighbours' labels above and below in turn
    for k, (warmup, loss) in enumerate(shown.loss.items()):
        axes[1].annotate(f"{loss:.3f}", (100 * warmup, loss), xytext=(4, 5 if k % 2 == 0 else -13),
                         textcoords="offset points", fontsize=9)
    axes[1].set(xlabel="warmup (% of the steps)", ylabel="best validation loss",
                title="the best of each warmup")
    return fig


def clipping_sweep(frame, pairs, seed_sd):
    """Left: final validation loss against the peak rate, Adam without warmup, with and without clipping
    (seed 0; crosses: diverged). Right: the loss without clipping minus the loss with it at each rate, inside
    the band of 2 sqrt 2 seed SDs that the verdict reads as noise (crosses on the axis' edge: a side diverged)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.9, 3.9), layout="constrained")
    grid = frame[frame.seed == 0].sort_values("lr")
    high = grid.loss.max() if grid.loss.notna().any() else 4.0
    for arm, style in zip(CLIPPING_ARMS, (dict(color="C0", marker="o"), dict(color="C3", marker="s", ls="--"))):
        runs = grid[grid.arm == arm]
        ok = runs.dropna(subset=["loss"])
        axes[0].plot(np.log2(ok.lr), ok.loss, label=arm, **style)
        _crosses(axes[0], np.log2(runs[runs.status == "diverged"].lr), high + 0.1, style["color"])
    axes[0].set(xlabel="log$_2$ peak learning rate", ylabel="final validation loss", title="Adam, no warmup")
    axes[0].legend(fontsize=9)
    margin = 2 * np.sqrt(2) * seed_sd
    if np.isfinite(margin):
        band = axes[1].axhspan(-margin, margin, color="0.85", lw=0)
        fig.legend([band], [f"right: seed noise of a difference of two runs, ± {margin:.3f}"], fontsize=9,
                   loc="outside lower right", frameon=False)
    both = pairs[~pairs["clipped diverged"] & ~pairs["unclipped diverged"]]
    axes[1].axhline(0, color="0.5", lw=0.8)
    axes[1].plot(np.log2(both.lr), both.unclipped - both.clipped, marker="o", color="C3")
    one_side = pairs[pairs["clipped diverged"] | pairs["unclipped diverged"]]
    if len(one_side):
        top = axes[1].get_ylim()[1]
        _crosses(axes[1], np.log2(one_side.lr), top, "C3")
    axes[1].set(xlabel="log$_2$ peak learning rate", ylabel="loss without clipping\nminus loss with it",
                title="what clipping changes")
    return fig


LION_STYLES = {"Adam": dict(color="C0", marker="o"), "Lion": dict(color="C2", marker="s", ls="--")}


def _sweeps_with_bands(ax, frame, bands, styles):
    """Each arm's (`styles`: arm -> line style, in drawing order) final validation loss against the peak rate,
    seed 0 joined, the repeats as dots, crosses where a run diverged; under the curves, each arm's near-optimal
    band (`bands`: arm -> near_best.Band) as a bar to half a grid step, its best rate a tick on it."""
    losses = frame.loss.dropna()
    low, high = (losses.min(), losses.max()) if len(losses) else (2.0, 4.0)
    span = high - low or 1.0
    for i, (arm, style) in enumerate(styles.items()):
        runs = frame[frame.arm == arm]
        grid = runs[runs.seed == 0].sort_values("lr")
        ok = grid.dropna(subset=["loss"])
        ax.plot(np.log2(ok.lr), ok.loss, label=arm, **style)
        repeats = runs[(runs.seed > 0)].dropna(subset=["loss"])
        ax.scatter(np.log2(repeats.lr), repeats.loss, s=14, color=style["color"], alpha=0.6)
        _crosses(ax, np.log2(grid[grid.status == "diverged"].lr), high + 0.05 * span, style["color"])
        if arm in bands:
            band, y = bands[arm], low - (0.12 + 0.08 * i) * span
            a, z = band.reach()
            ax.plot([a, z], [y, y], color=style["color"], lw=5, alpha=0.5, solid_capstyle="butt")
            ax.plot([band.best], [y], marker="|", ms=12, mew=2, color=style["color"])
            ax.annotate(f"{arm}'s near-optimal band", (z, y), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=9, color=style["color"])
    ax.set(xlabel="log$_2$ peak learning rate", ylabel="final validation loss")


def lion_sweep(frame, bands):
    """Adam and Lion on one set-up (`_sweeps_with_bands`); shaded, where the claim puts Lion's best: 3-10x below
    Adam's."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    if "Adam" in bands:
        best = bands["Adam"].best
        ax.axvspan(best - np.log2(LION_CLAIM[1]), best - np.log2(LION_CLAIM[0]), color="C2", alpha=0.12, lw=0,
                   label=f"claimed: Lion's best {LION_CLAIM[0]:g}-{LION_CLAIM[1]:g}x below Adam's")
    _sweeps_with_bands(ax, frame, bands, {arm: LION_STYLES[arm] for arm in LION_ARMS})
    ax.set_title(f"Adam and Lion, character GPT, {LION_WARMUP:.0%} warmup")
    ax.legend(fontsize=9, loc="upper left")
    return fig


ADAMW_STYLES = dict(zip(ADAMW_ARMS, (dict(color="C0", marker="o"), dict(color="C3", marker="D", ls="--"))))


def adamw_sweep(frame, bands):
    """AdamW with and without the article's decay on one set-up (`_sweeps_with_bands`); shaded, the claimed
    range of rates."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    ax.axvspan(*np.log2(ADAMW_CLAIM), color="C3", alpha=0.12, lw=0,
               label=f"claimed: {ADAMW_CLAIM[0]:g} to {ADAMW_CLAIM[1]:g} with decay {ADAMW_DECAY:g}")
    _sweeps_with_bands(ax, frame, bands, ADAMW_STYLES)
    ax.set_title(f"AdamW with and without decay {ADAMW_DECAY:g}, character GPT, {LION_WARMUP:.0%} warmup")
    ax.legend(fontsize=9, loc="upper left")
    return fig


BATCH_STYLES = {"decay the rate": dict(color="C0", ls="-"), "grow the batch": dict(color="C1", ls="--"),
                "neither": dict(color="C7", ls=":")}


def batch_growth(frame, history):
    """Left: each arm's eta/B per epoch as a fraction of the start's (step decay's and batch growth's coincide by
    design). Right: test accuracy per epoch, each arm's mean over seeds with its seeds' range shaded."""
    fig, axes = plt.subplots(1, 2, figsize=(7.9, 3.8))
    for arm in BATCH_ARMS:
        runs = frame[frame.arm == arm]
        if not len(runs):
            continue
        style = BATCH_STYLES[arm]
        path = noise_path(runs.iloc[0])
        epochs = np.arange(len(path) + 1)
        axes[0].step(epochs, path + path[-1:], where="post", lw=2.5 if arm == "decay the rate" else 1.8,
                     label=arm, **style)
        acc = 100 * history[history.id.isin(runs.id)].pivot_table(index="epoch", columns="id", values="test_acc")
        axes[1].plot(acc.index, acc.mean(axis=1), label=arm, **style)
        axes[1].fill_between(acc.index, acc.min(axis=1), acc.max(axis=1), color=style["color"], alpha=0.2, lw=0)
    axes[0].set(yscale="log", xlabel="epoch", ylabel="learning rate / batch, vs the start (log scale)",
                title="the noise scale each arm sets")
    label_log_decades(axes[0].yaxis)
    axes[0].legend(fontsize=9)
    axes[1].set(xlabel="epoch", ylabel="test accuracy (%)", title="mean over seeds (band: their range)")
    return fig



def fine_tuning_sweep(frame, best, seed_sd):
    """Left: test accuracy on the target classes against the top group's rate, one line per arm (seed 0; the
    repeats' seeds as small points; crosses: diverged). Right: each arm's best, beside one rate's best and the
    margin around it that discriminative rates must clear (`layerwise_verdict`'s comparison)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.9, 4.0), gridspec_kw={"width_ratios": [1.5, 1]})
    colors = {arm: f"C{i}" for i, arm in enumerate(FINE_TUNE_ARMS)}
    low = frame.acc.min() if frame.acc.notna().any() else 20.0
    for arm in FINE_TUNE_ARMS:
        runs = frame[frame.arm == arm].sort_values("lr")
        grid, repeats = runs[runs.seed == 0], runs[(runs.seed > 0) & runs.acc.notna()]
        ok = grid.dropna(subset=["acc"])
        axes[0].plot(np.log2(ok.lr), ok.acc, marker="o", color=colors[arm], label=arm)
        axes[0].scatter(np.log2(repeats.lr), repeats.acc, s=14, color=colors[arm], alpha=0.7)
        _crosses(axes[0], np.log2(grid[grid.status == "diverged"].lr), low - 2, colors[arm])
    axes[0].set(xlabel="log$_2$ learning rate (the head's)", ylabel="test accuracy (%)",
                title="the new classes, by arm")
    axes[0].legend(fontsize=9)
    shown = best.dropna(subset=["acc"]).reindex([arm for arm in FINE_TUNE_ARMS if arm in best.index]).dropna(
        subset=["acc"])
    _, one, _, margin, _ = compare(best, DISCRIMINATIVE, ONE_RATE, "acc", seed_sd)
    if np.isfinite(one) and np.isfinite(margin):   # a point outside the band differs from one rate beyond noise
        axes[1].axhspan(one - margin, one + margin, color="0.85", lw=0,
                        label=f"one rate's best ± the margin ({one - margin:.1f} to {one + margin:.1f})")
        axes[1].legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    x = np.arange(len(shown))
    axes[1].scatter(x, shown.acc, color=[colors[arm] for arm in shown.index], zorder=3)
    for k, acc in zip(x, shown.acc):
        axes[1].annotate(f"{acc:.1f}", (k, acc), xytext=(6, -3), textcoords="offset points", fontsize=9)
    # two lines a label: three abreast in a narrow panel
    axes[1].set_xticks(x, [arm.replace(", ", ",\n") if ", " in arm else arm.replace(" ", "\n")
                           for arm in shown.index], fontsize=9)
    axes[1].set_xlim(-0.5, len(shown) - 0.3)
    axes[1].set(ylabel="best test accuracy (%)", title="the best of each arm")
    return fig
