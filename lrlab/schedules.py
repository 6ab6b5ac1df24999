"""Learning-rate schedules, stepped once per optimizer step (not per epoch).

Each schedule wraps one torch.optim.lr_scheduler object: torch's own class wherever torch has the
shape, LambdaLR with the closed form where it does not. Every param group keeps its own base LR
(the group's "lr" when the schedule is built) times one shared multiplier, so the LR ratios between
groups (muP's per-layer LRs, no-decay bias groups) survive. That is why OneCycleLR and CyclicLR get
per-group lists, and why a nonzero floor (min_lr_ratio) goes through LambdaLR: torch's eta_min is
one absolute LR for all groups.

The papers' one-cycle shapes (build the optimizer with the PEAK LR, then):
  (a) Smith & Topin 2017, super-convergence: linear 0.1 -> 3.0 -> 0.1 over 10k iterations, no
      annihilation, constant momentum 0.9 (optimizer lr=3.0, momentum=0.9):
        build_schedule(opt, "triangular", 10_000, base_ratio=1/30, cycles=1)
      or, equivalently (peak one step earlier, at 4999 instead of 5000):
        build_schedule(opt, "one_cycle", 10_000, three_phase=False, anneal="linear", pct_start=0.5,
                       div_factor=30, final_div_factor=1, cycle_momentum=False)
  (b) Smith 2018, "disciplined approach" 1cycle: 0.08 -> 0.8 -> 0.08 linear with momentum
      0.95 -> 0.85 -> 0.95, then the last ~10% annihilates the LR to 0.08/1e3 (optimizer lr=0.8):
        build_schedule(opt, "one_cycle", total_steps)   # the defaults: three_phase=True,
        # anneal="linear", pct_start=0.45, div_factor=10, final_div_factor=1e3, momentum 0.85/0.95
"""
import copy
import functools
import math
import warnings

import torch
from torch.optim import lr_scheduler

from lrlab.errors import LrlabError, check_choice, check_int, check_positive, check_range, one_line
from lrlab.names import SCHEDULES


# The options each schedule accepts, with defaults; None means "derived from total_steps".
_ONE_CYCLE = dict(pct_start=0.45, div_factor=10.0, final_div_factor=1e3, three_phase=True, anneal="linear",
                  cycle_momentum=True, base_momentum=0.85, max_momentum=0.95)
OPTIONS = {
    "constant": {},
    "step": dict(step_size=None, gamma=0.1),
    "multistep": dict(milestones=(0.5, 0.75), gamma=0.1),
    "exponential": dict(gamma=None),
    "cosine": dict(min_lr_ratio=0.0),
    "cosine_warm_restarts": dict(first_cycle=None, cycle_mult=2, min_lr_ratio=0.0),
    "warmup_cosine": dict(warmup=0.05, min_lr_ratio=0.0, start_ratio=0.0),
    "triangular": dict(base_ratio=0.1, cycles=1, cycle_momentum=False, base_momentum=0.85, max_momentum=0.95),
    "one_cycle": _ONE_CYCLE,
    "one_cycle_fastai": {**_ONE_CYCLE, "three_phase": False, "anneal": "cos", "pct_start": 0.25,
                         "div_factor": 25.0, "final_div_factor": 1e4},
    "reduce_on_plateau": dict(factor=0.1, patience=10, threshold=1e-4),
    "polynomial": dict(power=1.0, min_lr_ratio=0.0),
    "linear": dict(start_ratio=1.0, end_ratio=0.0),
    "warmup_stable_decay": dict(warmup=0.05, decay=0.2, min_lr_ratio=0.0),
    "inverse_sqrt": dict(warmup=None),
    # Goyal et al.: warm up from start_ratio ("linear": gradual, "constant": hold, then jump), then
    # x gamma at each milestone (fractions of total_steps, counted from step 0, warmup included)
    "warmup_multistep": dict(warmup=0.0, start_ratio=0.0, warmup_shape="linear",
                             milestones=(1 / 3, 2 / 3, 8 / 9), gamma=0.1),
}

# Kwargs that make each schedule look typical over ~1000 steps (the book's schedule gallery).
DEFAULT_GALLERY_ARGS = {
    "constant": {},
    "step": dict(step_size=250, gamma=0.5),
    "multistep": dict(milestones=[1 / 3, 2 / 3, 8 / 9]),        # Goyal et al.: epochs 30/60/80 of 90
    "exponential": {},                                         # 100x down over the run
    "cosine": {},
    "cosine_warm_restarts": dict(first_cycle=143, cycle_mult=2),  # 143 + 286 + 572 ~ 1000 steps
    "warmup_cosine": dict(warmup=0.1),
    "triangular": dict(base_ratio=0.1, cycles=3),
    "one_cycle": {},
    "one_cycle_fastai": {},
    "reduce_on_plateau": dict(steps_per_epoch=20, patience=5, factor=0.5),  # 50 epochs of 20 steps
    "polynomial": dict(power=2.0),
    "linear": {},
    "warmup_stable_decay": dict(warmup=0.05, decay=0.2),
    "inverse_sqrt": dict(warmup=50),
    "warmup_multistep": dict(warmup=5 / 90, start_ratio=1 / 32),  # Goyal et al. at batch 8k: 0.1 -> 3.2
}

