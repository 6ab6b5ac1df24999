"""Figures of the linear-scaling chapter."""
import matplotlib.pyplot as plt

from lrlab.experiments.linear_scaling import FIG1_BAND_SDS, MILESTONES, REFERENCE_BATCH, WARMUP_FRACTION, WARMUPS


def error_against_batch(batches, sweep, rule):
    """The paper's Fig. 1: mean error per batch with a ± FIG1_BAND_SDS SD band, single seeds as dots, diverged
    runs as crosses, the reference error and its noise margin, and where the curve climbs (`rule`: a Break)."""
    fig, ax = plt.subplots(figsize=(7.2, 3.8))
    band = FIG1_BAND_SDS * batches.sd
    if not rule.one_seed:   # one seed per batch: no SD, so neither the band nor the margin's line
        ax.fill_between(batches.batch, batches["mean"] - band, batches["mean"] + band,
                        color="C0", alpha=0.2, lw=0, label=f"mean ± {FIG1_BAND_SDS:g} SD over seeds")
    ax.plot(batches.batch, batches["mean"], "o-", color="C0", label="gradual warmup, linear rule")
    ax.plot(sweep.batch, sweep.error, ".", color="C0", alpha=0.5, ms=4)
    diverged = sweep[sweep.diverged]
    if len(diverged):   # in a row just above the curve: at a fixed error they would squash it flat
        high = max((batches["mean"] + band.fillna(0)).max(), sweep.error.max())
        low = min((batches["mean"] - band.fillna(0)).min(), sweep.error.min())
        ax.plot(diverged.batch, [high + 0.08 * (high - low)] * len(diverged), "x", color="C3", ms=8, ls="none",
                label="diverged")
    ax.axhline(rule.reference, color="0.4", ls="--", lw=1, label=f"batch {REFERENCE_BATCH}")
    if not rule.one_seed:
        ax.axhline(rule.reference + rule.threshold, color="0.4", ls=":", lw=1, label=f"+ {rule.sds:g} pooled SD")
    if rule.batch and rule.flat is not False:   # no flat stretch, no break to mark
        ax.axvline(rule.batch, color="C3", lw=1, alpha=0.7)
        ax.annotate(f"climbs at {rule.batch:,}", (rule.batch, ax.get_ylim()[1]), ha="right", va="top",
                    fontsize=9, color="C3", xytext=(-4, 0), textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches.batch, [f"{b:,}\n{lr:g}" for b, lr in zip(batches.batch, batches.lr)], fontsize=9)
    ax.set_xlabel("batch size (and its learning rate)")
    ax.set_ylabel("test error (%)")
    ax.legend(fontsize=9, frameon=False)
    return fig


def _train_error(record):
    return [h["epoch"] for h in record["history"]], [100 * (1 - h["train_acc"]) for h in record["history"]]


def warmups(reference_run, runs, batch, epochs):
    """The paper's Fig. 2: training error of each warmup's run at `batch` (`runs`: warmup -> record)
    against the reference run, the warmup shaded."""
    fig, axes = plt.subplots(1, 3, figsize=(7.8, 3.0), sharey=True)
    for ax, kind in zip(axes, WARMUPS):
        run = runs[kind]
        ax.plot(*_train_error(reference_run), color="0.3", label=f"batch {REFERENCE_BATCH}, LR 0.1")
        ax.plot(*_train_error(run), color="C3", label=f"batch {batch:,}, LR {run['config']['lr']:g}")
        if run["status"] == "diverged":
            ax.text(0.5, 0.5, "diverged", transform=ax.transAxes, ha="center", color="C3")
        if kind != "none":
            ax.axvspan(0, WARMUP_FRACTION * epochs, color="C1", alpha=0.12, lw=0)
        ax.set_title("no warmup" if kind == "none" else f"{kind} warmup", fontsize=10)
        ax.set_xlim(0, epochs)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("training error (%)")
    axes[0].legend(fontsize=9, frameon=False)
    return fig


def noise_scale(noise, rule, epochs):
    """The simple noise scale per epoch of the reference runs, beside where Fig. 1 holds and climbs."""
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    for seed, g in noise.groupby("seed"):
        ax.plot(g.epoch, g.b_simple, "o-", ms=4, label=f"batch {REFERENCE_BATCH}, seed {seed}")
    if rule.flat is not False:   # without a flat stretch there is no break to set beside the noise scale
        if rule.batch:
            ax.axhline(rule.batch, color="C3", lw=1, ls="--", label=f"first batch that climbs ({rule.batch:,})")
        ax.axhline(rule.largest_ok, color="C2", lw=1, ls=":", label=f"largest batch that holds ({rule.largest_ok:,})")
    for k, m in enumerate(MILESTONES):
        ax.axvline(m * epochs, color="0.6", lw=0.8, ls="-", label="LR ÷ 10" if k == 0 else None)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("epoch")
    ax.set_ylabel("B_simple = tr(Σ) / |G|²")
    ax.legend(fontsize=9, frameon=False)
    return fig
