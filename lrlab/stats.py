"""The statistics every chapter reads its records with: a refined grid optimum, mean and spread over
seeds, how wide a row of pure noise would look. Pure numpy on plain arrays, so each is unit-tested."""
import math

import numpy as np


def refined_minimum(x, y):
    """(x at the minimum of y, on_edge): the grid minimum refined by a parabola through it and its two
    neighbours (kept between them; not refined where the parabola opens downward). `on_edge` says the
    grid minimum is the first or last point, where the true optimum may lie beyond the grid. NaNs in y
    are skipped; no finite point gives (nan, True)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(y)
    order = np.argsort(x[keep], kind="stable")
    x, y = x[keep][order], y[keep][order]
    if len(x) == 0:
        return float("nan"), True
    i = int(y.argmin())
    best = float(x[i])
    if 0 < i < len(x) - 1:
        a, b, _ = np.polyfit(x[i - 1:i + 2], y[i - 1:i + 2], 2)
        if a > 0:
            best = float(np.clip(-b / (2 * a), x[i - 1], x[i + 1]))
    return best, i in (0, len(x) - 1)


def mean_sd(values):
    """(mean, standard deviation over seeds) skipping NaNs (diverged runs); the SD is NaN for one value."""
    values = np.asarray(values, float)
    mean = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    sd = float(np.nanstd(values, ddof=1)) if np.isfinite(values).sum() > 1 else float("nan")
    return mean, sd


def pooled_sd(groups):
    """(SD, degrees of freedom) pooled over groups of repeated measurements (each an array of seeds);
    groups of one add nothing; (nan, 0) when no group has two."""
    groups = [np.asarray(g, float) for g in groups if len(g) > 1]
    dof = sum(len(g) - 1 for g in groups)
    if not dof:
        return float("nan"), 0
    return float(np.sqrt(sum(((g - g.mean()) ** 2).sum() for g in groups) / dof)), dof


def plus_minus(value, sd, unit=""):
    """"71.91% ± 0.40", or "71.91% (one seed)" where there is no spread to give."""
    return f"{value:.2f}{unit} ± {sd:.2f}" if np.isfinite(sd) else f"{value:.2f}{unit} (one seed)"


def with_error(value, error, fmt="+.2f"):
    """"+0.12 ± 0.05": an estimate and its error, or "+0.12 (no error measured)" where the error is not finite
    (a single seed, too few points for a fit)."""
    if not np.isfinite(error):
        return f"{value:{fmt}} (no error measured)"
    return f"{value:{fmt}} ± {error:.2f}"


def measured(value, fmt=".3f", before=""):
    """A number as text after `before` ("of "), or "not measured" where it is not finite (a noise margin with no
    seed noise to read it from)."""
    return f"{before}{value:{fmt}}" if np.isfinite(value) else "not measured"


def plain_number(x):
    """0.032 as "0.032", 3.2e-05 as "3.2 × 10⁻⁵": a number for glued Markdown, which has no maths."""
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.3g}"
    mantissa, exponent = f"{x:.2e}".split("e")
    digits = str(int(exponent)).translate(SUPERSCRIPTS)
    return f"10{digits}" if float(mantissa) == 1 else f"{float(mantissa):g} × 10{digits}"


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_two(x):
    """0.001953125 as "2⁻⁹": a rate of a log2 grid for glued Markdown, which has no maths."""
    return "2" + str(round(math.log2(x))).translate(SUPERSCRIPTS)


def listed(items):
    """"a", "a and b", "a, b and c": items (strings) as a list in a sentence."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def number_word(n):
    """"three": a count in words up to nine, in digits beyond."""
    return NUMBER_WORDS.get(n, str(n))


def times_words(x):
    """'once', 'twice', 'three times', '2.5 times': how many times, in a sentence."""
    return {1: "once", 2: "twice"}.get(x) or (f"{number_word(x)} times" if x in NUMBER_WORDS else f"{x:g} times")


