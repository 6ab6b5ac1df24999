"""Figures of the LR-vs-width chapter."""
import matplotlib.pyplot as plt
import numpy as np

from lrlab.experiments.lr_vs_width import GPT3_TABLE_2_1, PARAMETERIZATIONS
from lrlab.figures import label_log_decades


def coord_check(coords):
    """Mean |output| per layer against width, at t = 1 (dotted) and the check's last step (solid); one panel
    per parameterization (`coords`: parameterization -> the coordinate-check frame)."""
    fig, axes = plt.subplots(1, 2, figsize=(7.9, 4.2), sharey=True, layout="constrained")
    colours = {module: f"C{i}" for i, module in enumerate(sorted(set().union(*(df.module for df in coords.values()))))}
    for ax, (p, df) in zip(axes, coords.items()):
        last = df.t.max()
        for (module, t), g in df[df.t.isin((1, last))].groupby(["module", "t"]):   # a layer's colour, its step's line
            g = g.groupby("width").l1.mean()
            ax.plot(g.index, g.values, marker="o", ms=3, ls="-" if t == last else ":", color=colours[module],
                    label=f"{module}, t = {t}")
        ax.set(xscale="log", yscale="log", title=f"{PARAMETERIZATIONS[p]}", xlabel="width")
        ax.set_xscale("log", base=2)
    label_log_decades(axes[0].yaxis)
    axes[0].set_ylabel("mean |output| of the layer (log scale)")
    fig.legend(*axes[1].get_legend_handles_labels(), fontsize=9, ncol=3, loc="outside lower center",
               frameon=False)
    return fig


def width_curves(curve, ylabel, title, ymax=None):
    """The final metric against log2 LR, one line per width; SP left, muP right (`curve`: the
    analysis's `curves` frame). The axis stops at `ymax` where given."""
    widths = sorted(curve.width.unique())
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(widths)))
    fig, axes = plt.subplots(1, 2, figsize=(7.9, 4.0), sharey=True)
    for ax, p in zip(axes, ("sp", "mup")):
        for color, w in zip(colors, widths):
            cw = curve[(curve.parameterization == p) & (curve.width == w)].sort_values("log2_lr")
            ax.plot(cw.log2_lr, cw["mean"], marker="o", ms=3, color=color, label=f"width {w}")
        ax.set(title=f"{title}: {PARAMETERIZATIONS[p]}", xlabel="log$_2$ learning rate")
    axes[0].set_ylabel(ylabel)
    finite = curve["mean"].dropna()
    top = finite.max() if ymax is None else min(finite.max(), ymax)
    axes[0].set_ylim(finite.min() - 0.05 * (top - finite.min()), top + 0.02 * (top - finite.min()))
    axes[1].legend(fontsize=9)
    return fig


def optimum_against_width(gpt_optimum, mlp_optimum):
    """Left: our optimal LR against width, both sweeps; right, on its own axes: GPT-3's published LRs."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.9, 4.0))
    # SP's markers larger than muP's: at the base width the two are one network, and one point would hide the other
    for p, marker, size in (("sp", "o", 8), ("mup", "s", 5)):
        o = gpt_optimum[gpt_optimum.parameterization == p]
        ax.plot(o.width, 2 ** o.log2_lr_opt, marker=marker, ms=size, label=f"{PARAMETERIZATIONS[p]} (char GPT)")
        o = mlp_optimum[mlp_optimum.parameterization == p]
        ax.plot(o.width, 2 ** o.log2_lr_opt, marker=marker, ms=size, ls="--", alpha=0.7,
                label=f"{PARAMETERIZATIONS[p]} (MLP, SGD)")
    ax.set(xscale="log", yscale="log", xlabel="width", ylabel="optimal learning rate (log scale)")
    ax.set_title("ours: optimum against width", fontsize=10)
    ax.set_xscale("log", base=2)
    # below the axes: inside, it hid a stretch of the GPT's muP line
    ax.legend(fontsize=9, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    ax2.plot([row[2] for row in GPT3_TABLE_2_1], [row[3] for row in GPT3_TABLE_2_1], marker="D", color="k")
    for name, _, d, lr in GPT3_TABLE_2_1:
        ax2.annotate(name.replace("GPT-3 ", ""), (d, lr), fontsize=9, xytext=(3, 3), textcoords="offset points")
    ax2.set(xscale="log", yscale="log", xlabel="d_model", ylabel="peak learning rate (Adam)")
    ax2.set_title("published: GPT-3's Table 2.1, not ours", fontsize=10)
    return fig


def decay_under_mup(curve, none, optimum, seed_optimum, test):
    """Part 3. Left: test loss against log2 of the normalised decay, one line per muP width (`curve`: the
    analysis's `decay_curves`), each width's no-decay loss (`none`: width -> loss) at the axis's left end.
    Right: each width's best decay (`optimum`, seed means; `seed_optimum`, each seed's own as dots) with the
    band a move must leave to count (`test`: `decay_shift_test`, around the narrowest width's optimum)."""
    widths = sorted(curve.width.unique())
    colors = dict(zip(widths, plt.cm.viridis(np.linspace(0, 0.9, len(widths)))))
    grid = sorted(curve.log2_decay.unique())
    at_none = (grid[0] if grid else 0) - 1.5   # the no-decay point: log2 of 0 is off any axis, so its own tick
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(7.9, 4.0))
    for w in widths:
        cw = curve[curve.width == w].sort_values("log2_decay")
        ax.plot(cw.log2_decay, cw["mean"], marker="o", ms=3, color=colors[w], label=f"width {w}")
        if w in none:
            ax.plot([at_none], [none[w]], marker="o", ms=5, mfc="none", color=colors[w])
    ax.set_xticks([at_none, *grid[::2]], ["none", *[f"{k:g}" for k in grid[::2]]])
    ax.axvline(at_none + 0.75, color="0.8", lw=0.8)
    ax.set(xlabel="log$_2$ normalised weight decay $\\lambda_{norm}$", ylabel="test loss")
    ax.set_title("muP, SGDW at one rate", fontsize=10)
    if len(curve):   # no decayed run yet: nothing to name
        ax.legend(fontsize=9)
    o = optimum.sort_values("width")
    ax2.plot(o.width, o.log2_decay_opt, marker="s", color="k", label="seed mean")
    ax2.scatter(seed_optimum.width, seed_optimum.log2_decay_opt, s=14, color="0.5", zorder=3, label="each seed")
    if np.isfinite(test["threshold"]) and len(o):
        first = float(o.log2_decay_opt.iloc[0])
        ax2.axhspan(first - test["threshold"], first + test["threshold"], color="C2", alpha=0.15,
                    label="no move: within the threshold")
        ax2.set_ylim(first - test["threshold"] - 0.5, first + test["threshold"] + 0.5)   # the band's edges in view
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(widths, [str(w) for w in widths])
    ax2.minorticks_off()
    ax2.set(xlabel="width", ylabel="best log$_2$ $\\lambda_{norm}$")
    ax2.set_title("best decay against width", fontsize=10)
    ax2.legend(fontsize=9)
    return fig
