"""Figures of the weight-decay chapter."""
import matplotlib.pyplot as plt
import numpy as np

from lrlab.experiments.weight_decay import OPTIMIZER_LABELS, OPTIMIZERS, top_cells

DODGE = 0.12   # octaves between neighbouring optimizers' points in best_decay_per_row


def colour_range(cells):
    """(vmin, vmax) of the heatmaps' colours: the best error to the 90th percentile, so a few blown-up
    cells do not wash out the basin."""
    finite = cells.error.dropna()
    return finite.min(), min(finite.max(), np.percentile(finite, 90))


def _heatmap(ax, panel, optimizer, vmin, vmax):
    lrs = sorted(panel.log2_lr.unique(), reverse=True)           # largest LR on top
    lams = sorted(panel.log2_lambda_norm.unique())                # -inf (no decay) first
    table = panel.pivot(index="log2_lr", columns="log2_lambda_norm", values="error").reindex(index=lrs, columns=lams)
    image = ax.imshow(table.values, cmap="viridis_r", vmin=vmin, vmax=vmax, aspect="equal")
    for i, lr in enumerate(lrs):
        for j, lam in enumerate(lams):
            row = panel[(panel.log2_lr == lr) & (panel.log2_lambda_norm == lam)]
            if row.empty:
                continue
            value = row.error.iloc[0]
            text = "div" if np.isnan(value) else f"{value:.1f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=9,
                    color="white" if not np.isnan(value) and value > (vmin + vmax) / 2 else "black")
    for _, best in top_cells(panel).iterrows():
        ax.add_patch(plt.Circle((lams.index(best.log2_lambda_norm), lrs.index(best.log2_lr)), 0.42,
                                fill=False, color="k", lw=1.2))
    ax.set_xticks(range(len(lams)), ["0" if not np.isfinite(l) else f"$2^{{{l:g}}}$" for l in lams], fontsize=9)
    ax.set_yticks(range(len(lrs)), [f"$2^{{{l:g}}}$" for l in lrs], fontsize=9)
    ax.set(title=OPTIMIZER_LABELS[optimizer], xlabel="normalised weight decay $\\lambda_{norm}$",
           ylabel="initial learning rate")
    ax.axvline(0.5, color="white", lw=2)                             # the no-decay column stands apart
    return image


def heatmaps(cells):
    """The paper's Fig. 2: test error over LR x decay, one panel per optimizer, the 10 best circled."""
    vmin, vmax = colour_range(cells)
    fig, axes = plt.subplots(2, 2, figsize=(7.9, 7.7), layout="constrained")
    for ax, optimizer in zip(axes.flat, OPTIMIZERS):
        image = _heatmap(ax, cells[cells.optimizer == optimizer], optimizer, vmin, vmax)
    fig.colorbar(image, ax=axes, shrink=0.5, label="test error (%)")
    return fig


def best_decay_per_row(best_rows):
    """The best log2 lambda_norm on each LR row, per optimizer (coupled: slope -1; decoupled: flat); open
    markers for rows whose best sits on the grid's edge (a bound, not a measurement). The optimizers'
    points are set a little apart sideways (DODGE): on a shared edge row they would hide each other."""
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    for k, (optimizer, marker) in enumerate(zip(OPTIMIZERS, "os^D")):
        rows = best_rows[optimizer]
        x = rows.log2_lr - rows.log2_lr.max() + DODGE * (k - (len(OPTIMIZERS) - 1) / 2)
        edge = rows.edge.astype(bool).to_numpy()
        line, = ax.plot(x, rows.best, ls="-" if optimizer.endswith("w") else "--", marker=marker, ms=6,
                        label=OPTIMIZER_LABELS[optimizer])
        ax.plot(x[edge], rows.best[edge], marker=marker, ms=6, ls="none", color=line.get_color(), mfc="white")
    ax.plot([], [], marker="o", ls="none", color="0.4", mfc="white", label="open: best on the grid's edge")
    ax.set(xlabel="log$_2$ learning rate, relative to the optimizer's largest", ylabel="log$_2$ best $\\lambda_{norm}$")
    # below the axes: inside, it hid a stretch of one optimizer's line or another's
    ax.legend(fontsize=9, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
    return fig
