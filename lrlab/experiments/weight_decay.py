"""Decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization").

The paper's Fig. 2: final test error over a log2 grid of initial LR x weight decay for SGD with
L2, SGDW, Adam with L2 and AdamW, batch 128, crop+flip, cosine annealing, a fixed epoch budget.
The decay axis is the paper's normalised weight decay (its Appendix B.1),
lambda = lambda_norm * sqrt(b / (B * T)), so one axis means the same thing at every profile's
budget; `RunConfig.weight_decay` holds the resulting lambda (see lrlab.optim for torch's mapping).

A no-decay column (lambda = 0, where SGDW is SGD and AdamW is Adam) shows what decay buys at all.
Headline seeds: the paper's "15% better at the default LR 0.001" compares Adam and AdamW at one LR,
so that row (2^-10, the grid's point nearest 0.001) runs with extra seeds for both.
"""
import math
from dataclasses import replace

import numpy as np

from lrlab.config import RunConfig
from lrlab.errors import check_positive
from lrlab.experiments import Chunk, train_images
from lrlab.names import MODEL_LABELS
from lrlab.stats import (BEST_GAP_RULE, best_gap, expected_range_in_sds, listed, number_word, plus_minus,
                         refined_minimum, with_error)
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, PaperClaim, Verdict

OPTIMIZERS = ("sgd", "sgdw", "adam", "adamw")   # the lattice's: coupled L2 and decoupled decay, for SGD and Adam
LOG2_LRS = {"sgd": range(-7, -1), "sgdw": range(-7, -1),       # 1/128 .. 1/4
            "adam": range(-13, -5), "adamw": range(-13, -5)}     # 1/8192 .. 1/64; 2^-10 ~ 0.001
# Adam's rows reach 2^-6 because at the quick profile's short budget its best LR sat on 2^-8, the old edge
LOG2_LAMBDA_NORM = range(-8, -2)                                 # 1/256 .. 1/8 (paper: 0.025-0.05)
HEADLINE_LOG2_LR = -10                                           # Adam vs AdamW at LR ~ 0.001
BATCH, SGD_MOMENTUM = 128, 0.9   # every run's batch size, and SGD's and SGDW's momentum (Adam's betas: torch's)

# gpu: the grid at 10 epochs, the coarse lattice first (the basin's orientation shows on it), then the
# fine fill, and the headline row's seeds at 30 epochs (the paper's 15% is a claim about a trained net)
COARSE_LOG2_LRS = {"sgd": (-6, -4, -2), "sgdw": (-6, -4, -2), "adam": (-12, -10, -8, -6), "adamw": (-12, -10, -8, -6)}
COARSE_LOG2_LAMBDA_NORM = (-7, -5, -3)

SETTINGS = {
    # grid: "all" of it, or its "corners"; headline_seeds: seeds of the headline row (Adam and AdamW at
    # LR 2^-10); headline_epochs: that row's budget where it trains longer than the grid (in its own part)
    "smoke": dict(model="resnet8", epochs=1, per_class=20, test_per_class=5, headline_seeds=1, grid="corners",
                  headline_epochs=1),
    "quick": dict(model="resnet8", epochs=8, per_class=200, test_per_class=200, headline_seeds=3, grid="all",
                  headline_epochs=8),
    "gpu": dict(model="resnet20", epochs=10, per_class=None, test_per_class=None, headline_seeds=3, grid="all",
                headline_epochs=30),
    "full": dict(model="resnet20", epochs=30, per_class=None, test_per_class=None, headline_seeds=3, grid="all",
                 headline_epochs=30),
}


# what the gpu profile changes from `full` (the chapter prints it beside the results)
GPU_CHANGES = (
    "the LR x decay grid trains 10 epochs, not 30; the normalised decay keeps its meaning (lambda follows "
    "sqrt(1/T))",
    "the headline row (Adam and AdamW at LR 2^-10) trains 30 epochs at 3 decays x 2 seeds, plus a third "
    "seed at the middle decay, instead of 3 seeds at each of the grid's 6 decays",
)


def lambda_from_normalized(lambda_norm, batch_size, n_train, epochs):
    """The paper's Appendix B.1: lambda = lambda_norm * sqrt(b / (B * T))."""
    for name, value in (("lambda_norm", lambda_norm), ("batch_size", batch_size),
                        ("n_train", n_train), ("epochs", epochs)):
        check_positive(name, value)
    return lambda_norm * math.sqrt(batch_size / (n_train * epochs))


def _declared(profile):
    """Every run with where it sits: (optimizer, log2 LR, log2 lambda_norm or None, seed, config)."""
    s = SETTINGS[profile]
    epochs, per_class, headline_epochs = s["epochs"], s["per_class"], s["headline_epochs"]
    n_train = train_images(per_class)
    base = RunConfig(task="cifar10", model=s["model"], batch_size=BATCH, augment="crop+flip", schedule="cosine",
                     momentum=SGD_MOMENTUM, epochs=epochs, train_per_class=per_class,
                     test_per_class=s["test_per_class"])

    def point(optimizer, k, j, seed=0, epochs=epochs):
        wd = lambda_from_normalized(2.0 ** j, BATCH, n_train, epochs)
        return (optimizer, k, j, seed, base.replace(optimizer=optimizer, lr=2.0 ** k, weight_decay=wd, seed=seed,
                                                     epochs=epochs))

    out = []
    pick = (lambda axis: [axis[0], axis[-1]]) if s["grid"] == "corners" else list
    for optimizer in OPTIMIZERS:
        for k in pick(LOG2_LRS[optimizer]):
            for j in pick(LOG2_LAMBDA_NORM):
                headline_row = optimizer in ("adam", "adamw") and k == HEADLINE_LOG2_LR
                seeds = s["headline_seeds"] if headline_row and headline_epochs == epochs else 1
                out += [point(optimizer, k, j, s) for s in range(seeds)]
    # the no-decay column: what decay buys. At lambda = 0, SGDW is SGD and AdamW is Adam.
    for optimizer in ("sgd", "adam"):
        out += [(optimizer, k, None, 0, base.replace(optimizer=optimizer, lr=2.0 ** k))
                for k in pick(LOG2_LRS[optimizer])]
    if headline_epochs != epochs:   # the headline row trained longer: 3 decays x 2 seeds, a third at the middle
        for optimizer in ("adam", "adamw"):
            out += [point(optimizer, HEADLINE_LOG2_LR, j, s, headline_epochs)
                    for j in COARSE_LOG2_LAMBDA_NORM for s in range(2)]
            out.append(point(optimizer, HEADLINE_LOG2_LR, COARSE_LOG2_LAMBDA_NORM[1], 2, headline_epochs))
    return out


def runs(profile):
    return [config for *_, config in _declared(profile)]


PART_TITLES = {"grid": "the LR x decay grid", "headline_long": "the headline row"}


def parts(profile):
    """The LR x decay grid at the profile's epochs, and the headline row's longer runs where it has them."""
    epochs = SETTINGS[profile]["epochs"]
    declared = runs(profile)
    return {"grid": [c for c in declared if c.epochs == epochs],
            "headline_long": [c for c in declared if c.epochs != epochs]}


