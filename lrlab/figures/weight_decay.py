"""Figures of the weight-decay chapter."""
import matplotlib.pyplot as plt
import numpy as np

from lrlab.experiments.weight_decay import OPTIMIZER_LABELS, OPTIMIZERS, PREDICTED_COUPLING, top_cells


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


def best_decay_per_row(best_rows, slopes, lambda_edges):
    """The best log2 lambda_norm on each LR row, one panel per optimizer (L2 on top, decoupled below;
    SGD left, Adam right), each with its fitted line and, through the same centre, the line its update
    rule predicts (coupled: slope -1, decoupled: flat); the panel's title gives both slopes. Open
    markers: rows whose best sits on the grid's edge (a bound, not a measurement); dotted: the grid's
    edges `lambda_edges` (lowest, highest log2 lambda_norm swept)."""
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.6), sharex="col", sharey=True, layout="constrained")
    for ax, optimizer in zip(axes.flat, ("sgd", "adam", "sgdw", "adamw")):
        rows, colour = best_rows[optimizer], f"C{OPTIMIZERS.index(optimizer)}"
        edge = rows.edge.astype(bool).to_numpy()
        slope, se = slopes.slope[optimizer], slopes["standard error"][optimizer]
        predicted = -1 if PREDICTED_COUPLING[optimizer] == "coupled" else 0
        for bound in lambda_edges:
            ax.axhline(bound, color="0.6", lw=0.8, ls=":")
        if len(rows) >= 2:
            x = np.array([rows.log2_lr.min(), rows.log2_lr.max()])
            centre_x, centre_y = rows.log2_lr.mean(), rows.best.mean()
            ax.plot(x, centre_y + predicted * (x - centre_x), color="0.55", ls="--", lw=1.2, label="predicted")
            ax.plot(x, centre_y + slope * (x - centre_x), color=colour, lw=1.6, label="fit")
        ax.plot(rows.log2_lr[~edge], rows.best[~edge], "o", color=colour, ms=6)
        ax.plot(rows.log2_lr[edge], rows.best[edge], "o", color=colour, ms=6, mfc="white")
        fitted = f"{slope:+.2f}" + (f" ± {se:.2f}" if np.isfinite(se) else "") if np.isfinite(slope) else "none"
        ax.set_title(f"{OPTIMIZER_LABELS[optimizer]}: slope {fitted} ({PREDICTED_COUPLING[optimizer]}: {predicted})",
                     fontsize=10)
    low, high = lambda_edges
    axes[0, 0].set_ylim(low - 0.7, high + 0.7)   # the grid, not the predicted lines, sets the scale
    for ax in axes[-1]:
        ax.set_xlabel("log$_2$ learning rate")
    for ax in axes[:, 0]:
        ax.set_ylabel("log$_2$ best $\\lambda_{norm}$")
    keys = [plt.Line2D([], [], color="0.25", lw=1.6, label="fit through the rows"),
            plt.Line2D([], [], color="0.55", ls="--", lw=1.2, label="what the update rule predicts"),
            plt.Line2D([], [], color="0.6", ls=":", lw=0.8, label="the grid's edges"),
            plt.Line2D([], [], color="0.4", marker="o", ls="none", mfc="white", label="best on the grid's edge")]
    fig.legend(handles=keys, loc="outside lower center", ncol=2, fontsize=9, frameon=False)
    return fig
