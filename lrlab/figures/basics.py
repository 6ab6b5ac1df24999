"""Figures of the basics chapter."""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from lrlab import quadratic, schedules
from lrlab.experiments.basics import CHANCE_LOSS
from lrlab.names import SCHEDULES


def quadratic_descent(curvatures, cases, steps=40):
    """Gradient descent on a quadratic at each learning rate of `cases` (label -> LR): the loss (left)
    and the stiff coordinate (right)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.8, 3.3))
    for label, lr in cases.items():
        thetas, losses = quadratic.descend(curvatures, lr, steps=steps, theta0=[1.0] * len(curvatures))
        axes[0].semilogy(losses, label=f"{label}: $\\eta$ = {lr:.2f}")
        axes[1].plot(thetas[:12, 1], marker=".", label=label)
    axes[0].set(xlabel="step", ylabel="loss", title="loss (log scale)")
    axes[1].set(xlabel="step", ylabel="$\\theta_2$ (curvature 10)", title="the stiff coordinate")
    # one legend for both panels, below them: inside the loss panel it hid a stretch of a curve
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=9, ncol=len(cases), loc="upper center",
               bbox_to_anchor=(0.5, -0.02), frameon=False)
    return fig


def lr_sweep(runs, ax=None):
    """Final training loss against the constant LR, one line per momentum; crosses for diverged runs
    (on `ax` when given: the landing page's cover draws it beside the scorecard)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6)) if ax is None else (ax.figure, ax)
    finished = runs[runs.status == "completed"].final_train_loss
    top = max(finished.max() if len(finished) else CHANCE_LOSS, CHANCE_LOSS)
    # one row of crosses per momentum, above every curve: in a shared row, one momentum's crosses hid the other's
    rows = {mu: top * (1.10 + 0.06 * i) for i, mu in enumerate(sorted(runs.momentum.unique()))}
    for mu, group in runs.sort_values("lr").groupby("momentum"):
        ok = group[group.status == "completed"]
        bad = group[group.status == "diverged"]
        line, = ax.plot(np.log2(ok.lr), ok.final_train_loss, marker="o", label=f"momentum {mu:g}")
        ax.scatter(np.log2(bad.lr), np.full(len(bad), rows[mu]), marker="x", color=line.get_color(), s=50)
    ax.axhline(CHANCE_LOSS, color="0.5", ls="--", lw=1, label="ln 10: a uniform guess")
    diverged = runs[runs.status == "diverged"]
    if len(diverged):   # named beside the leftmost cross, where a reader looks for it
        ax.text(np.log2(diverged.lr.min()) - 0.25, np.mean(list(rows.values())), "diverged", ha="right",
                va="center", fontsize=9, color="0.3")
    ax.set(xlabel="log$_2$ learning rate", ylabel="final training loss",
           title="constant learning rate, MLP on CIFAR-10")
    low, high = ax.get_ylim()   # no loss ticks beside the crosses: their height is not a loss
    ax.set_yticks([t for t in ax.get_yticks() if low <= t <= top * 1.02])
    ax.set_ylim(low, high)
    # below the axes: inside, it would hide the curves' left ends or the row of crosses
    ax.legend(fontsize=9, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    return fig


def schedule_gallery(names=SCHEDULES, total=1000, cols=3):
    """Every schedule over `total` steps with a peak of 1, drawn by the scheduler objects the training
    loop steps; momentum (dashed, right axis) where the schedule moves it."""
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(7.8, 1.75 * rows), sharex=True)
    for ax, name in zip(axes.flat, names):
        curve = schedules.lr_curve(name, total, **schedules.DEFAULT_GALLERY_ARGS.get(name, {}))
        ax.plot(curve["step"], curve["lr"], color="C0")
        ax.set_title(name, fontsize=9.5)
        ax.yaxis.set_major_locator(MaxNLocator(3))
        ax.set_ylim(0, 1.08 * max(curve["lr"]))
        if len(set(np.round(curve["momentum"], 6))) > 1:
            ax2 = ax.twinx()
            ax2.plot(curve["step"], curve["momentum"], color="C1", ls="--", lw=1)
            ax2.tick_params(labelsize=9, colors="C1")
            ax2.yaxis.set_major_locator(MaxNLocator(2))
        ax.tick_params(labelsize=9)
        ax.xaxis.set_major_locator(MaxNLocator(3))
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    for ax in list(axes.flat)[len(names) - cols:len(names)]:   # each column's lowest panel numbers its steps
        ax.xaxis.set_tick_params(labelbottom=True)
    fig.supxlabel("optimizer step", fontsize=10)
    fig.supylabel("learning rate / peak", fontsize=10)
    return fig