def chunks(profile):
    """The coarse lattice first (the basin's orientation), then the fill per optimizer, then the seeds."""
    epochs = SETTINGS[profile]["epochs"]
    coarse, fill, seeds = [], {o: [] for o in OPTIMIZERS}, []
    for optimizer, k, j, seed, config in _declared(profile):
        if seed > 0 or config.epochs != epochs:
            seeds.append(config)
        elif k in COARSE_LOG2_LRS[optimizer] and j in COARSE_LOG2_LAMBDA_NORM:
            coarse.append(config)
        else:
            fill[optimizer].append(config)
    return ([Chunk("coarse", 1, "the basin's orientation: coupled (on the LR x decay diagonal) for SGD and "
                   "Adam with L2, decoupled (axis-aligned) for SGDW and AdamW", coarse)]
            + [Chunk(f"fill_{o}", 2, f"the rest of {o}'s LR x decay grid: where its optimum is"
                     + (", and what decay buys against none" if o in ("sgd", "adam") else ""), fill[o])
               for o in OPTIMIZERS]
            + [Chunk("headline_seeds", 2, "AdamW against Adam at LR 2^-10 (about 0.001) over seeds: the paper's "
                     "15% better", seeds)])


# -- analysis: what the chapter reads off its records (each rule tested in tests/test_weight_decay.py)
# (pandas is imported inside the functions that build frames: a sweep imports this module for its
# declarations and must run where only torch and numpy are installed)

OPTIMIZER_LABELS = {"sgd": "SGD + L2", "sgdw": "SGDW", "adam": "Adam + L2", "adamw": "AdamW"}
# what the update rules predict: an L2 term is scaled by the LR (coupled), a decoupled decay is not
PREDICTED_COUPLING = {"sgd": "coupled", "sgdw": "decoupled", "adam": "coupled", "adamw": "decoupled"}


def lambda_per_unit_norm(batch_size, per_class, epochs):
    """lambda per unit lambda_norm for a run's batch, training set (`per_class` images of each class,
    all of CIFAR-10 when None or NaN) and epochs."""
    return lambda_from_normalized(1.0, int(batch_size), train_images(per_class), int(epochs))


def on_the_grid(frame):
    """Runs (a `Chapter.runs` frame) with their grid coordinates (log2 LR; log2 lambda_norm, -inf for no
    decay) and test error in % (NaN for a diverged run). At lambda = 0 SGDW is SGD and AdamW is Adam:
    those runs are declared once and appear under both names."""
    import pandas as pd
    frame = frame.copy()
    frame["log2_lr"] = np.log2(frame.lr).round(3)
    to_lambda = frame.apply(lambda r: lambda_per_unit_norm(r.batch_size, r.train_per_class, r.epochs), axis=1)
    frame["log2_lambda_norm"] = np.where(frame.weight_decay > 0,
                                         np.log2(frame.weight_decay.where(frame.weight_decay > 0) / to_lambda).round(3),
                                         -np.inf)
    frame["error"] = 100 * (1 - frame.final_test_acc.where(frame.status == "completed"))
    no_decay = frame[frame.weight_decay == 0]
    return pd.concat([frame[frame.weight_decay > 0],
                      no_decay.assign(optimizer=no_decay.optimizer.map({"sgd": "sgdw", "adam": "adamw"})), no_decay])


def grid_cells(runs):
    """One row per (optimizer, log2 LR, log2 lambda_norm): mean error and its SD over seeds, the seeds,
    how many diverged."""
    return (runs.groupby(["optimizer", "log2_lr", "log2_lambda_norm"])
            .agg(error=("error", "mean"), spread=("error", "std"), seeds=("seed", "nunique"),
                 diverged=("status", lambda s: int((s == "diverged").sum())))
            .reset_index())


def diverged_cells_words(cells):
    """The heatmaps' caption on "div": how many cells it marks (every run of the cell diverged), or none."""
    n = int(cells.error.isna().sum())
    if not n:
        return "no cell of the grid diverged"
    return f'"div" marks {"the cell" if n == 1 else f"the {n} cells"} whose runs all diverged'

CIRCLED = 10   # the best cells the heatmaps circle in each panel, as the paper's Fig. 2 does


def top_cells(panel, k=CIRCLED):
    """A panel's `k` best cells, as the paper circles them."""
    return panel.dropna(subset=["error"]).nsmallest(k, "error")


def decay_mapping(log2_lambda_norms, to_lambda):
    """The grid's decays in the paper's convention and as each torch optimizer receives them."""
    import pandas as pd
    adam_lr, sgd_lr = 2.0 ** HEADLINE_LOG2_LR, 2.0 ** -4
    lam = [2.0 ** j * to_lambda for j in log2_lambda_norms]
    return pd.DataFrame({
        "λ_norm": [2.0 ** j for j in log2_lambda_norms],
        "λ (the paper)": lam,
        "torch SGD/Adam weight_decay": lam,
        f"torch AdamW weight_decay at α = 2^{HEADLINE_LOG2_LR}": [v / adam_lr for v in lam],
        "lrlab SGDW weight_decay at α = 2^-4": [v / sgd_lr for v in lam],
    })


def torch_weight_decays(lambda_norm, batch_sizes, per_class, epochs, sgd_lr=2.0 ** -4,
                        adam_lr=2.0 ** HEADLINE_LOG2_LR):
    """What each optimizer receives as `weight_decay` for one normalised decay, at each batch size in
    `batch_sizes` with a run's training set (`per_class`) and epochs: each optimizer is built by
    `lrlab.optim.build_optimizer` (the training loop's path) on one tensor, SGD and SGDW at `sgd_lr`,
    Adam and AdamW at `adam_lr`, and its group's weight_decay read back. One row per batch size."""
    import pandas as pd
    import torch

    from lrlab.optim import build_optimizer
    columns = {"sgd": "torch SGD", "sgdw": f"lrlab SGDW at α = 2^{math.log2(sgd_lr):g}", "adam": "torch Adam",
               "adamw": f"torch AdamW at α = 2^{math.log2(adam_lr):g}"}
    rows = []
    for batch_size in batch_sizes:
        lam = lambda_norm * lambda_per_unit_norm(batch_size, per_class, epochs)
        row = {"batch b": int(batch_size), "λ (the paper)": lam}
        for optimizer in OPTIMIZERS:
            lr = sgd_lr if optimizer in ("sgd", "sgdw") else adam_lr
            built = build_optimizer([torch.zeros(1, requires_grad=True)], optimizer, lr, weight_decay=lam)
            row[columns[optimizer]] = float(built.param_groups[0]["weight_decay"])
        rows.append(row)
    return pd.DataFrame(rows)


