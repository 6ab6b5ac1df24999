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
from lrlab.verdict import PaperClaim


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
SWEEP_MOMENTUM = 0.9   # the network sweep's heavy ball, beside plain SGD
MOMENTA = (0.0, SWEEP_MOMENTUM)


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
PROTOCOL = "the full profile's protocol"   # no paper sets this chapter's: the GPU profile departs from `full`
GPU_CHANGES = ("5 epochs instead of 20",
               "the LR grid stops at 2^0 instead of 2^4: every rate above 2^0 diverged at the quick profile")


def chunks(profile):
    return [Chunk("momentum_shift", 1, "momentum's effective step eta/(1-mu): the octave shift of the "
                  "divergence edge and the optimum between mu = 0 and 0.9", runs(profile))]


# -- analysis: what the chapter reads off its records and its quadratic (tested in tests/test_basics.py)
# (pandas is imported inside the functions that build frames: a sweep imports this module for its
# declarations and must run where only torch and numpy are installed)

CHANCE_LOSS = math.log(10)   # the loss of a uniform guess over CIFAR-10's classes

# the chapter's quadratic: one flat and one stiff direction, a condition number of ten
QUADRATIC_CURVATURES = (1.0, 10.0)
# momentum's effective step is read along a flat direction (eta * h far below (1 - mu)^2 up to mu = 0.9),
# over enough steps that the second half, past the transient, fits a clean decay
PROBE_LR, PROBE_CURVATURE, PROBE_STEPS = 0.01, 1e-3, 4000
PROBE_MOMENTA = (0.0, 0.5, 0.9, 0.95, 0.99)


def momentum_table(lr=PROBE_LR, curvature=PROBE_CURVATURE, momenta=PROBE_MOMENTA, steps=PROBE_STEPS):
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


def flat_claim_words(table, lr, curvature):
    """Where "momentum acts like plain descent with the step eta/(1-mu)" holds along a flat direction and
    where it fails, from `momentum_table(lr, curvature)`: it needs eta*h far below (1-mu)^2; once eta*h
    passes (1-mu)^2 the heavy ball's roots are complex and it shrinks by sqrt(mu) a step, whatever eta is."""
    from lrlab.stats import listed, plain_number
    eta_h = lr * curvature
    table = table[table["momentum μ"] > 0].set_index("momentum μ")
    momenta = list(table.index)
    said = (f"(1 − μ)² is {listed([plain_number((1 - mu) ** 2) for mu in momenta])} for μ = "
            f"{listed([f'{mu:g}' for mu in momenta])}. Against ηh = {plain_number(eta_h)}")
    slack = 1 + 1e-9   # (1 - 0.99)^2 is 1.0000000000000018e-4 in floating point
    holds = [mu for mu in momenta if (1 - mu) ** 2 > 10 * eta_h * slack]   # "far below": more than ten times
    fails = [mu for mu in momenta if (1 - mu) ** 2 <= eta_h * slack]
    if holds:
        mu = holds[-1]
        said += (f" the condition holds by a factor of {(1 - mu) ** 2 / eta_h:.3g} at μ = {mu:g} (the measured step "
                 f"is {table.loc[mu, 'measured / claimed']:.3f} times the claim)")
    else:
        said += " the condition holds by more than a factor of ten at no momentum of the table"
    if not fails:
        mu = momenta[-1]
        return said + (f"; it fails at none of them: even at μ = {mu:g}, (1 − μ)² is {(1 - mu) ** 2 / eta_h:.3g} "
                       f"times ηh, and there the measured step is {table.loc[mu, 'measured / claimed']:.3f} times "
                       "the claim.")
    mu = fails[0]
    complex_roots = (1 + mu - eta_h) ** 2 < 4 * mu
    said += f" and fails at μ = {mu:g}, where ηh is at least (1 − μ)²"
    if not complex_roots:
        return said + "."
    oscillator = (1 - math.sqrt(mu)) / curvature
    claimed = lr / (1 - mu)
    return said + (": the roots of z² − (1 + μ − ηh) z + μ are complex, the heavy ball is an oscillator rather "
                   "than a smoothed gradient step, and it shrinks by √μ per step whatever η is. The step that "
                   f"decays at that rate is (1 − √μ)/h = {oscillator:.2f}, {oscillator / claimed:.2f} times the "
                   f"claimed η/(1 − μ) = {claimed:g} (measured: {table.loc[mu, 'measured step']:.2f}).")


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


def stuck_mask(runs):
    """Runs that end without learning: completed with their training loss still near ln 10 or above, or
    diverged by collapse (lrlab.divergence rule 3: a whole epoch at chance after the loss rose), whose
    last loss sits at ln 10, where a blown-up run's is far above it or not finite."""
    near = runs.final_train_loss > 0.98 * CHANCE_LOSS
    collapsed = (runs.status == "diverged") & (runs.final_train_loss < 1.02 * CHANCE_LOSS)
    return near & ((runs.status == "completed") | collapsed)