# Group keys the schedulers write; saved with the schedule so a resume restores them whichever of
# optimizer.load_state_dict / schedule.load_state_dict runs last.
_GROUP_KEYS = ("lr", "initial_lr", "max_lr", "min_lr", "momentum", "betas", "base_momentum", "max_momentum")


class Schedule:
    """Wraps one torch LR scheduler (and its momentum cycling, if any)."""

    def __init__(self, name, scheduler, steps_per_epoch=1):
        self.name = name
        self.scheduler = scheduler
        self.steps_per_epoch = steps_per_epoch
        self.per_epoch = isinstance(scheduler, lr_scheduler.ReduceLROnPlateau)
        self.last_used = None   # the LRs of the last update (see epoch_end_lr)

    @property
    def optimizer(self):
        return self.scheduler.optimizer

    def step(self):
        """Call after each optimizer.step(); a no-op for reduce_on_plateau."""
        self.last_used = self.lrs()   # after the last update, lrs() is one step past the run's end
        if not self.per_epoch:
            self.scheduler.step()

    def epoch_end_lr(self, final):
        """The LR a history row records for an epoch: where the next epoch starts, or, after the final epoch
        (there is no next), what its last update used; one step past the end, one-cycle would be negative."""
        return self.last_used[0] if final and self.last_used else self.lrs()[0]

    def step_epoch(self, metric):
        """Call once per epoch with the validation loss; only reduce_on_plateau uses it."""
        if self.per_epoch:
            self.scheduler.step(metric)

    def lrs(self):
        """The current LR of each param group."""
        return [float(group["lr"]) for group in self.optimizer.param_groups]

    def momenta(self):
        """The current momentum of each param group (beta1 for Adam-family optimizers)."""
        return [float(group["betas"][0]) if "betas" in group else float(group.get("momentum", 0.0))
                for group in self.optimizer.param_groups]

    def state_dict(self):
        groups = [{k: group[k] for k in _GROUP_KEYS if k in group} for group in self.optimizer.param_groups]
        return copy.deepcopy({"scheduler": self.scheduler.state_dict(), "groups": groups})

    def load_state_dict(self, state):
        # deepcopy: CyclicLR.load_state_dict pops keys from the dict it is given
        self.scheduler.load_state_dict(copy.deepcopy(state["scheduler"]))
        # torch's load_state_dict leaves group["lr"] (and momentum) at whatever the constructor set
        # until the next step(); put back the values in effect when the state was saved
        for group, saved in zip(self.optimizer.param_groups, state["groups"]):
            group.update(copy.deepcopy(saved))

    def __repr__(self):
        return f"Schedule({self.name!r}, lrs={self.lrs()})"


def build_schedule(optimizer, name, total_steps, steps_per_epoch=1, **kwargs):
    """Build schedule `name` over `total_steps` optimizer steps, on each group's current "lr".

    Options and defaults are in OPTIONS[name]; fractions (warmup, decay, milestones) are of
    total_steps, lengths (step_size, first_cycle, inverse_sqrt's warmup) are in steps.
    """
    check_choice("schedule", name, SCHEDULES)
    check_int("total_steps", total_steps, minimum=1)
    check_int("steps_per_epoch", steps_per_epoch, minimum=1)
    unknown = sorted(set(kwargs) - set(OPTIONS[name]))
    if unknown:
        valid = ", ".join(OPTIONS[name]) or "none"
        raise LrlabError(f"unknown option {unknown[0]!r} for schedule {name!r}; valid options: {valid}")
    options = {**OPTIONS[name], **kwargs}
    # torch's base LR is group["initial_lr"] if a previous scheduler left one: drop it so the
    # base is the current "lr" (a resume restores it from the schedule's state_dict)
    for group in optimizer.param_groups:
        group.pop("initial_lr", None)
    try:
        scheduler = _make_scheduler(optimizer, name, total_steps, **options)
    except (ValueError, TypeError, ZeroDivisionError) as err:
        message = one_line(err)
        raise LrlabError(f"bad options for schedule {name!r} {kwargs}: {message}") from None
    return Schedule(name, scheduler, steps_per_epoch)