def l2_against_decoupled(lr, l2, momentum, steps=200, curvatures=(0.0, 1.0)):
    """SGD + L2 (`l2`, torch's weight_decay) against SGDW with the paper's lambda = lr * l2, the decay that
    makes them the same update for plain SGD, on L = 1/2 sum_i h_i theta_i^2 from theta = 1, at a constant
    LR, both stepped by `lrlab.quadratic.descend`. The first curvature 0 is a weight the loss ignores,
    which only decay moves. Returns the flat weight after `steps` under each, the largest gap between the
    two trajectories, and (1 - lr * l2)^steps, what the decay term alone would leave."""
    from lrlab import quadratic   # torch: only the page that shows it needs it
    paths = {name: quadratic.descend(curvatures, lr, steps, momentum=momentum, optimizer=name, weight_decay=decay)[0]
             for name, decay in (("sgd", l2), ("sgdw", lr * l2))}
    return dict(l2=float(paths["sgd"][-1, 0]), sgdw=float(paths["sgdw"][-1, 0]),
                gap=float(np.abs(paths["sgd"] - paths["sgdw"]).max()), decay_alone=(1 - lr * l2) ** steps)


def momentum_case_words(lr, l2, momentum, steps, book_momentum=SGD_MOMENTUM):
    """The flat-weight exercise's answer at the momentum its command asks for: which of the solution's two
    cases it is (no momentum, the chapter's), or, at another momentum, the solution's estimate through the
    buffer beside the measured end, and whether that estimate's condition holds there."""
    run = l2_against_decoupled(lr, l2, momentum, steps=steps)
    measured = f"SGD + L2 ends at {run['l2']:.4f} and SGDW at {run['sgdw']:.4f}"
    if momentum == 0:
        return f"The command's μ = 0 is the first case: {measured}, and (1 − αλ)ᵀ is {run['decay_alone']:.4f}."
    if momentum == book_momentum:
        return f"The command's μ = {momentum:g} is the chapter's, the second case: {measured}."
    horizon = 1 / (1 - momentum)
    estimate = max(0.0, 1 - lr * l2 * horizon) ** steps
    bound = (1 - math.sqrt(momentum)) ** 2
    condition = (f"αλ = {lr * l2:g} is well below (1 − √μ)² = {bound:.2g}" if lr * l2 <= bound / 10 else
                 f"αλ = {lr * l2:g} is not small beside (1 − √μ)² = {bound:.2g}, so the estimate is rough")
    return (f"At the command's μ = {momentum:g}, SGDW again leaves θ₁ to the decay alone; SGD + L2's buffer sums the "
            f"decay over about {horizon:.3g} steps, so θ₁ ends near (1 − αλ/(1 − μ))ᵀ ≈ {estimate:.3f} ({condition}). "
            f"Measured: {measured}.")


DECAY_SIGNAL = 1.5   # decay "matters" when a row's median range is this many times seed noise's alone


def decay_against_noise(cells, train_acc, signal=DECAY_SIGNAL):
    """How much decay moves the error across one LR row (median of each row's range), against what seed
    noise alone would give a row of that many settings; `train_acc`: the median run's final training
    accuracy in %; decay counts as resolved when the row range is at least `signal` times the noise's.
    Returns the glued numbers and the two sentences."""
    finite = cells.dropna(subset=["error"])
    row_effect = float(finite.groupby(["optimizer", "log2_lr"]).error.agg(lambda e: e.max() - e.min()).median())
    seed_sd = float(np.sqrt((cells.spread.dropna() ** 2).mean())) if cells.spread.notna().any() else float("nan")
    noise_range = expected_range_in_sds(int(cells.groupby(["optimizer", "log2_lr"]).size().median())) * seed_sd
    noise_words = ("The grid has one seed per cell, so its seed noise is not measured." if np.isnan(seed_sd) else
                   f"Rerunning one setting with another seed moves it by {seed_sd:.1f} points (standard deviation "
                   f"over the headline row's seeds), so seed noise alone would give a row range of about "
                   f"{noise_range:.1f} points.")
    resolved = None if np.isnan(seed_sd) else bool(row_effect >= signal * noise_range)
    if resolved is None:
        signal_words = "Whether that is more than noise waits for the seeds."
    elif not resolved:
        signal_words = (f"At this scale decay is a small effect beside seed noise: the median run ends at "
                        f"{train_acc:.0f}% training accuracy (on augmented batches, in its last epoch), far from "
                        "fitting its training set, where a regulariser has little to do. The best λ on a row "
                        "and the slopes below are therefore noisy readings: the coupling claims, read off those "
                        "slopes, are not resolved at this scale (the claims that compare best cells are read "
                        "below, each against its own noise margin); the GPU profiles are where the coupling "
                        "question is answered.")
    else:
        signal_words = (f"Decay matters well beyond seed noise at this scale (the median run ends at {train_acc:.0f}% "
                        "training accuracy, on augmented batches in its last epoch).")
    return dict(row_effect=row_effect, seed_sd=seed_sd, noise_range=noise_range, resolved=resolved,
                noise_words=noise_words, signal_words=signal_words)


def gate_words(ratio, signal=DECAY_SIGNAL):
    """Whether the noise rule's verdict hinges on its threshold: `ratio` is the median row range over
    what seed noise alone gives a row (decay_against_noise), the gate opens at `signal` times."""
    if not np.isfinite(ratio):
        return "Seed noise is not measured in these records, so the gate stays shut at any bar."
    if ratio >= signal:
        return f"The gate is open at the book's bar of {signal:g}: decay moves the rows beyond seed noise."
    if ratio >= 1:
        return ("The verdict hinges on the safety factor: the rows move more than seed noise alone would "
                f"(a ratio of at least 1) but less than {signal:g} times that, so a bar of 1 would open the gate.")
    return (f"The verdict does not hinge on the safety factor {signal:g}: the rows move less than seed noise alone "
            "would move them (a ratio below 1), so any bar of 1 or more keeps the gate shut.")


def median_train_accuracy(history):
    """The median completed run's training accuracy in its last epoch, in % (`Chapter.history` frame)."""
    last = history[history.status == "completed"].sort_values("epoch").groupby("id").tail(1)
    return 100 * float(last.train_acc.median())


def best_log2_lambda(row):
    """log2 lambda_norm of one LR row's minimum error among the decayed columns, parabola-refined,
    and whether it sits on the grid's edge (then it only bounds the optimum)."""
    import pandas as pd
    row = row[np.isfinite(row.log2_lambda_norm)]
    if row.error.notna().sum() < 2:
        return pd.Series({"best": np.nan, "edge": True})
    best, edge = refined_minimum(row.log2_lambda_norm, row.error)
    return pd.Series({"best": best, "edge": edge})


EDGE_ROWS = "rows with the best λ on the grid's edge"


def lambda_edges(cells):
    """The lowest and highest decayed log2 lambda_norm of the grid: a row's best on either only bounds it."""
    decayed = cells.log2_lambda_norm[np.isfinite(cells.log2_lambda_norm)]
    return float(decayed.min()), float(decayed.max())