def stuck(runs, momentum):
    """How many runs at `momentum` end without learning (stuck_mask)."""
    return int((stuck_mask(runs) & (runs.momentum == momentum)).sum())


def collapsed(runs):
    """How many stuck runs the divergence rule caught (marked diverged at their loss's peak)."""
    return int((stuck_mask(runs) & (runs.status == "diverged")).sum())


def unchecked(runs):
    """How many stuck runs were recorded before the divergence rule had its collapse test (rule 3)."""
    return int((stuck_mask(runs) & (runs.get("divergence_rules", 3) < 3)).sum())


def collapsed_words(runs):
    """How many of the stuck runs the rule caught, of those it checked: a run recorded before the rule had
    this test was never checked by it, so it counts for neither."""
    n, older = collapsed(runs), unchecked(runs)
    if older and older == int(stuck_mask(runs).sum()):
        which = "the one stuck run" if older == 1 else "both stuck runs" if older == 2 else f"all {older} stuck runs"
        return (f"{which} here {'was' if older == 1 else 'were'} recorded before the rule had this test, so it has "
                f"not checked {'it' if older == 1 else 'them'} (a rerun of the sweep would)")
    said = ("here it caught none of them" if n == 0 else
            "here it caught one of them, drawn as a cross in the figure" if n == 1 else
            f"here it caught {n} of them, drawn as crosses in the figure")
    if older:
        verb = "was" if older == 1 else "were"
        said += f" ({older} of the stuck runs {verb} recorded before the rule had this test and {verb} not checked by it)"
    return said


def rerun_words(runs):
    """What a rerun of the sweep may change beyond floating-point noise: the book's stuck runs recorded
    before the divergence rule had its collapse test ("" when there are none)."""
    older = unchecked(runs)
    if not older:
        return ""
    return (f"One difference is not noise: {'one' if older == 1 else older} of the book's stuck runs "
            f"{'was' if older == 1 else 'were'} recorded before the divergence rule had its collapse test. Your "
            "rerun applies it, and a stuck run it catches is recorded as diverged, which can move a first diverging "
            "rate down the grid.")


def sweep_summary(runs):
    """The numbers the sweep's paragraph quotes."""
    best = best_rates(runs)
    return dict(n_stuck_momentum=stuck(runs, SWEEP_MOMENTUM), n_stuck_plain=stuck(runs, 0.0),
                n_collapsed=collapsed(runs),
                best_lr_ratio=float(best[0.0].lr / best[SWEEP_MOMENTUM].lr) if len(best) == 2 else float("nan"),
                best_lr_plain=float(best[0.0].lr) if 0.0 in best else float("nan"),
                best_lr_momentum=float(best[SWEEP_MOMENTUM].lr) if SWEEP_MOMENTUM in best else float("nan"))


def sweep_words(runs):
    """The sweep's best and first diverging rates in two sentences (an exercise's answer)."""
    best = sweep_summary(runs.sort_values("lr"))
    return (f"Plain SGD trains best at {best['best_lr_plain']:.4g} and {divergence_words(runs, 0.0, 'first diverges at')}; "
            f"with momentum {SWEEP_MOMENTUM:g} the best rate is {best['best_lr_momentum']:.4g} and "
            f"{divergence_words(runs, SWEEP_MOMENTUM, 'divergence starts at')}.")


def stability_words(runs, quadratic_plain, quadratic_momentum, momentum=SWEEP_MOMENTUM):
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
    stuck_rates = runs[(runs.momentum == momentum) & stuck_mask(runs)].lr
    best = best_rates(runs)
    if len(stuck_rates) and 0.0 in best:
        said += (f" With momentum, learning already stops at {float(stuck_rates.min()):.4g}; plain SGD's best "
                 f"rate is {float(best[0.0].lr):.4g}.")
    if net != quad:
        said += " The effective-step lesson carries over from the quadratic; the stability lesson does not."
    return said


# -- the seed articles' claims this chapter's sweep answers (the claims scorecard reads `verdicts`)

SLOW_FACTOR = 1.5    # "too small is slow": the grid's smallest rate ends this many times above the best loss
MOMENTUM_CLAIM = 10.0   # "at mu = 0.9 the effective rate is about ten times the nominal eta"
HEADLINES = (PaperClaim("momentum_step", "heavy-ball momentum 0.9 multiplies the step by 1/(1-μ), so the best rate "
                        "without it is ten times the best with it", f"{MOMENTUM_CLAIM:g}x",
                        "the update's steady state; Polyak 1964"),)
