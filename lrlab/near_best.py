"""The articles' rules of thumb about where the best learning rate lies, read against our sweeps.

Every rule here reads one sweep's *near-optimal band*: the grid rates whose result lies within a
noise margin of the best (lower is better: an error or a loss; a diverged run is never in it). The
band is known to half a grid step at each end, and an end that sits on the grid's edge may go on
beyond it: a claim on that side cannot be contradicted. The chapters' `verdicts` build the bands
from their own records and seed noise; the claims scorecard prints the words.
"""
from dataclasses import dataclass

import numpy as np

from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict


@dataclass(frozen=True)
class Band:
    """The near-optimal band of one sweep, in log2 of the learning rate."""
    lo: float           # the smallest rate in the band
    hi: float           # the largest
    best: float         # the best rate
    step: float         # the grid's step (octaves; the median where it varies)
    lo_open: bool       # the band reaches the grid's smallest rate: it may go on below
    hi_open: bool       # ... its largest rate
    margin: float       # the noise margin that defined it
    what: str = ""      # the sweep, as the scorecard names it
    profile: str = ""   # the profile of its records
    # a grid may be finer where the optimum lies: the steps out of the band (None: `step`)
    below: float = None  # from `lo` down to the next rate
    above: float = None  # from `hi` up to the next rate

    def reach(self):
        """(low, high): the band's ends widened by half the grid's step beyond each, where the band's true
        ends lie (the next rate out was not near the best)."""
        below = self.step if self.below is None else self.below
        above = self.step if self.above is None else self.above
        return self.lo - below / 2, self.hi + above / 2

    def words(self):
        edge = " (the grid's edge)"
        return (f"{2 ** self.lo:.2g}{edge if self.lo_open else ''} to {2 ** self.hi:.2g}"
                f"{edge if self.hi_open else ''}, best {2 ** self.best:.2g}")


def near_best_band(log2_lrs, values, margin, what="", profile=""):
    """The band of a sweep: `values` per grid rate (lower is better, NaN for a diverged run), the rates
    within `margin` of the best. None when every run diverged or the margin is not measured."""
    x, y = np.asarray(log2_lrs, float), np.asarray(values, float)
    order = np.argsort(x)
    x, y = x[order], y[order]
    if not np.isfinite(y).any() or not np.isfinite(margin):
        return None
    inside = np.isfinite(y) & (y <= np.nanmin(y) + margin)
    lo, hi = x[inside].min(), x[inside].max()
    step = float(np.median(np.diff(x))) if len(x) > 1 else 1.0
    # the steps out of the band, each to its next rate (the band's own step where it reaches the edge)
    below = float(lo - x[x < lo].max()) if lo > x[0] else step
    above = float(x[x > hi].min() - hi) if hi < x[-1] else step
    return Band(float(lo), float(hi), float(x[np.nanargmin(y)]), step, bool(lo == x[0]), bool(hi == x[-1]),
                float(margin), what, profile, below, above)


BAND_RULE = ("a rate is near the best when its result lies within the noise margin of the best run's, give or "
             "take half a grid step; beyond an end of the band that is not the grid's edge it is not")


def _side(band, log2_lr):
    """-1 / 0 / +1: below the band, in it, above it (half a grid step of tolerance); None where the
    band's end on that side is the grid's edge, so the band may reach it."""
    low, high = band.reach()
    if low <= log2_lr <= high:
        return 0
    if log2_lr < band.lo:
        return None if band.lo_open else -1
    return None if band.hi_open else 1


EVERY_BAND = ("; the claim needs that in every sweep: outside one band whose end on that side is inside the "
              "grid, contradicted")


def rate_verdict(bands, lr, claim):
    """"`lr` is a good rate" against each band: confirmed when it lies in all of them, contradicted when it
    lies outside one whose end on its side is inside the grid, else not resolved. Each band says where
    `lr` falls, so a verdict that one sweep decides shows which."""
    sides = [_side(b, np.log2(lr)) for b in bands]
    where = {0: "in the band", -1: "below the band", 1: "above the band", None: "beyond the grid's edge"}
    said = "; ".join(f"{b.what}: {b.words()} ({lr:g} {where[s]})" for b, s in zip(bands, sides))
    number = "; ".join(f"{b.what} best {2 ** b.best:.2g}, {lr:g} {where[s]}" for b, s in zip(bands, sides))
    if any(s in (-1, 1) for s in sides):
        word = CONTRADICTED
    elif all(s == 0 for s in sides) and sides:
        word = CONFIRMED
    else:
        word = NOT_RESOLVED
    return Verdict(word, f"{claim} ({lr:g}) against our near-optimal bands: {said}.", BAND_RULE + EVERY_BAND, number)