def coupling_slopes(cells):
    """Per optimizer, the line through each LR row's best log2 lambda_norm against log2 LR: slope -1
    is coupled decay (lambda* ~ 1/alpha), 0 decoupled. Returns (the slopes' table indexed by optimizer,
    optimizer -> its rows' best decays)."""
    import pandas as pd
    slopes, best_rows = [], {}
    for optimizer in OPTIMIZERS:
        rows = (cells[cells.optimizer == optimizer].groupby("log2_lr")
                .apply(best_log2_lambda, include_groups=False).reset_index().dropna(subset=["best"]))
        best_rows[optimizer] = rows
        if len(rows) >= 3:
            (slope, _), cov = np.polyfit(rows.log2_lr, rows.best, 1, cov=True)
            se = float(np.sqrt(cov[0, 0]))
        else:
            slope, se = (np.polyfit(rows.log2_lr, rows.best, 1)[0] if len(rows) == 2 else np.nan), np.nan
        slopes.append({"optimizer": OPTIMIZER_LABELS[optimizer], "slope": float(slope), "standard error": se,
                       "rows": len(rows), EDGE_ROWS: int(rows.edge.sum())})
    return pd.DataFrame(slopes, index=OPTIMIZERS), best_rows


def slope_words(slopes):
    """'SGD + L2 -0.91 ± 0.12, SGDW +0.05 ± 0.10, ...': each optimizer's fitted slope (`coupling_slopes`'s
    table) with one standard error, saying so where too few rows leave no error or no slope."""
    def one(row):
        if not np.isfinite(row.slope):
            return f"{row.optimizer} not measured (fewer than two rows with a best decay)"
        return f"{row.optimizer} {with_error(row.slope, row['standard error'])}"
    return listed([one(row) for _, row in slopes.iterrows()])


def good_region_tilt(cells, top=CIRCLED):
    """Per optimizer, the tilt of its good region: the least-squares slope of log2 lambda_norm against
    log2 LR through its `top` best cells (the ones the heatmaps circle at 10), the no-decay column left
    out (it has no lambda). A diagonal region (lambda* ~ 1/alpha) tilts at -1, an axis-aligned one at 0;
    read in words by `coupling_words`. NaN where those cells span fewer than two learning rates."""
    import pandas as pd
    rows = []
    for optimizer in OPTIMIZERS:
        good = top_cells(cells[cells.optimizer == optimizer], top)
        good = good[np.isfinite(good.log2_lambda_norm)]
        slope = se = np.nan
        if good.log2_lr.nunique() >= 2:
            if len(good) >= 3:
                (slope, _), cov = np.polyfit(good.log2_lr, good.log2_lambda_norm, 1, cov=True)
                se = float(np.sqrt(cov[0, 0]))
            else:
                slope = np.polyfit(good.log2_lr, good.log2_lambda_norm, 1)[0]
        rows.append({"optimizer": OPTIMIZER_LABELS[optimizer], "cells with decay": len(good),
                     "learning rates": int(good.log2_lr.nunique()), "tilt": float(slope), "standard error": se,
                     "reads as": coupling_words(slope, se)})
    return pd.DataFrame(rows, index=OPTIMIZERS)


TILT_SIZES = (5, 10, 20, 30)   # the good region's sizes the circles exercise reads side by side


def tilt_readings(cells, tops=TILT_SIZES):
    """The good region's tilt and its reading for several sizes of it (`good_region_tilt`): one row per
    optimizer, one column per size, each "+0.50 ± 0.66: decoupled"."""
    import pandas as pd
    out = pd.DataFrame({"optimizer": [OPTIMIZER_LABELS[o] for o in OPTIMIZERS]}, index=OPTIMIZERS)
    for top in tops:
        tilt = good_region_tilt(cells, top)
        out[f"{top} best cells"] = [(f"{t:+.2f}" + (f" ± {e:.2f}" if np.isfinite(e) else "") + f": {w}")
                                    if np.isfinite(t) else w
                                    for t, e, w in zip(tilt.tilt, tilt["standard error"], tilt["reads as"])]
    return out


def moving_readings(cells, tops=TILT_SIZES):
    """The optimizers (labels) whose good region reads differently (coupled, decoupled, ...) at some of
    the sizes `tops` (`good_region_tilt`)."""
    words = [good_region_tilt(cells, top)["reads as"] for top in tops]
    return [OPTIMIZER_LABELS[o] for o in OPTIMIZERS if len({w[o] for w in words}) > 1]


SLOPE_FLOOR = 0.3   # the least tolerance a slope is read with, however small its standard error


def coupling_rule(signal=DECAY_SIGNAL):
    """How the slopes are read, in words: the page prints it under them and claim 17 cites it."""
    return (f"a slope reads as coupled within the larger of two standard errors and {SLOPE_FLOOR:g} of -1, as "
            f"decoupled within that of 0; the slopes are read only where the median row range of the error is at "
            f"least {signal:g} times the range seed noise alone would give (the gate on decay's effect)")


def coupling_words(slope, se):
    """A slope in words: coupled (near -1) or decoupled (near 0) within two standard errors or
    SLOPE_FLOOR, whichever is larger; both or neither when the tolerance says so."""
    if np.isnan(slope):
        return "unmeasured"
    tol = SLOPE_FLOOR if np.isnan(se) else max(2 * se, SLOPE_FLOOR)
    near_coupled, near_decoupled = abs(slope + 1) <= tol, abs(slope) <= tol
    if near_coupled and near_decoupled:
        return "undetermined (the fit's error admits both)"
    if near_coupled:
        return "coupled"
    if near_decoupled:
        return "decoupled"
    if slope > 0:
        return "neither (its best decay rises with the learning rate)"
    return "in between"


def slope_word(slopes, optimizer, resolved):
    """The verdict word on the paper's claim for one optimizer (its predicted coupling): not resolved
    while decay's effect is not above seed noise (`resolved` from decay_against_noise) or the slope
    admits both readings, else confirmed or contradicted."""
    words = coupling_words(slopes.slope[optimizer], slopes["standard error"][optimizer])
    if not resolved or words in ("unmeasured", "undetermined (the fit's error admits both)"):
        return NOT_RESOLVED
    return CONFIRMED if words == PREDICTED_COUPLING[optimizer] else CONTRADICTED


def slope_verdict(slopes, resolved=True):
    """Each optimizer's slope in words against what its update rule predicts; none read while decay's
    effect is not above seed noise (`resolved`), and rows on the grid's edge named."""
    edges = [f"{OPTIMIZER_LABELS[o]} {slopes[EDGE_ROWS][o]} of {slopes.rows[o]}" for o in OPTIMIZERS
             if EDGE_ROWS in slopes]
    edge_words = (" Rows whose best λ sits on the grid's edge only bound it (open markers in the figure): "
                  + ", ".join(edges) + ".") if edges else ""
    if not resolved:
        return ("Decay's effect is not above seed noise at this scale, so the slopes are not read as "
                "coupled or decoupled: **not resolved at this scale** for all four optimizers." + edge_words)
    words = {o: coupling_words(slopes.slope[o], slopes["standard error"][o]) for o in OPTIMIZERS}
    agree = [f"{OPTIMIZER_LABELS[o]} ({words[o]})" for o in OPTIMIZERS if words[o] == PREDICTED_COUPLING[o]]
    differ = [f"{OPTIMIZER_LABELS[o]} reads as {words[o]}, where its update rule predicts {PREDICTED_COUPLING[o]}"
              for o in OPTIMIZERS if words[o] != PREDICTED_COUPLING[o]]
    return (f"Read with a tolerance of two standard errors (or {SLOPE_FLOOR:g}, whichever is larger): "
            + (f"{', '.join(agree)} " + ("matches what its update rule predicts" if len(agree) == 1
                                           else "match what their update rules predict") if agree
               else "no optimizer matches what its update rule predicts")
            + ("" if not differ else "; " + "; ".join(differ)) + "." + edge_words)