SOURCES = {   # verdict name -> (the claim, whose, their evidence): the chapter's table of sources beside ours
    "extremes": ("too large a rate diverges, too small a rate crawls", "AI Wiki, Learning Rate",
                 "a statement; on a quadratic, divergence beyond 2/L (Nesterov 2004)"),
    "momentum_step": ("momentum multiplies the step by 1/(1-μ)", "AI Wiki, Step size; Polyak 1964",
                      f"the heavy ball's steady state: {MOMENTUM_CLAIM:g}x at μ = 0.9"),
    "stuck": ("a loss stuck at a constant means too low a rate", "AI Wiki, Step size",
              "a statement (\"Sometimes too-low eta combined with bad init\"), no measurement"),
    "fast_divergence": ("too large a rate gives NaN within a few hundred steps", "AI Wiki, Step size",
                        "a statement, no measurement"),
}


def extremes_verdict(runs, momentum=0.0):
    """"Too large diverges, too small crawls", read off one momentum's sweep: confirmed when some rate
    diverges and the grid's smallest rate ends at least SLOW_FACTOR times above the best loss."""
    from lrlab.verdict import CONFIRMED, NOT_RESOLVED, Verdict
    rule = (f"some rate of the grid diverges, and its smallest rate ends with a training loss at least "
            f"{SLOW_FACTOR:g} times the best rate's (one seed per rate)")
    group = runs[runs.momentum == momentum]
    best = best_rates(group).get(momentum)
    if best is None:
        return Verdict(NOT_RESOLVED, "Every rate of the sweep diverged.", rule, "all diverged")
    smallest = group.loc[group.lr.idxmin()]
    slow = float(smallest.final_train_loss / best.final_train_loss)
    lr = first_diverged(group, momentum)
    number = (f"diverges from {lr:.3g}; loss {smallest.final_train_loss:.2f} at {smallest.lr:.3g} against "
              f"{best.final_train_loss:.2f} at the best {best.lr:.3g}" if np.isfinite(lr) else
              f"no divergence up to {group.lr.max():.3g}")
    if np.isfinite(lr) and slow >= SLOW_FACTOR:
        return Verdict(CONFIRMED, f"Plain SGD diverges from {lr:.3g} on, and at {smallest.lr:.3g} it ends at "
                       f"{slow:.1f} times the best rate's training loss.", rule, number)
    return Verdict(NOT_RESOLVED, "The grid does not show both ends: "
                   + ("no rate diverges" if not np.isfinite(lr) else f"the smallest rate ends at only {slow:.2f} "
                      "times the best loss") + ".", rule, number)


def momentum_verdict(runs, momentum=SWEEP_MOMENTUM):
    """Momentum's effective step ("about 10x at mu = 0.9") read as the ratio of the best rates without and
    with momentum: on a half-octave grid each best rate is placed within a quarter octave, so the ratio
    within half an octave. Confirmed within half an octave of 10, contradicted beyond one octave."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    rule = ("the ratio of the best rates without and with momentum lies within half an octave (the grid's "
            "resolution) of 10: confirmed; more than an octave away: contradicted")
    ratio = sweep_summary(runs)["best_lr_ratio"]
    if not np.isfinite(ratio):
        return Verdict(NOT_RESOLVED, "The sweep has no best rate for one of the two momenta.", rule)
    off = abs(math.log2(ratio / MOMENTUM_CLAIM))
    # each best rate is known to a quarter octave, so the ratio to half an octave either way
    number = f"best-rate ratio {ratio:.1f}x ({ratio / 2 ** 0.5:.1f}x to {ratio * 2 ** 0.5:.1f}x on the grid)"
    word = CONFIRMED if off <= 0.5 else CONTRADICTED if off > 1 else NOT_RESOLVED
    return Verdict(word, f"The best rate without momentum is {ratio:.1f} times the best with momentum "
                   f"{momentum:g}, {off:.2f} octaves from the claimed 10.", rule, number)


def stuck_verdict(runs):
    """"A loss stuck at a constant comes from too low a rate": where the runs stuck at chance loss (ln 10)
    sit against their momentum's best rate. Confirmed when all lie below it, contradicted when all above."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    rule = "the rates of the runs that end at chance loss lie all below (confirmed) or all above (contradicted) the best rate"
    best = best_rates(runs)
    stuck_runs = runs[stuck_mask(runs)]
    above = [bool(r.lr > best[r.momentum].lr) for r in stuck_runs.itertuples() if r.momentum in best]
    if not above:
        return Verdict(NOT_RESOLVED, "No run of the sweep ends stuck at chance loss.", rule, "no run stuck")
    where = ", ".join(f"{r.lr:.3g} (μ = {r.momentum:g})" for r in stuck_runs.itertuples())
    number = f"{len(above)} stuck, {sum(above)} above the best rate"
    if all(above):
        return Verdict(CONTRADICTED, f"The runs stuck at chance loss, at {where}, all use rates above their best "
                       "rate: too high a rate, not too low, leaves the loss at a constant.", rule, number)
    if not any(above):
        return Verdict(CONFIRMED, f"The runs stuck at chance loss, at {where}, all use rates below their best rate.",
                       rule, number)
    return Verdict(NOT_RESOLVED, f"Runs stuck at chance loss sit on both sides of the best rate: {where}.", rule, number)


