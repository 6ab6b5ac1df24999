"""The landing page's cover: the learning rate's basic picture beside the scorecard of the claims."""
import matplotlib.pyplot as plt

from lrlab.figures.basics import lr_sweep
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, UNTESTED

WORD_COLOURS = {CONFIRMED: "#2e7d32", CONTRADICTED: "#c62828", NOT_RESOLVED: "#9e9e9e", UNTESTED: "#e0e0e0"}


def scorecard_bars(tally, ax):
    """One horizontal bar per chapter, split by verdict word (`tally`: claims.by_chapter)."""
    rows = list(tally.index)[::-1]   # the first chapter on top
    left = [0] * len(rows)
    for word, colour in WORD_COLOURS.items():
        counts = [int(tally.loc[r, word]) for r in rows]
        ax.barh(rows, counts, left=left, color=colour, label=word, edgecolor="white")
        for y, (x0, n) in enumerate(zip(left, counts)):
            if n:
                ax.text(x0 + n / 2, y, str(n), ha="center", va="center", fontsize=9,
                        color="white" if word in (CONFIRMED, CONTRADICTED) else "black")
        left = [a + b for a, b in zip(left, counts)]
    ax.set(xlabel="claims", title=f"the articles' {int(tally.to_numpy().sum())} claims, by verdict")
    ax.legend(fontsize=9, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.22), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)


def cover(sweep_runs, tally):
    """Left: training loss against the learning rate (ch. 1's sweep: too small crawls, too large
    diverges). Right: where each chapter's claims stand."""
    fig, axes = plt.subplots(1, 2, figsize=(7.9, 4.2), gridspec_kw=dict(width_ratios=[1.1, 1]))
    lr_sweep(sweep_runs, axes[0])
    scorecard_bars(tally, axes[1])
    return fig