def range_verdict(bands, lo, hi, claim):
    """"The best rate lies between `lo` and `hi`": confirmed when every band overlaps the range,
    contradicted when one lies wholly outside it with its end towards the range inside the grid."""
    words, where = [], []
    for b in bands:
        a, z = b.reach()
        if z < np.log2(lo):
            words.append(CONTRADICTED if not b.hi_open else NOT_RESOLVED)
            where.append("lies below the range")
        elif a > np.log2(hi):
            words.append(CONTRADICTED if not b.lo_open else NOT_RESOLVED)
            where.append("lies above the range")
        else:
            words.append(CONFIRMED)
            where.append("overlaps the range")
    word = (CONTRADICTED if CONTRADICTED in words else CONFIRMED if words and all(w == CONFIRMED for w in words)
            else NOT_RESOLVED)
    said = "; ".join(f"{b.what}: {b.words()} (the band {w})" for b, w in zip(bands, where))
    return Verdict(word, f"{claim} ({lo:g} to {hi:g}) against our near-optimal bands: {said}.",
                   BAND_RULE + EVERY_BAND.replace("outside one band", "a band wholly outside the range"),
                   "; ".join(f"{b.what} best {2 ** b.best:.2g}, band {w}" for b, w in zip(bands, where)))


def allowed_ratios(high, low):
    """(least, most, best): the ratios of sweep `high`'s best rate to sweep `low`'s that the two bands allow
    (each end to half a grid step; an open end leaves that side unbounded: 0 or inf), and the best rates' own."""
    (high_lo, high_hi), (low_lo, low_hi) = high.reach(), low.reach()
    most = np.inf if high.hi_open or low.lo_open else 2 ** (high_hi - low_lo)
    least = 0.0 if high.lo_open or low.hi_open else 2 ** (high_lo - low_hi)
    return least, most, 2 ** (high.best - low.best)


def _allow_words(least, most):
    return (f"{least:.2g} to {most:.2g} times" if least > 0 and np.isfinite(most) else
            "any ratio" if least == 0 and not np.isfinite(most) else
            f"at least {least:.2g} times" if least > 0 else f"at most {most:.2g} times")


def ratio_verdict(high, low, ratio, claim):
    """"The best rate of sweep `high` is `ratio` times that of sweep `low`": the ratios the two bands allow
    (each end to half a grid step) must hold it; an open end leaves that side unbounded."""
    least, most, best = allowed_ratios(high, low)
    word = CONFIRMED if least <= ratio <= most and np.isfinite(most) and least > 0 else (
        NOT_RESOLVED if least <= ratio <= most else CONTRADICTED)
    allow = _allow_words(least, most)
    return Verdict(word, f"{claim}: the best rates are {best:.3g} times apart; the near-optimal bands allow "
                   f"{allow} (an end on the grid's edge leaves that side open).", "the claimed ratio lies within the "
                   "ratios the two near-optimal bands allow (each end to half a grid step)", f"{best:.3g}x (bands allow {allow})")


RATIO_RANGE_RULE = ("the best rates' own ratio lies in the claimed range and both bands are closed on the sides "
                    "that bound the ratio, confirmed; the ratios the two near-optimal bands allow (each end to half "
                    "a grid step) miss the claimed range, contradicted; otherwise not resolved")


def ratio_range_verdict(high, low, lo, hi, claim):
    """"The best rate of sweep `high` is `lo` to `hi` times that of sweep `low`" (`RATIO_RANGE_RULE`): a range
    claim is confirmed by the measured ratio itself, not by bands wide enough to hold it and much else."""
    least, most, best = allowed_ratios(high, low)
    bounded = least > 0 and np.isfinite(most)
    word = (CONTRADICTED if most < lo or least > hi else
            CONFIRMED if lo <= best <= hi and bounded else NOT_RESOLVED)
    allow = _allow_words(least, most)
    where = "in" if lo <= best <= hi else "outside"
    return Verdict(word, f"{claim}: the best rates are {best:.3g} times apart, {where} the claimed {lo:g} to {hi:g}; "
                   f"the near-optimal bands allow {allow} (an end on the grid's edge leaves that side open).",
                   RATIO_RANGE_RULE, f"{best:.3g}x (bands allow {allow})")


FACTOR_TWO_RULE = ("tuning to a factor of 2 is enough when, in every sweep, the rates one octave either side of "
                   "the best lie within the noise margin of the best run's result")


def factor_two_verdict(bands):
    """"Tune the rate to about a factor of 2": per band whose best rate is inside the grid, whether the
    rates a factor 2 either side of the best stay in it. Confirmed when they do in every such band,
    contradicted when they do not in some (there a factor 2 costs more than seed noise)."""
    judged = [b for b in bands if b.step <= 1 and not (b.best == b.lo and b.lo_open)
              and not (b.best == b.hi and b.hi_open)]
    enough = [b for b in judged if b.lo <= b.best - 1 and b.hi >= b.best + 1]
    number = f"{len(enough)} of {len(judged)} sweeps keep a factor 2 either side of the best"
    if not judged:
        return Verdict(NOT_RESOLVED, "No sweep has its best rate inside a grid fine enough.", FACTOR_TWO_RULE, number)
    short = [b.what for b in judged if b not in enough]
    word = CONFIRMED if not short else CONTRADICTED
    kept = ", ".join(b.what for b in enough) or "none"
    return Verdict(word, f"A factor 2 either side of the best rate stays within seed noise of it for {kept}"
                   + (f"; it costs more than that for {', '.join(short)}." if short else "."), FACTOR_TWO_RULE, number)