def best_cells(cells):
    """Per optimizer, its best decayed cell (the mean where it has several seeds) and its best error
    with no decay at all, each with how many cells it was picked from (the best of many noisy cells
    is flattered more than the best of few)."""
    import pandas as pd
    best = []
    for optimizer in OPTIMIZERS:
        mine = cells[cells.optimizer == optimizer]
        decayed = mine[np.isfinite(mine.log2_lambda_norm)].dropna(subset=["error"])
        none = mine[~np.isfinite(mine.log2_lambda_norm)].dropna(subset=["error"])
        if decayed.empty:   # every decayed run diverged: a result, with no cell to name
            top = pd.Series(dict(error=np.nan, seeds=0))
            where = dict.fromkeys(("learning rate", "λ_norm"), "every run diverged")
        else:
            top = decayed.nsmallest(1, "error").iloc[0]
            where = {"learning rate": f"2^{top.log2_lr:g}", "λ_norm": f"2^{top.log2_lambda_norm:g}"}
        best.append({"optimizer": OPTIMIZER_LABELS[optimizer], "best test error (%)": top.error, **where,
                     "seeds": int(top.seeds), "picked from": len(decayed),
                     "best without decay (%)": none.error.min() if len(none) else np.nan,
                     "picked from (no decay)": len(none)})
    return pd.DataFrame(best, index=OPTIMIZERS)


def best_cell_claims(best, seed_sd):
    """Two of the paper's claims read off the best cells by `best_gap`: Adam + L2 gains little from
    decay (its best decayed cell is not better than its best undecayed one beyond noise) and AdamW
    rivals SGD and SGDW (not worse than either beyond noise). Returns {"adam": Verdict, "adamw": Verdict}."""
    err, n = best["best test error (%)"], best["picked from"]
    lost = [OPTIMIZER_LABELS[o] for o in OPTIMIZERS if not np.isfinite(err[o])]
    if lost:   # a best cell that is not there cannot be compared
        said = f"every decayed run of {listed(lost)} diverged, so there is no best cell to compare"
        return {"adam": Verdict(NOT_RESOLVED, f"Not resolved: {said}.", BEST_GAP_RULE),
                "adamw": Verdict(NOT_RESOLVED, f"Not resolved: {said}.", BEST_GAP_RULE)}
    gap, margin, side = best_gap(err["adam"], n["adam"], best["best without decay (%)"]["adam"],
                                 best["picked from (no decay)"]["adam"], seed_sd)
    if not np.isfinite(margin) or not np.isfinite(gap):
        adam = Verdict(NOT_RESOLVED, "Whether Adam + L2 gains from decay is not resolved: no seed noise measured "
                       "or no run without decay.", BEST_GAP_RULE)
    else:
        adam = Verdict(CONTRADICTED if side < 0 else CONFIRMED,
                       f"Adam + L2's best decayed cell ({err['adam']:.2f}%, best of {n['adam']}) against its best "
                       f"without decay ({best['best without decay (%)']['adam']:.2f}%, best of "
                       f"{best['picked from (no decay)']['adam']}): {gap:+.2f} points, "
                       + ("within" if side == 0 else "beyond") + f" the margin of {margin:.2f}.", BEST_GAP_RULE)
    sides = {o: best_gap(err["adamw"], n["adamw"], err[o], n[o], seed_sd) for o in ("sgd", "sgdw")}
    worse = [o for o, (_, _, s) in sides.items() if s > 0]
    said = "; ".join(f"{g:+.2f} points against {OPTIMIZER_LABELS[o]}" + (f" (margin {m:.2f})" if np.isfinite(m) else "")
                     for o, (g, m, _) in sides.items())
    if not all(np.isfinite(m) for _, m, _ in sides.values()):
        adamw = Verdict(NOT_RESOLVED, f"AdamW's best cell: {said}; no seed noise measured.", BEST_GAP_RULE)
    else:
        adamw = Verdict(CONTRADICTED if worse else CONFIRMED,
                        f"AdamW's best cell ({err['adamw']:.2f}%): {said}: "
                        + ("worse beyond noise than " + " and ".join(OPTIMIZER_LABELS[o] for o in worse) if worse
                           else "not worse than either beyond noise") + ".", BEST_GAP_RULE)
    return {"adam": adam, "adamw": adamw}


def headline(runs, cells):
    """The paper's headline: Adam and AdamW at the grid's LR nearest 2^HEADLINE_LOG2_LR (from `runs`,
    every seed), each at its best decay. Returns the two picks (mean, std, count, log2 lambda_norm),
    AdamW's relative improvement in % and its SD, propagated from the seeds' spread; `untrained`, the
    optimizers whose every run there diverged (their pick and the improvement are then NaN)."""
    import pandas as pd
    lrs = cells[cells.optimizer == "adam"].log2_lr.unique()
    head_lr = float(lrs[np.abs(lrs - HEADLINE_LOG2_LR).argmin()])
    head = runs[(runs.log2_lr == head_lr) & runs.optimizer.isin(["adam", "adamw"]) & np.isfinite(runs.log2_lambda_norm)]
    per_setting = head.groupby(["optimizer", "log2_lambda_norm"]).error.agg(["mean", "std", "count"]).reset_index()
    trained = per_setting.dropna(subset=["mean"])          # a setting whose every seed diverged has no error
    pick = trained.loc[trained.groupby("optimizer")["mean"].idxmin()].set_index("optimizer")
    nothing = pd.Series(dict(log2_lambda_norm=np.nan, mean=np.nan, std=np.nan, count=0))
    adam, adamw = (pick.loc[o] if o in pick.index else nothing for o in ("adam", "adamw"))
    improvement = 100 * (adam["mean"] - adamw["mean"]) / adam["mean"]
    rel_sd = (100 * np.hypot(adamw["std"] / adam["mean"], adamw["mean"] * adam["std"] / adam["mean"] ** 2)
              if min(adam["count"], adamw["count"]) > 1 else np.nan)
    return dict(log2_lr=head_lr, adam=adam, adamw=adamw, improvement=improvement, improvement_sd=rel_sd,
                seeds=int(min(adam["count"], adamw["count"])) or int(head.seed.nunique()),
                epochs=int(head.epochs.iloc[0]),
                untrained=[OPTIMIZER_LABELS[o] for o in ("adam", "adamw") if o not in pick.index])


