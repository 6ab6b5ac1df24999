"""Each schedule against its closed form, group ratios, momentum cycling, resume, bad inputs."""
import math

import pytest
import torch

from lrlab.errors import LrlabError
from lrlab.names import SCHEDULES
from lrlab.schedules import DEFAULT_GALLERY_ARGS, OPTIONS, build_schedule, lr_curve

T = 200  # steps per curve: enough for every shape, fast


def _triangle(t, low, high, half):
    """Smith's triangular CLR: low -> high over `half` steps, back down over the next `half`."""
    cycle = math.floor(1 + t / (2 * half))
    x = abs(t / half - 2 * cycle + 1)
    return low + (high - low) * max(0.0, 1 - x)


def _one_cycle(t, peak, pct, div, final_div, three_phase, anneal):
    """torch's OneCycleLR phases, written out: (start_lr, end_lr, last step of the phase)."""
    start, low = peak / div, peak / div / final_div
    if three_phase:
        phases = [(start, peak, pct * T - 1), (peak, start, 2 * pct * T - 2), (start, low, T - 1)]
    else:
        phases = [(start, peak, pct * T - 1), (peak, low, T - 1)]
    begin = 0
    for a, b, end in phases:
        if t <= end or end == phases[-1][2]:
            frac = (t - begin) / (end - begin)
            if anneal == "linear":
                return a + (b - a) * frac
            return b + (a - b) * (1 + math.cos(math.pi * frac)) / 2
        begin = end