def _make_scheduler(optimizer, name, total_steps, **o):
    lrs = [group["lr"] for group in optimizer.param_groups]
    lambda_lr = functools.partial(lr_scheduler.LambdaLR, optimizer)

    if name == "constant":
        return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)  # factor 1: never changes
    if name == "step":
        step_size = o["step_size"] if o["step_size"] is not None else max(1, total_steps // 3)
        check_int("step_size", step_size, minimum=1)
        return lr_scheduler.StepLR(optimizer, step_size=step_size, gamma=check_positive("gamma", o["gamma"]))
    if name == "multistep":
        fractions = [check_range("milestone", f, 0, 1) for f in o["milestones"]]
        milestones = sorted(round(f * total_steps) for f in fractions)
        return lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=check_positive("gamma", o["gamma"]))
    if name == "exponential":
        gamma = o["gamma"] if o["gamma"] is not None else 0.01 ** (1 / total_steps)  # 100x down over the run
        return lr_scheduler.ExponentialLR(optimizer, gamma=check_positive("gamma", gamma))
    if name == "cosine":
        floor = check_range("min_lr_ratio", o["min_lr_ratio"], 0, 1)
        if floor == 0:
            return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
        return lambda_lr(functools.partial(_cosine, total=total_steps, floor=floor))
    if name == "cosine_warm_restarts":
        first = o["first_cycle"] if o["first_cycle"] is not None else max(1, total_steps // 4)
        check_int("first_cycle", first, minimum=1)
        check_int("cycle_mult", o["cycle_mult"], minimum=1)
        floor = check_range("min_lr_ratio", o["min_lr_ratio"], 0, 1)
        if floor == 0:
            return lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=first, T_mult=o["cycle_mult"])
        return lambda_lr(functools.partial(_sgdr, first=first, mult=o["cycle_mult"], floor=floor))
    if name == "warmup_cosine":
        warmup = round(check_range("warmup", o["warmup"], 0, 1) * total_steps)
        floor = check_range("min_lr_ratio", o["min_lr_ratio"], 0, 1)
        start = check_range("start_ratio", o["start_ratio"], 0, 1)
        return lambda_lr(functools.partial(_warmup_cosine, total=total_steps, warmup=warmup, floor=floor, start=start))
    if name == "triangular":
        base_ratio = check_range("base_ratio", o["base_ratio"], 0, 1)
        half_cycle = max(1, int(total_steps // (2 * check_positive("cycles", o["cycles"]))))
        return lr_scheduler.CyclicLR(
            optimizer, base_lr=[base_ratio * lr for lr in lrs], max_lr=lrs, step_size_up=half_cycle,
            mode="triangular", cycle_momentum=o["cycle_momentum"], base_momentum=o["base_momentum"],
            max_momentum=o["max_momentum"])
    if name in ("one_cycle", "one_cycle_fastai"):
        check_choice("anneal strategy", o["anneal"], ("linear", "cos"))
        pct_start = float(o["pct_start"])
        # each phase must span at least one step, or torch divides by zero mid-run
        upper = (total_steps + 1) / 2 if o["three_phase"] else total_steps
        if not 1 < pct_start * total_steps < upper:
            raise LrlabError(f"pct_start={o['pct_start']!r} leaves an empty phase over total_steps={total_steps}; "
                             f"need 1 < pct_start * total_steps < {upper:g}")
        return lr_scheduler.OneCycleLR(
            optimizer, max_lr=lrs, total_steps=total_steps, pct_start=pct_start, anneal_strategy=o["anneal"],
            cycle_momentum=o["cycle_momentum"], base_momentum=o["base_momentum"], max_momentum=o["max_momentum"],
            div_factor=check_positive("div_factor", o["div_factor"]),
            final_div_factor=check_positive("final_div_factor", o["final_div_factor"]),
            three_phase=bool(o["three_phase"]))
    if name == "reduce_on_plateau":
        check_int("patience", o["patience"], minimum=0)
        # eps=0: torch's default 1e-8 stops reducing tiny LRs group by group, breaking group ratios
        return lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=check_range("factor", o["factor"], 0, 1, closed="neither"),
            patience=o["patience"], threshold=o["threshold"], eps=0.0)
    if name == "polynomial":
        power = check_positive("power", o["power"])
        floor = check_range("min_lr_ratio", o["min_lr_ratio"], 0, 1)
        if floor == 0:
            return lr_scheduler.PolynomialLR(optimizer, total_iters=total_steps, power=power)
        return lambda_lr(functools.partial(_polynomial, total=total_steps, power=power, floor=floor))
    if name == "linear":
        start = check_range("start_ratio", o["start_ratio"], 0, math.inf)
        end = check_range("end_ratio", o["end_ratio"], 0, math.inf)
        if 0 < start <= 1 and end <= 1:
            return lr_scheduler.LinearLR(optimizer, start_factor=start, end_factor=end, total_iters=total_steps)
        # LinearLR refuses a start of 0 (a warmup from zero) and factors above 1
        return lambda_lr(functools.partial(_linear, total=total_steps, start=start, end=end))
    if name == "warmup_stable_decay":
        warmup, decay = check_range("warmup", o["warmup"], 0, 1), check_range("decay", o["decay"], 0, 1)
        if warmup + decay > 1:
            raise LrlabError(f"warmup + decay must be <= 1 (fractions of total_steps), got {warmup} + {decay}")
        return lambda_lr(functools.partial(
            _warmup_stable_decay, total=total_steps, warmup=round(warmup * total_steps),
            decay=round(decay * total_steps), floor=check_range("min_lr_ratio", o["min_lr_ratio"], 0, 1)))
    if name == "inverse_sqrt":
        warmup = o["warmup"] if o["warmup"] is not None else max(1, total_steps // 20)
        check_int("warmup", warmup, minimum=1)
        return lambda_lr(functools.partial(_inverse_sqrt, warmup=warmup))
    if name == "warmup_multistep":
        warmup = round(check_range("warmup", o["warmup"], 0, 1) * total_steps)
        milestones = sorted(round(check_range("milestone", f, 0, 1) * total_steps) for f in o["milestones"])
        return lambda_lr(functools.partial(
            _warmup_multistep, warmup=warmup, start=check_range("start_ratio", o["start_ratio"], 0, 1),
            shape=check_choice("warmup_shape", o["warmup_shape"], ("linear", "constant")),
            milestones=tuple(milestones), gamma=check_positive("gamma", o["gamma"])))
    raise AssertionError(name)  # every name in SCHEDULES is handled above


# Closed-form multipliers for LambdaLR (module-level so a LambdaLR state_dict can be saved).
def _cosine(step, total, floor):
    progress = min(step, total) / total
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _sgdr(step, first, mult, floor):
    if mult == 1:
        position, length = step % first, first
    else:
        position, length = step, first
        while position >= length:
            position, length = position - length, length * mult
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * position / length))