def untrained_words(h):
    """'every run of Adam + L2 at this rate diverged': why a `headline` has no improvement, or ''."""
    return (f"every run of {' and of '.join(h['untrained'])} at this rate diverged, at every decay"
            if h.get("untrained") else "")


PAPER_IMPROVEMENT = 15.0   # %: "AdamW ... 15% lower test error than Adam" at the default LR (its Fig. 4 and text)
HEADLINES = (PaperClaim("adamw_headline", "AdamW against Adam + L2 at the default LR 0.001: the relative improvement in "
                        "test error", f"{PAPER_IMPROVEMENT:g}% (CIFAR-10 and ImageNet32x32)",
                        "Loshchilov & Hutter, the text with Fig. 4"),)


def headline_verdict(h):
    """The paper's 15% against ours: confirmed when 15% lies within two SDs of our improvement and 0
    does not, contradicted (not reproduced) when 15% lies outside them, not resolved when both 0 and
    15% lie within, or with one seed."""
    rule = "the paper's 15% against our improvement ± 2 SDs over seeds"
    imp, sd = h["improvement"], h["improvement_sd"]
    if untrained_words(h):
        return Verdict(NOT_RESOLVED, f"There is no improvement to measure: {untrained_words(h)}.", rule)
    if not np.isfinite(sd):
        return Verdict(NOT_RESOLVED, "With one seed per setting the headline is not resolved.", rule)
    lo, hi = imp - 2 * sd, imp + 2 * sd
    if not lo <= PAPER_IMPROVEMENT <= hi:
        return Verdict(CONTRADICTED, f"The paper's {PAPER_IMPROVEMENT:g}% is **not reproduced** at this scale: it "
                       f"lies outside our {lo:+.1f}% to {hi:+.1f}% (two SDs).", rule)
    if lo <= 0 <= hi:
        return Verdict(NOT_RESOLVED, f"Our {lo:+.1f}% to {hi:+.1f}% (two SDs) holds both no improvement and the "
                       f"paper's {PAPER_IMPROVEMENT:g}%: not resolved.", rule)
    return Verdict(CONFIRMED, f"The paper's {PAPER_IMPROVEMENT:g}% lies within our {lo:+.1f}% to {hi:+.1f}% (two "
                   "SDs), and no improvement does not.", rule)


def improvement_number(h):
    """AdamW's relative improvement over Adam + L2 (a `headline`), '+4.1% ± 1.2' or '+4.1% (one seed)'."""
    imp, sd = h["improvement"], h["improvement_sd"]
    if untrained_words(h):
        return f"not measured ({untrained_words(h)})"
    return f"{imp:+.1f}% ± {sd:.1f}" if np.isfinite(sd) else f"{imp:+.1f}% (one seed)"


def better_verdict(h):
    """The articles' "AdamW generalises better than Adam" (no size given): confirmed when our improvement
    lies above 0 by more than two SDs, contradicted when below by more, not resolved between or with one seed."""
    rule = "AdamW's relative improvement over Adam + L2 in test error at LR 0.001, ± 2 SDs over seeds, against 0"
    imp, sd = h["improvement"], h["improvement_sd"]
    number = improvement_number(h)
    if untrained_words(h):
        return Verdict(NOT_RESOLVED, f"Better or worse is not measured: {untrained_words(h)}.", rule, number)
    if not np.isfinite(sd):
        return Verdict(NOT_RESOLVED, "With one seed per setting, better or worse is not resolved.", rule, number)
    lo, hi = imp - 2 * sd, imp + 2 * sd
    word, said = ((CONFIRMED, "better: the whole range lies above 0") if lo > 0 else
                  (CONTRADICTED, "worse: the whole range lies below 0") if hi < 0 else
                  (NOT_RESOLVED, "neither better nor worse beyond seed noise: the range holds 0"))
    return Verdict(word, f"AdamW's test error against Adam + L2's, relative: {imp:+.1f}% ({lo:+.1f}% to {hi:+.1f}% "
                   f"over two SDs), {said}.", rule, number)


def headline_words(h):
    """The headline comparison in a sentence (glued Markdown gets no $...$ maths: λ is written out)."""
    adam, adamw = h["adam"], h["adamw"]
    if untrained_words(h):
        return untrained_words(h)[0].upper() + untrained_words(h)[1:] + ": there is no improvement to measure."
    return (f"Adam + L2 at its best λ_norm (2^{adam.log2_lambda_norm:g}) reaches "
            f"{plus_minus(adam['mean'], adam['std'], '%')} test error and AdamW at its best "
            f"(2^{adamw.log2_lambda_norm:g}) {plus_minus(adamw['mean'], adamw['std'], '%')}"
            + (" (mean ± standard deviation over seeds)" if h["seeds"] > 1 else "")
            + f": AdamW's relative improvement is {plus_minus(h['improvement'], h['improvement_sd'], '%')}.")


PAPER_LAMBDA_NORM = (0.025, 0.05)   # the best normalised decays of the paper's App. B.1


def lambda_norm_word(best, resolved):
    """SGDW's and AdamW's best λ_norm against the paper's 0.025-0.05: confirmed when both lie within a
    factor of 2 of that range (the grid's step), contradicted otherwise; not resolved while decay's
    effect is not above seed noise."""
    if not resolved:
        return NOT_RESOLVED
    lo, hi = PAPER_LAMBDA_NORM
    values = [2.0 ** float(best["λ_norm"][o].removeprefix("2^")) for o in ("sgdw", "adamw")]
    return CONFIRMED if all(lo / 2 <= v <= hi * 2 for v in values) else CONTRADICTED


def slope_text(slopes, optimizer):
    """'slope -0.91 ± 0.12' (`coupling_slopes`'s table), or why there is none."""
    if not np.isfinite(slopes.slope[optimizer]):
        return "slope not measured (fewer than two rows with a best decay)"
    return f"slope {with_error(slopes.slope[optimizer], slopes['standard error'][optimizer])}"