# name, kwargs, expected multiplier at step t (base lr 1)
CLOSED_FORMS = [
    ("constant", {}, lambda t: 1.0),
    ("step", {}, lambda t: 0.1 ** (t // (T // 3))),
    ("step", dict(step_size=50, gamma=0.5), lambda t: 0.5 ** (t // 50)),
    ("multistep", {}, lambda t: 0.1 ** ((t >= 100) + (t >= 150))),
    ("multistep", dict(milestones=[1 / 3, 2 / 3, 8 / 9]),  # Goyal et al.'s 30/60/80 of 90 epochs
     lambda t: 0.1 ** sum(t >= round(f * T) for f in (1 / 3, 2 / 3, 8 / 9))),
    ("exponential", {}, lambda t: 0.01 ** (t / T)),
    ("exponential", dict(gamma=0.99), lambda t: 0.99 ** t),
    ("cosine", {}, lambda t: 0.5 * (1 + math.cos(math.pi * t / T))),
    ("cosine", dict(min_lr_ratio=0.1), lambda t: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t / T))),
    # cycles of 20, 40, 80 steps: restarts at 20, 60, 140
    ("cosine_warm_restarts", dict(first_cycle=20),
     lambda t: 0.5 * (1 + math.cos(math.pi * _sgdr_position(t, 20, 2)))),
    ("cosine_warm_restarts", dict(first_cycle=30, cycle_mult=1, min_lr_ratio=0.2),
     lambda t: 0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * (t % 30) / 30))),
    ("warmup_cosine", {}, lambda t: t / 10 if t < 10 else 0.5 * (1 + math.cos(math.pi * (t - 10) / (T - 10)))),
    ("warmup_cosine", dict(warmup=0.25, min_lr_ratio=0.1, start_ratio=0.2),
     lambda t: 0.2 + 0.8 * t / 50 if t < 50 else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (t - 50) / (T - 50)))),
    ("triangular", {}, lambda t: _triangle(t, 0.1, 1.0, T // 2)),
    ("triangular", dict(base_ratio=0.2, cycles=4), lambda t: _triangle(t, 0.2, 1.0, T // 8)),
    ("one_cycle", {}, lambda t: _one_cycle(t, 1.0, 0.45, 10, 1e3, True, "linear")),
    ("one_cycle", dict(three_phase=False, anneal="cos", pct_start=0.3, div_factor=20, final_div_factor=100),
     lambda t: _one_cycle(t, 1.0, 0.3, 20, 100, False, "cos")),
    ("one_cycle_fastai", {}, lambda t: _one_cycle(t, 1.0, 0.25, 25, 1e4, False, "cos")),
    ("polynomial", {}, lambda t: 1 - t / T),
    ("polynomial", dict(power=2.0), lambda t: (1 - t / T) ** 2),
    ("polynomial", dict(power=0.5, min_lr_ratio=0.1), lambda t: 0.1 + 0.9 * (1 - t / T) ** 0.5),
    ("linear", {}, lambda t: 1 - t / T),
    ("linear", dict(start_ratio=0.5, end_ratio=0.25), lambda t: 0.5 - 0.25 * t / T),
    ("linear", dict(start_ratio=0.0, end_ratio=1.0), lambda t: t / T),  # warmup from zero: LambdaLR
    ("warmup_stable_decay", {}, lambda t: t / 10 if t < 10 else 1.0 if t < 160 else (T - t) / 40),
    ("warmup_stable_decay", dict(warmup=0.1, decay=0.5, min_lr_ratio=0.1),
     lambda t: t / 20 if t < 20 else 1.0 if t < 100 else 0.1 + 0.9 * (T - t) / 100),
    # Vaswani et al.'s step_num counts updates from 1: min(n / warmup, sqrt(warmup / n)), n = t + 1
    ("inverse_sqrt", {}, lambda t: min((t + 1) / 10, math.sqrt(10 / (t + 1)))),
    ("inverse_sqrt", dict(warmup=25), lambda t: min((t + 1) / 25, math.sqrt(25 / (t + 1)))),
    ("warmup_multistep", {}, lambda t: 0.1 ** sum(t >= round(f * T) for f in (1 / 3, 2 / 3, 8 / 9))),
    # Goyal's gradual warmup at k = 8: 1/8 -> 1 linearly over 20 steps, then the 30/60/80-of-90 steps
    ("warmup_multistep", dict(warmup=0.1, start_ratio=1 / 8),
     lambda t: (1 / 8 + 7 / 8 * t / 20 if t < 20 else 1.0) * 0.1 ** sum(t >= round(f * T) for f in (1 / 3, 2 / 3, 8 / 9))),
    # constant warmup: hold the small LR, then jump
    ("warmup_multistep", dict(warmup=0.1, start_ratio=1 / 8, warmup_shape="constant", milestones=[0.5]),
     lambda t: 1 / 8 if t < 20 else 1.0 if t < 100 else 0.1),
]


def _sgdr_position(t, first, mult):
    length = first
    while t >= length:
        t, length = t - length, length * mult
    return t / length


@pytest.mark.parametrize("name, kwargs, expected", CLOSED_FORMS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CLOSED_FORMS)])
def test_schedule_matches_closed_form(name, kwargs, expected):
    lr = 0.3
    curve = lr_curve(name, T, lr=lr, **kwargs)
    assert curve["step"] == list(range(T))
    want = [lr * expected(t) for t in range(T)]
    assert curve["lr"] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_every_schedule_has_a_closed_form_test_and_gallery_args():
    assert {name for name, _, _ in CLOSED_FORMS} == set(SCHEDULES) - {"reduce_on_plateau"}
    assert set(DEFAULT_GALLERY_ARGS) == set(SCHEDULES) == set(OPTIONS)
    for name in SCHEDULES:  # gallery kwargs are valid and give a finite, positive-peaked curve
        lrs = lr_curve(name, 1000, **DEFAULT_GALLERY_ARGS[name])["lr"]
        assert len(lrs) == 1000 and all(math.isfinite(x) and x >= 0 for x in lrs) and max(lrs) > 0


def _two_group_optimizer(kind="sgd"):
    params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))]
    groups = [{"params": [params[0]], "lr": 1.0}, {"params": [params[1]], "lr": 0.1}]
    if kind == "adamw":
        return torch.optim.AdamW(groups, lr=1.0)
    return torch.optim.SGD(groups, lr=1.0, momentum=0.9)