def _warmup_cosine(step, total, warmup, floor, start):
    if step < warmup:
        return start + (1 - start) * step / warmup
    return _cosine(step - warmup, max(1, total - warmup), floor)


def _polynomial(step, total, power, floor):
    return floor + (1 - floor) * (1 - min(step, total) / total) ** power


def _linear(step, total, start, end):
    return start + (end - start) * min(step, total) / total


def _warmup_stable_decay(step, total, warmup, decay, floor):
    if step < warmup:
        return step / warmup
    if step < total - decay or decay == 0:
        return 1.0
    return floor + (1 - floor) * max(0, total - step) / decay


def _inverse_sqrt(step, warmup):
    # Vaswani et al. count updates from 1: the first update already has warmup's first rise, not a rate of 0
    n = step + 1
    return min(n / warmup, math.sqrt(warmup / n))


def _warmup_multistep(step, warmup, start, shape, milestones, gamma):
    decay = gamma ** sum(step >= m for m in milestones)
    if step >= warmup:
        return decay
    return decay * (start + (1 - start) * step / warmup if shape == "linear" else start)


def _plateauing_loss(epoch):
    """Default metric for reduce_on_plateau's gallery curve: improves for 15 epochs, then flat."""
    return max(0.5, 2.0 - 0.1 * epoch)


def lr_curve(name, total_steps, lr=1.0, momentum=0.9, metric=None, **kwargs):
    """The LR and momentum in effect at each step 0..total_steps-1 of schedule `name` (for the gallery).

    Steps the same Schedule that build_schedule gives the training loop, on a throwaway SGD optimizer
    with one dummy parameter. For reduce_on_plateau, `metric(epoch)` is the validation loss seen at
    the end of each epoch of `steps_per_epoch` steps (default: a loss that plateaus).
    """
    check_positive("lr", lr)
    check_range("momentum", momentum, 0, 1)
    steps_per_epoch = kwargs.pop("steps_per_epoch", 1)
    metric = metric or _plateauing_loss
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr, momentum=momentum)
    curve = {"step": [], "lr": [], "momentum": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's step-order and deprecation chatter
        schedule = build_schedule(optimizer, name, total_steps, steps_per_epoch, **kwargs)
        for step in range(total_steps):
            curve["step"].append(step)
            curve["lr"].append(schedule.lrs()[0])
            curve["momentum"].append(schedule.momenta()[0])
            optimizer.step()  # no gradient: changes nothing, but keeps torch's step order
            schedule.step()
            if (step + 1) % steps_per_epoch == 0:
                schedule.step_epoch(metric((step + 1) // steps_per_epoch - 1))
    return curve