def counted(n, noun):
    """"three seeds", "one rate": a count and its noun in a sentence."""
    return f"{number_word(n)} {noun}{'s' * (n != 1)}"


def t_point(dof, level=0.975):
    """Student's t quantile at `level` (above one half) for `dof` degrees of freedom: 2.776 for 4,
    2.447 for 6, near 1.96 for many. The density integrated on a fine grid: the book needs three
    decimals and no scipy."""
    x = np.linspace(0.0, 60.0, 600_001)
    log_norm = math.lgamma((dof + 1) / 2) - math.lgamma(dof / 2) - 0.5 * math.log(dof * math.pi)
    density = np.exp(log_norm - (dof + 1) / 2 * np.log1p(x ** 2 / dof))
    cdf = 0.5 + np.concatenate([[0.0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(x))])
    return float(np.interp(level, cdf, x))


def expected_range_in_sds(n, draws=20_000, seed=0):
    """The mean range (largest minus smallest) of `n` independent standard normal draws, in SDs
    (about 2.7 for 7): how wide a row of `n` settings would look if only seed noise moved it."""
    return float(np.ptp(np.random.default_rng(seed).standard_normal((draws, n)), axis=1).mean())


def expected_best_in_sds(n, draws=20_000, seed=0):
    """How far below the mean the best (smallest) of `n` independent standard normal draws lies, in
    SDs (about 1.4 for 8, 2.25 for 48): what picking the best of n noisy cells alone gains."""
    return float(-np.random.default_rng(seed).standard_normal((draws, n)).min(axis=1).mean())


def best_gap(a, n_a, b, n_b, seed_sd):
    """Whether two best cells, the best of `n_a` and of `n_b` single-seed cells, differ beyond noise:
    the gap a - b (points) against 2 sqrt(2) seed SDs plus what the two searches' sizes alone would
    make (the best of n noisy cells lies expected_best_in_sds(n) SDs below its cells' mean). Returns
    (gap, margin, -1 / 0 / +1 for a below / within / above b), 0 where seed noise is unmeasured."""
    gap = a - b
    if min(n_a, n_b) < 1:   # a side with no cell (a partial grid): nothing to compare
        return gap, float("nan"), 0
    margin = seed_sd * (2 * np.sqrt(2) + abs(expected_best_in_sds(n_a) - expected_best_in_sds(n_b)))
    if not np.isfinite(margin):
        return gap, margin, 0
    return gap, margin, (-1 if gap < -margin else 1 if gap > margin else 0)


BEST_GAP_RULE = ("two best cells differ when their gap exceeds 2 sqrt(2) seed SDs plus the difference the sizes "
                 "of the two searches alone would make")


def mean_gap(a, b, seed_sd):
    """Whether the means of two sets of seeds (arrays; NaNs, diverged runs, left out) differ beyond noise:
    the gap mean(a) - mean(b) against two standard errors of that difference, 2 x seed_sd x sqrt(1/n_a +
    1/n_b) (for one seed each, best_gap's 2 sqrt(2) SDs). Returns (gap, margin, -1 / 0 / +1 for a below /
    within / above b); margin NaN and 0 where a side has no finite value or the noise is unmeasured."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return float("nan"), float("nan"), 0
    gap = float(a.mean() - b.mean())
    margin = 2 * seed_sd * np.sqrt(1 / len(a) + 1 / len(b))
    if not np.isfinite(margin):
        return gap, float("nan"), 0
    return gap, float(margin), (-1 if gap < -margin else 1 if gap > margin else 0)


MEAN_GAP_RULE = ("two means over seeds differ when their gap exceeds two standard errors of the difference, "
                 "2 x seed SD x sqrt(1/n_a + 1/n_b)")


def percent_or_nan(record, metric="test_acc"):
    """A record's final metric in %, or NaN for a diverged run (shown as such, never averaged in)."""
    return 100 * record["final"][metric] if record["status"] == "completed" else np.nan
