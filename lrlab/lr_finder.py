"""The LR range test (Smith 2017, "Cyclical Learning Rates", Sec. 3.3) and three ways to read it.

A range test is an ordinary run of the one training loop: the LR rises, exponentially or linearly,
from lr_min to lr_max over `steps` steps while the run traces its training loss (and, in Smith's
accuracy form, test accuracy) every few steps; the divergence rule ends it once the loss blows up.
This module declares that run and reads its trace; it trains nothing itself.

The three rules, each returning a learning rate:
  steepest     the LR where the smoothed loss falls fastest against log LR (torch-lr-finder's
               suggestion), looked for before the loss minimum;
  min_over_10  the LR of the smoothed loss minimum, divided by 10 (the fastai-course rule of thumb);
  valley       the middle of the longest stretch over which the smoothed loss keeps falling
               (after fastai's `valley`, which reads it as a longest decreasing subsequence).
"""
import contextlib
import importlib.metadata
import math
import time

import numpy as np

from lrlab.config import RunConfig
from lrlab.errors import LrlabError, check_choice, check_positive

MODES = ("exponential", "linear")
RULES = ("steepest", "min_over_10", "valley")


def range_test_config(base: RunConfig, lr_min, lr_max, steps, mode="exponential", trace_every=1,
                      trace_test=False) -> RunConfig:
    """`base` turned into a range test: one 'epoch' of `steps` steps, the LR from lr_min to lr_max.

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
    if mode == "exponential":   # ExponentialLR: lr_min * gamma**t, reaching lr_max after `steps` steps
        schedule, lr, args = "exponential", lr_min, {"gamma": (lr_max / lr_min) ** (1 / steps)}
    else:
        schedule, lr, args = "linear", lr_max, {"start_ratio": lr_min / lr_max, "end_ratio": 1.0}
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


def run_torch_lr_finder(config: RunConfig, device, data, progress=True):
    """The range test `config` declares, run by torch-lr-finder (the outside tool the book compares
    with) on the same model, optimizer, seed and batches, with the tool's defaults (its 0.05 loss
    smoothing, its stop at 5x the best loss). Returns a record body like `lrlab.train.train`'s,
    its trace holding the tool's own (smoothed) loss curve."""
    import torch
    try:
        from torch_lr_finder import LRFinder, TrainDataLoaderIter
    except ImportError as err:   # it also needs matplotlib, which a bare GPU box lacks
        raise LrlabError(f"run {config.id} compares with torch-lr-finder, which cannot be imported here "
                         f"({err}); pip install torch-lr-finder (it brings matplotlib)") from None

    from lrlab.env import run_env
    from lrlab.train import CifarTask, evaluate, model_and_optimizer, record_body

    if config.task != "cifar10" or config.schedule not in ("exponential", "linear"):
        raise LrlabError(f"torch-lr-finder runs CIFAR-10 range tests (schedule exponential or linear), "
                         f"got task {config.task!r}, schedule {config.schedule!r}")
    device = torch.device(device)
    task = CifarTask(config, data, device, channels_last=False)
    steps = config.epochs * task.steps_per_epoch
    if config.schedule == "exponential":
        start, end, mode = config.lr, config.lr * config.schedule_args["gamma"] ** steps, "exp"
    else:
        start, end, mode = config.lr * config.schedule_args.get("start_ratio", 1.0), config.lr, "linear"
    # the tool sets the LR itself; the optimizer only needs a positive one to be built
    model, optimizer = model_and_optimizer(config, task.num_classes, device, lr=max(start, 1e-12))
    t0 = time.perf_counter()
    finder = LRFinder(model, optimizer, torch.nn.CrossEntropyLoss(), device=device)
    class SameBatches:   # the batches lrlab.train would draw for this run, in the same order
        def __iter__(self):
            return task.train_batches(0)

    with _tool_quiet(not progress):   # the tool draws its own bar and prints; honour --no-progress
        finder.range_test(TrainDataLoaderIter(SameBatches()), start_lr=start or None, end_lr=end,
                          num_iter=steps, step_mode=mode)
    lrs, losses = finder.history["lr"], finder.history["loss"]
    trace = [dict(step=i + 1, lr=float(lr), train_loss=float(loss) if math.isfinite(loss) else None)
             for i, (lr, loss) in enumerate(zip(lrs, losses))]
    test_loss, test_acc = evaluate(model, task, lambda: torch.autocast(device.type, enabled=False))
    stopped = len(trace) < steps
    seconds = time.perf_counter() - t0
    last = dict(epoch=1, lr=trace[-1]["lr"], train_loss=trace[-1]["train_loss"], train_acc=None,
                test_loss=test_loss if math.isfinite(test_loss) else None, test_acc=test_acc, seconds=seconds)
    env = run_env(device, data, precision="fp32", compile=False,
                  runner=f"torch-lr-finder {importlib.metadata.version('torch-lr-finder')}")
    return record_body(config, "diverged" if stopped else "completed", len(trace) if stopped else None, [last],
                       len(trace), env, seconds, trace=trace)


@contextlib.contextmanager
def _tool_quiet(quiet):
    """Silence the tool's progress bar and its closing print. tqdm reads TQDM_DISABLE only when it
    is imported, so the module's own `tqdm` name is swapped for the duration instead."""
    import functools
    import io
    import torch_lr_finder.lr_finder as tool
    before = tool.tqdm
    if not quiet:
        yield
        return
    tool.tqdm = functools.partial(before, disable=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tool.tqdm = before
