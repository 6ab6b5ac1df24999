"""The LR range test (Smith 2017, "Cyclical Learning Rates", Sec. 3.3) and three ways to read it.

A range test is an ordinary run of the one training loop: the LR rises, exponentially or linearly,
from lr_min to lr_max over `steps` steps while the run traces its training loss (and, in Smith's
accuracy form, test accuracy) every few steps; the divergence rule ends it once the loss blows up.
This module declares that run and reads its trace; it trains nothing itself.

The three rules, each returning a learning rate:
  steepest     the LR where the smoothed loss falls fastest against log LR (torch-lr-finder's
               suggestion), looked for before the loss minimum;
  min_over_10  the LR of the smoothed loss minimum, divided by 10 (the fastai-course rule of thumb);
  valley       the middle of the longest sequence of ever-lower smoothed losses, which may step over
               a bump (a longest decreasing subsequence, after fastai's `valley`).
"""
import math

import numpy as np

from lrlab.config import RunConfig
from lrlab.errors import LrlabError, check_choice, check_positive

MODES = ("exponential", "linear")
RULES = ("steepest", "min_over_10", "valley")


def range_test_config(base: RunConfig, lr_min, lr_max, steps, mode="exponential", trace_every=1,
                      trace_test=False) -> RunConfig:
    """`base` turned into a range test: one 'epoch' of `steps` steps, the first at lr_min, the last at lr_max.

    Linear tests may start at lr_min = 0 (Smith's Fig. 2b: 0 -> 3); exponential ones may not.
    """
    check_choice("range test mode", mode, MODES)
    check_positive("lr_max", lr_max)
    if not isinstance(steps, int) or steps < 2:
        raise LrlabError(f"steps must be an integer >= 2, got {steps!r}")
    if mode == "exponential":
        check_positive("lr_min", lr_min)
    elif lr_min < 0:
        raise LrlabError(f"lr_min must be >= 0, got {lr_min!r}")
    if lr_min >= lr_max:
        raise LrlabError(f"lr_min ({lr_min!r}) must be below lr_max ({lr_max!r})")
    # update t (0 .. steps-1) uses lr_min at t = 0 and lr_max at the last, as torch-lr-finder's tests do
    if mode == "exponential":   # ExponentialLR: lr_min * gamma**t
        schedule, lr, args = "exponential", lr_min, {"gamma": (lr_max / lr_min) ** (1 / (steps - 1))}
    else:   # the linear schedule reaches end_ratio after `steps` updates: aim one step past 1
        start = lr_min / lr_max
        schedule, lr, args = "linear", lr_max, {"start_ratio": start, "end_ratio": start + (1 - start) * steps / (steps - 1)}
    return base.replace(lr=lr, schedule=schedule, schedule_args=args, epochs=1, steps_per_epoch=steps,
                        trace_every=trace_every, trace_test=trace_test)


def smoothed(losses, beta=0.98):
    """Bias-corrected exponential moving average of a loss trace (NaN and inf carried forward as inf)."""
    if not 0 <= beta < 1:
        raise LrlabError(f"beta must be in [0, 1), got {beta!r}")
    out, avg = [], 0.0
    for i, loss in enumerate(losses, start=1):
        loss = math.inf if loss is None or not math.isfinite(loss) else float(loss)
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** i))
    return np.array(out)


def suggestions(lrs, losses, beta=0.98, skip_start=0.05):
    """The three rules' learning rates for one range-test trace, as {rule: lr}.

    `skip_start` (a fraction of the points) drops the first points, where the smoothed average has
    seen too little of the trace to slope reliably.
    """
    lrs = np.asarray(lrs, dtype=float)
    if len(lrs) != len(losses) or len(lrs) < 5:
        raise LrlabError(f"a range test needs >= 5 (lr, loss) points of equal count, got {len(lrs)} and {len(losses)}")
    if np.any(lrs <= 0) or np.any(np.diff(lrs) <= 0):
        raise LrlabError("range-test learning rates must be positive and increasing")
    smooth = smoothed(losses, beta)
    start = min(int(skip_start * len(lrs)), len(lrs) - 3)
    lrs, smooth = lrs[start:], smooth[start:]
    finite = np.isfinite(smooth)
    lrs, smooth = lrs[finite], smooth[finite]
    if len(lrs) < 3:
        raise LrlabError("a range test needs >= 3 finite smoothed losses after the first points")
    lowest = int(smooth.argmin())
    slope = np.gradient(smooth, np.log(lrs))
    steepest = int(slope[:max(lowest, 1) + 1].argmin())
    return {"steepest": float(lrs[steepest]),
            "min_over_10": float(lrs[lowest] / 10),
            "valley": float(lrs[_valley_middle(smooth)])}


def _valley_middle(values):
    """Index in the middle of the longest strictly decreasing subsequence of `values`."""
    n = len(values)
    length, previous = [1] * n, [-1] * n
    for i in range(n):          # O(n^2): traces are hundreds of points
        for j in range(i):
            if values[j] > values[i] and length[j] + 1 > length[i]:
                length[i], previous[i] = length[j] + 1, j
    end = int(np.argmax(length))
    first = end
    while previous[first] >= 0:
        first = previous[first]
    return first + (end - first) // 2


def agreeing_rules(suggested, display=None):
    """(LR, "rule = rule") per distinct suggestion, rounded to 3 decimals of log10: rules that agree
    are named together (a figure draws them as one line), by their `display` names where given."""
    groups = {}
    for rule in RULES:
        groups.setdefault(round(float(np.log10(suggested[rule])), 3), []).append(rule)
    display = display or {}
    return [(suggested[names[0]], " = ".join(display.get(n, n) for n in names)) for names in groups.values()]