def _run(optimizer, schedule, steps, metric=lambda epoch: 1.0):
    """Step both `steps` times (an epoch = 10 steps); return the (lrs, momenta) in effect at each step."""
    seen = []
    for step in range(steps):
        seen.append((schedule.lrs(), schedule.momenta()))
        optimizer.step()
        schedule.step()
        if (step + 1) % 10 == 0:
            schedule.step_epoch(metric(step // 10))
    return seen


@pytest.mark.parametrize("kind", ["sgd", "adamw"])
@pytest.mark.parametrize("name", SCHEDULES)
def test_group_lr_ratios_survive(name, kind):
    optimizer = _two_group_optimizer(kind)
    kwargs = dict(patience=1) if name == "reduce_on_plateau" else {}
    if name in ("triangular",):
        kwargs["cycle_momentum"] = True
    schedule = build_schedule(optimizer, name, 100, steps_per_epoch=10, **kwargs)
    seen = _run(optimizer, schedule, 100)
    for lrs, momenta in seen:
        assert lrs[0] == pytest.approx(10 * lrs[1], rel=1e-9, abs=1e-15)
        assert momenta[0] == pytest.approx(momenta[1])
    assert len({lrs[0] for lrs, _ in seen}) > (1 if name != "constant" else 0)


@pytest.mark.parametrize("name", ["one_cycle", "one_cycle_fastai"])
@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_one_cycle_momentum_moves_against_lr(name, kind):
    optimizer = _two_group_optimizer(kind)
    schedule = build_schedule(optimizer, name, T)
    lrs, momenta = zip(*[(lr[0], m[0]) for lr, m in _run(optimizer, schedule, T)])
    peak = max(range(T), key=lambda t: lrs[t])
    assert momenta[0] == pytest.approx(0.95) and momenta[peak] == pytest.approx(0.85)
    if kind == "adamw":  # torch cycles beta1 for Adam-family optimizers; beta2 stays
        assert optimizer.param_groups[0]["betas"][1] == 0.999
    cycle_end = int(2 * 0.45 * T - 2) if name == "one_cycle" else T - 1  # then the annihilation phase
    for t in range(1, cycle_end):
        d_lr, d_momentum = lrs[t] - lrs[t - 1], momenta[t] - momenta[t - 1]
        assert d_lr * d_momentum < 0, (t, d_lr, d_momentum)


def test_triangular_momentum_cycles_when_asked():
    curve = lr_curve("triangular", T, cycle_momentum=True, base_momentum=0.8, max_momentum=0.9)
    assert curve["momentum"][0] == pytest.approx(0.9) and curve["momentum"][T // 2] == pytest.approx(0.8)
    assert set(lr_curve("triangular", T)["momentum"]) == {0.9}  # off by default: the optimizer's own


@pytest.mark.parametrize("load_optimizer_first", [False, True])
@pytest.mark.parametrize("name", SCHEDULES)
def test_state_dict_round_trip_continues_identically(name, load_optimizer_first):
    kwargs = dict(patience=1) if name == "reduce_on_plateau" else {}
    falling = lambda epoch: 1.0 / (1 + min(epoch, 3))  # noqa: E731  improves, then plateaus
    optimizer = _two_group_optimizer()
    schedule = build_schedule(optimizer, name, 100, steps_per_epoch=10, **kwargs)
    _run(optimizer, schedule, 57, falling)
    saved_optimizer, saved_schedule = optimizer.state_dict(), schedule.state_dict()
    expected = _run(optimizer, schedule, 40, lambda epoch: falling(epoch + 5))

    resumed = _two_group_optimizer()
    if load_optimizer_first:
        resumed.load_state_dict(saved_optimizer)
        resumed_schedule = build_schedule(resumed, name, 100, steps_per_epoch=10, **kwargs)
    else:  # what torch recommends and lrlab.train does
        resumed_schedule = build_schedule(resumed, name, 100, steps_per_epoch=10, **kwargs)
        resumed.load_state_dict(saved_optimizer)
    resumed_schedule.load_state_dict(saved_schedule)
    assert _run(resumed, resumed_schedule, 40, lambda epoch: falling(epoch + 5)) == expected


def test_reduce_on_plateau_reduces_after_patience():
    optimizer = _two_group_optimizer()
    schedule = build_schedule(optimizer, "reduce_on_plateau", 100, patience=2, factor=0.5)
    for _ in range(5):
        optimizer.step()
        schedule.step()  # per-step calls change nothing
    assert schedule.lrs() == [1.0, 0.1]
    for loss in (1.0, 0.9, 0.9, 0.9):  # best at epoch 2, then two bad epochs: still within patience
        schedule.step_epoch(loss)
    assert schedule.lrs() == [1.0, 0.1]
    schedule.step_epoch(0.9)  # third bad epoch > patience
    assert schedule.lrs() == pytest.approx([0.5, 0.05])


def test_reduce_on_plateau_gallery_curve_steps_down():
    curve = lr_curve("reduce_on_plateau", 200, steps_per_epoch=10, patience=2,
                     metric=lambda epoch: max(1.0, 5.0 - epoch))  # flat from epoch 4
    # flat from epoch 4: bad epochs 5, 6, 7 -> reduce after epoch 7, i.e. from step 80; again from 110
    assert curve["lr"][79] == 1.0 and curve["lr"][80] == pytest.approx(0.1) and curve["lr"][110] == pytest.approx(0.01)


@pytest.mark.parametrize("schedule, kwargs", [
    ("triangular", dict(base_ratio=1 / 30, cycles=1)),
    ("one_cycle", dict(three_phase=False, anneal="linear", pct_start=0.5, div_factor=30, final_div_factor=1,
                       cycle_momentum=False)),
])
def test_smith_topin_super_convergence_shape(schedule, kwargs):
    """Smith & Topin 2017: linear 0.1 -> 3.0 -> 0.1 over 10k iterations."""
    lrs = lr_curve(schedule, 10_000, lr=3.0, **kwargs)["lr"]
    assert lrs[5000] == pytest.approx(3.0, rel=0.01)
    assert max(lrs) == pytest.approx(3.0)
    assert lrs[0] == pytest.approx(0.1, rel=0.01) and lrs[-1] == pytest.approx(0.1, rel=0.01)


def test_smith_2018_one_cycle_shape():
    """Smith 2018: 0.08 -> 0.8 -> 0.08 with momentum 0.95 -> 0.85 -> 0.95, then annihilation."""
    curve = lr_curve("one_cycle", 1000, lr=0.8)
    lrs, momenta = curve["lr"], curve["momentum"]
    assert lrs[0] == pytest.approx(0.08) and lrs[449] == pytest.approx(0.8) and lrs[898] == pytest.approx(0.08)
    assert momenta[0] == pytest.approx(0.95) and momenta[449] == pytest.approx(0.85) and momenta[898] == pytest.approx(0.95)
    assert lrs[-1] == pytest.approx(0.08 / 1e3, rel=0.02) and momenta[-1] == pytest.approx(0.95)


def test_unknown_schedule_names_the_choices():
    with pytest.raises(LrlabError, match="'cosinus'.*valid choices: constant, step"):
        build_schedule(_two_group_optimizer(), "cosinus", 100)


def test_unknown_option_names_the_schedule_and_its_options():
    with pytest.raises(LrlabError, match="'gama'.*'step'.*step_size, gamma"):
        build_schedule(_two_group_optimizer(), "step", 100, gama=0.5)
    with pytest.raises(LrlabError, match="'warmup'.*'constant'.*none"):
        lr_curve("constant", 100, warmup=0.1)


@pytest.mark.parametrize("total_steps", [0, -5, 2.5, True, None])
def test_bad_total_steps(total_steps):
    with pytest.raises(LrlabError, match=f"total_steps.*{total_steps!r}"):
        build_schedule(_two_group_optimizer(), "cosine", total_steps)


@pytest.mark.parametrize("name, kwargs", [
    ("warmup_cosine", dict(warmup=1.5)),
    ("warmup_stable_decay", dict(warmup=0.6, decay=0.6)),
    ("one_cycle", dict(anneal="cosine")),
    ("one_cycle", dict(pct_start=0.6)),          # three phases need pct_start < 0.5
    ("step", dict(step_size=0)),
    ("triangular", dict(cycles=0)),
    ("reduce_on_plateau", dict(factor=1.0)),
    ("multistep", dict(milestones=[0.5, 2.0])),
    ("cosine_warm_restarts", dict(cycle_mult=1.5)),
])
def test_bad_options_raise_lrlab_error(name, kwargs):
    with pytest.raises(LrlabError):
        build_schedule(_two_group_optimizer(), name, 100, **kwargs)


def test_momentum_cycling_needs_an_optimizer_with_momentum():
    optimizer = torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(LrlabError, match="one_cycle"):
        build_schedule(optimizer, "one_cycle", 100)


def test_schedule_rebuilt_on_a_used_optimizer_takes_its_current_lr():
    optimizer = _two_group_optimizer()
    for group in optimizer.param_groups:
        group["initial_lr"] = 123.0  # left over from an earlier scheduler
    schedule = build_schedule(optimizer, "cosine", 10)
    assert schedule.lrs() == [1.0, 0.1]


def test_the_last_epoch_records_the_rate_its_last_update_used():
    """One step past its end, torch's one-cycle extrapolates below zero; the record must not show that."""
    import torch
    from lrlab.schedules import build_schedule
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.3, momentum=0.9)
    schedule = build_schedule(optimizer, "one_cycle", 20, steps_per_epoch=10)
    used = []
    for _ in range(20):
        used.append(schedule.lrs()[0])
        optimizer.step()
        schedule.step()
    assert schedule.lrs()[0] < 0 < schedule.epoch_end_lr(final=True) == used[-1]
    assert schedule.epoch_end_lr(final=False) == schedule.lrs()[0]
