"""Basics chapter: the quadratic needs no runs; this sweep shows the same story in a real network.

A constant-LR sweep of a 2-hidden-layer MLP on CIFAR-10, plain SGD and SGD with momentum 0.9, over
a log2 grid wide enough to include the runs that diverge. Momentum's effective step eta/(1-mu) is
then measured by lining up the two curves.

The `gpu` profile keeps the `full` network and data but trains 5 epochs, and stops the grid at
2^0: every rate above it diverged at the quick profile, and the momentum shift (log2 10 = 3.3
octaves between mu = 0 and 0.9) is read well below it.
"""
import math

import numpy as np

from lrlab.config import RunConfig
from lrlab.experiments import Chunk


def half_octaves(lo, hi):
    """log2 learning rates lo, lo + 1/2, ..., hi: fine enough to locate a factor-of-10 shift."""
    return [k / 2 for k in range(2 * lo, 2 * hi + 1)]


SETTINGS = {
    # per_class / test_per_class: CIFAR-10 images of each class (None: all of it)
    "smoke": dict(log2_lrs=[-6, -2], width=64, epochs=1, per_class=20, test_per_class=10),
    "quick": dict(log2_lrs=half_octaves(-10, 4), width=256, epochs=8, per_class=1000, test_per_class=500),
    "gpu": dict(log2_lrs=half_octaves(-12, 0), width=1024, epochs=5, per_class=None, test_per_class=None),
    "full": dict(log2_lrs=half_octaves(-12, 4), width=1024, epochs=20, per_class=None, test_per_class=None),
}
MOMENTA = (0.0, 0.9)


def runs(profile):
    s = SETTINGS[profile]
    base = RunConfig(task="cifar10", model="mlp", width=s["width"], optimizer="sgd", schedule="constant",
                     epochs=s["epochs"], batch_size=64, augment="none", train_per_class=s["per_class"],
                     test_per_class=s["test_per_class"])
    return [base.replace(lr=2.0 ** k, momentum=mu) for mu in MOMENTA for k in s["log2_lrs"]]


PART_TITLES = {"lr_sweep": "the LR sweep"}


def parts(profile):
    """One part: plain SGD and momentum are read against each other, so they come from one profile."""
    return {"lr_sweep": runs(profile)}


# what the gpu profile changes from `full` (the chapter prints it beside the results)
GPU_CHANGES = ("5 epochs instead of 20",
               "the LR grid stops at 2^0 instead of 2^4: every rate above 2^0 diverged at the quick profile")


def chunks(profile):
    return [Chunk("momentum_shift", 1, "momentum's effective step eta/(1-mu): the octave shift of the "
                  "divergence edge and the optimum between mu = 0 and 0.9", runs(profile))]


# -- analysis: what the chapter reads off its records and its quadratic (tested in tests/test_basics.py)
# (pandas is imported inside the functions that build frames: a sweep imports this module for its
# declarations and must run where only torch and numpy are installed)

CHANCE_LOSS = math.log(10)   # the loss of a uniform guess over CIFAR-10's classes


def momentum_table(lr=0.01, curvature=1e-3, momenta=(0.0, 0.5, 0.9, 0.95, 0.99), steps=4000):
    """Momentum's step measured on a quadratic (the decay rate along `curvature`, as the plain-descent
    step that would decay at that rate) against the claim eta/(1-mu)."""
    import pandas as pd
    from lrlab import quadratic   # torch: only the page that draws it needs it
    rows = []
    for mu in momenta:
        step = quadratic.effective_step(curvature, lr, mu, steps=steps)
        rows.append({"momentum μ": mu, "claimed η/(1−μ)": lr / (1 - mu),
                     "measured step": step, "measured / claimed": step * (1 - mu) / lr})
    return pd.DataFrame(rows)


def best_rates(runs):
    """momentum -> the run (a row of `Chapter.runs`) with the lowest final training loss among those that
    did not diverge."""
    best = {}
    for mu, group in runs.groupby("momentum"):
        ok = group[group.status == "completed"]
        if len(ok):
            best[mu] = ok.loc[ok.final_train_loss.idxmin()]
    return best


def first_diverged(runs, momentum):
    """The smallest LR that diverged at `momentum`, NaN when none did."""
    group = runs[(runs.momentum == momentum) & (runs.status == "diverged")]
    return float(group.lr.min()) if len(group) else float("nan")


def divergence_words(runs, momentum, starts):
    """"<starts> 0.5", or that no rate of the grid diverges."""
    lr = first_diverged(runs, momentum)
    return f"{starts} {lr:.4g}" if np.isfinite(lr) else f"no rate up to {float(runs.lr.max()):.4g} diverges"


def stuck(runs, momentum):
    """Runs that neither learn nor blow up: completed, their training loss still near ln 10."""
    return int(((runs.status == "completed") & (runs.final_train_loss > 0.98 * CHANCE_LOSS)
                & (runs.momentum == momentum)).sum())


def sweep_summary(runs):
    """The numbers the sweep's paragraph quotes."""
    best = best_rates(runs)
    return dict(n_stuck_momentum=stuck(runs, 0.9), n_stuck_plain=stuck(runs, 0.0),
                best_lr_ratio=float(best[0.0].lr / best[0.9].lr) if len(best) == 2 else float("nan"),
                best_lr_plain=float(best[0.0].lr) if 0.0 in best else float("nan"),
                best_lr_momentum=float(best[0.9].lr) if 0.9 in best else float("nan"))


def stability_words(runs, quadratic_plain, quadratic_momentum, momentum=0.9):
    """Whether momentum moves the divergence threshold the same way on the quadratic (thresholds
    measured there, plain and with `momentum`) and in the network (the first diverging rate of each),
    in a sentence. The network's rule is its grid: momentum lowers (raises) the threshold when its first
    diverging rate is at least one grid step below (above) plain SGD's; one seed each."""
    plain, heavy = first_diverged(runs, 0.0), first_diverged(runs, momentum)
    quad = "raises" if quadratic_momentum > quadratic_plain else "lowers"
    said = (f"On the quadratic, momentum {momentum:g} {quad} the divergence threshold ({quadratic_momentum:.4f} "
            f"against {quadratic_plain:.4f} without).")
    if not (np.isfinite(plain) and np.isfinite(heavy)):
        return said + " In the network the grid does not reach divergence for both, so it cannot say."
    net = "lowers" if heavy < plain else "raises" if heavy > plain else "leaves"
    said += (f" In the network it {net} it: the first diverging rate is {heavy:.4g} with momentum against "
             f"{plain:.4g} without (one seed each, on a grid of factor-√2 steps).")
    stuck_rates = runs[(runs.momentum == momentum) & (runs.status == "completed")
                       & (runs.final_train_loss > 0.98 * CHANCE_LOSS)].lr
    best = best_rates(runs)
    if len(stuck_rates) and 0.0 in best:
        said += (f" With momentum, learning already stops at {float(stuck_rates.min()):.4g}; plain SGD's best "
                 f"rate is {float(best[0.0].lr):.4g}.")
    if net != quad:
        said += " The effective-step lesson carries over from the quadratic; the stability lesson does not."
    return said