def versus(slopes, best, h, resolved=True, claims=None):
    """The paper's claims beside our numbers, each with the verdict of its rule (`resolved`: decay's
    effect above seed noise, from decay_against_noise; `claims`: best_cell_claims)."""
    import pandas as pd
    err, nodecay, lam = best["best test error (%)"], best["best without decay (%)"], best["λ_norm"]
    claims = claims or {}

    def error(value):   # a best cell's error; none where every run diverged
        return f"{value:.2f}%" if np.isfinite(value) else "every run diverged"

    def word(name):
        return claims[name].word if name in claims else NOT_RESOLVED
    return pd.DataFrame([
        {"claim": "SGD + L2: best λ on a diagonal (coupled)", "paper": "diagonal basin (Fig. 2, top left)",
         "ours": slope_text(slopes, "sgd"), "verdict": slope_word(slopes, "sgd", resolved)},
        {"claim": "SGDW: best λ independent of the LR", "paper": "axis-aligned (Fig. 2, top right)",
         "ours": slope_text(slopes, "sgdw"), "verdict": slope_word(slopes, "sgdw", resolved)},
        {"claim": "Adam + L2 gains little from decay", "paper": "best ≈ λ = 0 (Fig. 2, bottom left)",
         "ours": f"{error(err['adam'])} with decay vs "
                 + (f"{nodecay['adam']:.2f}% without" if np.isfinite(nodecay["adam"]) else "no run without decay yet"),
         "verdict": word("adam")},
        {"claim": "AdamW: best λ independent of the LR", "paper": "axis-aligned (Fig. 2, bottom right)",
         "ours": slope_text(slopes, "adamw"), "verdict": slope_word(slopes, "adamw", resolved)},
        {"claim": "AdamW rivals SGD and SGDW", "paper": "comparable (Fig. 2)",
         "ours": f"AdamW {error(err['adamw'])}, SGD {error(err['sgd'])}, SGDW {error(err['sgdw'])}",
         "verdict": word("adamw")},
        {"claim": "AdamW vs Adam at LR 0.001", "paper": "15% lower test error (its headline claim, with Fig. 4)",
         "ours": f"{plus_minus(h['improvement'], h['improvement_sd'], '%')} (LR 2^{h['log2_lr']:g})"
                 if not untrained_words(h) else f"{improvement_number(h)} (LR 2^{h['log2_lr']:g})",
         "verdict": headline_verdict(h).word},
        {"claim": "best normalised decay, SGDW and AdamW", "paper": "λ_norm 0.025 to 0.05 (App. B.1)",
         "ours": f"SGDW {lam['sgdw']}, AdamW {lam['adamw']}", "verdict": lambda_norm_word(best, resolved)},
    ])


def versus_of(chapter):
    """`versus` read from a chapter: the grid, and the headline row from its own part where the profile
    trains it longer (`headline_long`)."""
    cells = grid_cells(on_the_grid(chapter.runs("grid")))
    noise = decay_against_noise(cells, median_train_accuracy(chapter.history("grid")))
    best = best_cells(cells)
    head_part = "headline_long" if chapter.has("headline_long") else "grid"
    return versus(coupling_slopes(cells)[0], best, headline(on_the_grid(chapter.runs(head_part)), cells),
                  noise["resolved"], best_cell_claims(best, noise["seed_sd"]))


# -- the seed articles' claims this chapter answers (the claims scorecard reads `verdicts` and `bands`)

def bands(chapter):
    """The near-optimal LR band (`near_best.Band`) of SGD with momentum and of Adam without decay,
    the grid's undecayed column; margin 2 sqrt(2) seed SDs (two single runs). {} without seed noise."""
    from lrlab.near_best import near_best_band
    cells = grid_cells(on_the_grid(chapter.runs("grid")))
    sd = decay_against_noise(cells, float("nan"))["seed_sd"]
    model = MODEL_LABELS.get(chapter["grid"][0]["config"]["model"], "ResNet") if chapter["grid"] else "ResNet"
    out = {}
    for optimizer, label in (("sgd", f"SGD, momentum {SGD_MOMENTUM:g}, no decay"), ("adam", "Adam, no decay")):
        col = cells[(cells.optimizer == optimizer) & ~np.isfinite(cells.log2_lambda_norm)]
        band = near_best_band(col.log2_lr, col.error, 2 * np.sqrt(2) * sd, f"{model} {label}",
                              chapter.profile_of("grid"))
        if band is not None and len(col) > 1:
            out[optimizer] = band
    return out


def verdicts(chapter, signal=DECAY_SIGNAL):
    """The seed claims this chapter answers, by name (the claims scorecard reads them); `signal`: the
    noise rule's threshold (decay_against_noise)."""
    from lrlab.verdict import at_profile
    cells = grid_cells(on_the_grid(chapter.runs("grid")))
    noise = decay_against_noise(cells, float("nan"), signal)
    slopes, _ = coupling_slopes(cells)
    words = {o: slope_word(slopes, o, noise["resolved"]) for o in ("sgdw", "adamw")}
    word = (CONTRADICTED if CONTRADICTED in words.values() else
            CONFIRMED if all(w == CONFIRMED for w in words.values()) else NOT_RESOLVED)
    slope = "; ".join(f"{OPTIMIZER_LABELS[o]} {slope_text(slopes, o)}" for o in ("sgd", "sgdw", "adam", "adamw"))
    coupling = Verdict(word, slope_verdict(slopes, noise["resolved"]), "each decoupled optimizer's best λ does not "
                       f"move with the LR, its slope reading as decoupled: {coupling_rule(signal)}", slope)
    head_part = "headline_long" if chapter.has("headline_long") else "grid"
    head = headline(on_the_grid(chapter.runs(head_part)), cells)
    paper = replace(headline_verdict(head), number=improvement_number(head))
    return {**at_profile({"coupling": coupling}, chapter.profile_of("grid")),
            **at_profile({"adamw_headline": paper, "adamw_better": better_verdict(head)}, chapter.profile_of(head_part))}


# -- the page's grid and seeds in words, read off the records it shows (the deviations list states them)

def grid_size_words(cells):
    """'6 weight decays plus a no-decay column, by 6 learning rates for SGD + L2 and SGDW and 8 for Adam + L2 and
    AdamW': the grid the `grid_cells` frame holds (a GPU grid can be shown with only its coarse lattice in)."""
    decayed = np.isfinite(cells.log2_lambda_norm)
    groups = {}   # learning rates -> the optimizers with that many, in OPTIMIZERS' order
    for optimizer in OPTIMIZERS:
        groups.setdefault(cells[cells.optimizer == optimizer].log2_lr.nunique(), []).append(OPTIMIZER_LABELS[optimizer])
    rates = [f"{n} {'learning rates ' if i == 0 else ''}for {listed(names)}"
             for i, (n, names) in enumerate(groups.items())]
    return (f"{cells.log2_lambda_norm[decayed].nunique()} weight decays"
            + (" plus a no-decay column" if (~decayed).any() else "") + ", by " + " and ".join(rates))


def seeds_words(runs, head_runs, head_log2_lr):
    """'one seed per cell, three on the headline row': the seeds of each decayed setting off the headline row (`runs`,
    `on_the_grid` of the grid) and on it (`head_runs`, `on_the_grid` of the part that holds it; Adam and AdamW at
    `head_log2_lr`), as a range where settings differ."""
    def seeds(frame, on_row):
        row = frame.optimizer.isin(["adam", "adamw"]) & (frame.log2_lr == head_log2_lr)
        picked = frame[np.isfinite(frame.log2_lambda_norm) & (row if on_row else ~row)]
        counts = picked.groupby(["optimizer", "log2_lr", "log2_lambda_norm"]).seed.nunique()
        if counts.empty:
            return "none"
        lo, hi = int(counts.min()), int(counts.max())
        return number_word(lo) if lo == hi else f"{number_word(lo)} to {number_word(hi)}"
    grid = seeds(runs, False)
    return f"{grid} seed{'' if grid == 'one' else 's'} per cell, {seeds(head_runs, True)} on the headline row"