FEW_HUNDRED = 500   # "NaN values within a few hundred [steps]": caught by this step at the latest


def fast_divergence_verdict(runs):
    """"With deep networks the result is typically NaN values within a few hundred [steps]": the step at
    which each diverged run of the sweep broke the divergence rule (a non-finite loss, or the smoothed loss
    above `divergence_factor` times the first). Confirmed when every one broke it within FEW_HUNDRED steps,
    contradicted when most took longer."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    rule = (f"every diverged run of the sweep breaks the divergence rule within {FEW_HUNDRED} steps: confirmed; "
            "most take longer: contradicted")
    diverged = runs[runs.status == "diverged"]
    if not len(diverged):
        return Verdict(NOT_RESOLVED, "No run of the sweep diverges.", rule, "none diverged")
    steps = diverged.diverged_at_step.astype(float)
    non_finite = int(diverged.final_train_loss.isna().sum())
    number = f"{len(diverged)} diverged, by step {int(steps.max())} (median {np.median(steps):g})"
    said = (f"All {len(diverged)} diverged runs broke the rule by step {int(steps.max())} (median {np.median(steps):g}); "
            f"{non_finite} of them ended with a non-finite training loss (NaN or inf), the rest above "
            "the rule's multiple of their first loss.")
    if steps.max() <= FEW_HUNDRED:
        return Verdict(CONFIRMED, said, rule, number)
    late = int((steps > FEW_HUNDRED).sum())
    said = (f"{late} of {len(diverged)} diverged runs broke the rule only after step {FEW_HUNDRED} (the latest at "
            f"{int(steps.max())}).")
    return Verdict(CONTRADICTED if late > len(diverged) / 2 else NOT_RESOLVED, said, rule, number)


def momentum_lesson_words(runs):
    """Whether the quadratic's lesson, that momentum multiplies the effective step, carries over to the
    network, as `momentum_verdict`'s word says."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED
    lesson = "the lesson that momentum multiplies the effective step"
    network = "a network whose curvature is anything but constant"
    return {CONFIRMED: f"{lesson} carries over to {network}",
            CONTRADICTED: f"{lesson} does not carry over to this network, whose curvature is anything but constant"
            }.get(momentum_verdict(runs).word, f"whether {lesson} carries over to {network}, this sweep cannot say")


def momentum_shift_words(runs):
    """Which way momentum 0.9 moves the sweep's curve, from the two best rates (the cover's caption)."""
    best = sweep_summary(runs)
    plain, heavy = best["best_lr_plain"], best["best_lr_momentum"]
    if not (np.isfinite(plain) and np.isfinite(heavy)):
        return f"momentum {SWEEP_MOMENTUM:g} is not recorded beside plain SGD yet"
    if heavy == plain:
        return f"momentum {SWEEP_MOMENTUM:g} leaves the best rate where it is"
    return f"momentum {SWEEP_MOMENTUM:g} moves the curve to {'smaller' if heavy < plain else 'larger'} rates"


def stuck_lead_words(runs):
    """How the paragraph on runs that end without learning opens: with how many the sweep has, or with
    none."""
    plain, heavy = stuck(runs, 0.0), stuck(runs, SWEEP_MOMENTUM)
    if not plain + heavy:
        return ("The network can add a failure the quadratic does not have, though no run of this sweep shows it: a "
                "run can end without learning")
    return (f"The network adds a failure the quadratic does not have: {heavy} momentum run{'s' * (heavy != 1)} (and "
            f"{plain} plain one{'s' * (plain != 1)}) end without learning")


def divergence_speed_words(runs):
    """The sentence after `fast_divergence_verdict`'s: whether divergence is the fast failure here and
    runs that stop learning the slow one."""
    from lrlab.verdict import CONFIRMED
    if fast_divergence_verdict(runs).word != CONFIRMED:
        return "Here not every run that diverges does so early."
    return "A run that diverges does so early" + ("; the stuck runs above are the slow failure." if
                                                  stuck(runs, 0.0) + stuck(runs, SWEEP_MOMENTUM) else ".")


def verdicts(chapter):
    """The seed claims this chapter answers, by name (the claims scorecard reads them)."""
    from lrlab.verdict import at_profile
    runs = chapter.runs("lr_sweep")
    return at_profile({"extremes": extremes_verdict(runs), "momentum_step": momentum_verdict(runs),
                       "stuck": stuck_verdict(runs), "fast_divergence": fast_divergence_verdict(runs)},
                      chapter.profile_of("lr_sweep"))