# -- the exercises' answers, in words read off the records (each tested in tests/test_weight_decay.py)

def tilt_move_words(cells, frm, to):
    """Which way each panel's good-region tilt (`good_region_tilt`) moves when the region grows from the `frm` best
    cells to the `to` best: towards 0 or away from it, with both tilts; panels without a tilt at either size named."""
    before, after = good_region_tilt(cells, frm).tilt, good_region_tilt(cells, to).tilt
    measured = [o for o in OPTIMIZERS if np.isfinite(before[o]) and np.isfinite(after[o])]

    def said(optimizers):
        return listed(f"{OPTIMIZER_LABELS[o]} ({before[o]:+.2f} to {after[o]:+.2f})" for o in optimizers)
    def tilts_of(optimizers, verb):
        one = len(optimizers) == 1
        return f"the tilt{'' if one else 's'} of {said(optimizers)} {verb}{'s' if one else ''}"
    same = [o for o in measured if round(abs(after[o]), 2) == round(abs(before[o]), 2)]   # as the page prints them
    toward = [o for o in measured if o not in same and abs(after[o]) < abs(before[o])]
    away = [o for o in measured if o not in same and abs(after[o]) > abs(before[o])]
    moves = ([f"every tilt moves towards 0: {said(toward)}" if len(toward) == len(OPTIMIZERS) else
              tilts_of(toward, "move") + " towards 0"] if toward else [])
    moves += [tilts_of(away, "move") + " away from it"] if away else []
    moves += [tilts_of(same, "stay") + (" where it was" if len(same) == 1 else " where they were")] if same else []
    unmeasured = [OPTIMIZER_LABELS[o] for o in OPTIMIZERS if o not in measured]
    text = f"Here, from {frm} to {to} best cells, " + "; ".join(moves) + "." if moves else ""
    if unmeasured:
        text += (f" {listed(unmeasured)} {'has' if len(unmeasured) == 1 else 'have'} no tilt at one of the two sizes "
                 "(the best cells span a single learning rate).")
    return text.strip()


def tilt_jump_words(cells, tops=TILT_SIZES):
    """'the tilt moves by up to 2.30 from one size to the next (AdamW's, ...)': the largest change of a panel's
    good-region tilt between two consecutive sizes in `tops`."""
    tilts = [good_region_tilt(cells, top).tilt for top in tops]
    jumps = [(abs(b[o] - a[o]), o, small, large, a[o], b[o])
             for (small, a), (large, b) in zip(zip(tops, tilts), zip(tops[1:], tilts[1:])) for o in OPTIMIZERS
             if np.isfinite(a[o]) and np.isfinite(b[o])]
    if not jumps:
        return "no panel has a tilt at two consecutive sizes to compare"
    size, o, small, large, a, b = max(jumps, key=lambda jump: jump[0])
    return (f"the tilt moves by up to {size:.2f} from one size to the next ({OPTIMIZER_LABELS[o]}'s, from {a:+.2f} at "
            f"{small} cells to {b:+.2f} at {large})")


def tilt_error_words(cells, top=CIRCLED):
    """How wide the rule's tolerance (two standard errors or SLOPE_FLOOR, `coupling_words`) is for the good region's
    tilt at `top` cells: wide enough to admit almost any reading (1 or more), to let the readings around -1 and 0
    overlap (half or more), or narrow enough to keep them apart."""
    se = good_region_tilt(cells, top)["standard error"].dropna()
    if se.empty:
        return f"At {top} cells no panel's tilt has a standard error: too few cells or learning rates for one."
    tolerance = np.maximum(2 * se, SLOPE_FLOOR)
    widest, tol = OPTIMIZER_LABELS[tolerance.idxmax()], float(tolerance.max())
    spread = f"{se.min():.2f} to {se.max():.2f}" if len(se) > 1 else f"{se.iloc[0]:.2f}"
    if tol >= 1:
        return (f"Its standard error is large too ({spread} at {top} cells), so the rule's two standard errors admit "
                f"almost any reading: {widest}'s tilt would read as coupled, decoupled or both anywhere from "
                f"{-1 - tol:+.2f} to {tol:+.2f}.")
    if tol >= 0.5:
        return (f"Its standard error is {spread} at {top} cells: for {widest}, two standard errors reach over half "
                "the way from -1 to 0, so a tilt between the two can read as both.")
    return (f"Its standard error is smaller ({spread} at {top} cells): two standard errors keep the rule's two "
            "readings apart.")


def gate_state_words(row_effect, noise_range, signal=DECAY_SIGNAL):
    """Whether the slopes are read, and why: decay's median row range against `signal` times what seed noise alone
    gives a row (`decay_against_noise`); its sentence follows "The slopes of ..." on the page."""
    if not np.isfinite(noise_range):
        return (f"are not read: the records have no seed noise to weigh decay's median row range, {row_effect:.2f} "
                f"points, against, so the bar of {signal:g} times seed noise's range cannot be cleared.")
    opened = row_effect >= signal * noise_range
    return (f"are {'' if opened else 'not '}read because decay's median row range, {row_effect:.2f} points, is "
            f"{'at least' if opened else 'below'} {signal:g} times the {noise_range:.2f} points that seed noise alone "
            "would give a row.")


def asked_gate_words(row_effect, noise_range, asked):
    """The exercise's solution on the gate: decay's median row range over seed noise's (`decay_against_noise`),
    and whether a bar of `asked` times seed noise's range opens it; a whole sentence."""
    if not (np.isfinite(noise_range) and noise_range > 0):
        return (f"The gate compares decay's median row range, {row_effect:.2f} points, with seed noise's range, and "
                "these records measure no seed noise: there is no ratio, and no bar opens the gate.")
    ratio = row_effect / noise_range
    head = (f"The gate compares the median row range with seed noise's, a ratio of {row_effect:.2f} / "
            f"{noise_range:.2f} = {ratio:.2f}; any bar at or below it opens the gate,")
    if ratio >= asked:
        return f"{head} so the exercise's bar of {asked:g} opens it."
    return f"{head} so the exercise's bar of {asked:g} leaves it shut, and the word stays **{NOT_RESOLVED}**."


def open_gate_caution(ratio, open_word, signal=DECAY_SIGNAL):
    """What the word read with the gate open (`open_word`) is worth, for a median row range `ratio` times seed
    noise's: a confident word from rows that move no more than noise, or less than `signal` times it, is what the
    gate is there to prevent."""
    if not np.isfinite(ratio):
        return ""
    if ratio >= signal:
        return f"The book's bar of {signal:g} already opens the gate: this is the book's own reading."
    if open_word == NOT_RESOLVED:
        return "Even with the gate open the slopes give no confident word."
    size = ("smaller than seed noise alone would make" if ratio < 1 else
            f"less than {signal:g} times what seed noise alone would make")
    return f"That is a confident word drawn from differences {size}, which the gate exists to prevent."
