"""The linear-scaling chapter's declaration: the rule, the three warmups, the alternatives, seeds."""
import math
from collections import Counter

import pytest

from lrlab.experiments import linear_scaling as ls
from lrlab.schedules import lr_curve


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_sweep_follows_the_linear_rule_with_seeds_and_one_bn_batch(profile):
    s, parts = ls.SETTINGS[profile], ls.parts(profile)
    runs = ls.runs(profile)
    assert len({r.id for r in runs}) == len(runs)
    sweep = parts["batch_sweep"]
    assert Counter(r.batch_size for r in sweep) == {b: s["seeds"] for b in s["batches"]}
    assert s["seeds"] >= 2 and ls.REFERENCE_BATCH in s["batches"]
    for r in sweep:
        assert r.lr == pytest.approx(0.1 * r.batch_size / 128)
        assert r.nesterov and r.weight_decay == 1e-4 and not r.decay_norm_and_bias and r.zero_init_residual
        # BatchNorm always sees 128 images (the paper's fixed per-worker BN), whatever the batch
        assert (r.micro_batch or r.batch_size) == min(r.batch_size, ls.BN_BATCH)
        assert ls.describe(r.to_dict()) == ("linear", "gradual" if r.batch_size > 128 else "none")
    # the noise scale is measured in every seed of the reference run, nowhere else
    assert {(r.batch_size, r.seed) for r in runs if r.noise_scale_every} == {
        (128, k) for k in range(s["seeds"])}


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_every_large_batch_has_three_warmups_and_the_largest_two_alternative_rules(profile):
    s, parts = ls.SETTINGS[profile], ls.parts(profile)
    warm = Counter((r.batch_size, ls.describe(r.to_dict())[1]) for r in parts["warmups"])
    large = [b for b in s["batches"] if b >= 512]
    assert large and all(warm[(b, w)] == 1 for b in large for w in ls.WARMUPS)
    rules = {(r.batch_size, ls.describe(r.to_dict())[0]) for r in parts["rules"]}
    assert rules == {(b, rule) for b in s["largest"] for rule in ("linear", "sqrt", "none")}
    # every batch takes (nearly) the same images per epoch: one budget for all
    n = 10 * s["per_class"] if s["per_class"] else 50_000
    budgets = [n // b * b for b in s["batches"]]
    assert max(budgets) / min(budgets) < 1.02


def test_the_three_warmups_start_from_the_reference_rate():
    base = ls.parts("quick")["batch_sweep"][0]
    total = 60
    curves = {w: lr_curve("warmup_multistep", total, lr=c.lr, **c.schedule_args)["lr"]
              for w in ls.WARMUPS for c in [ls.config_for(base, 1024, warmup=w)]}
    warmup_steps = round(ls.WARMUP_FRACTION * total)
    assert curves["none"][0] == pytest.approx(0.8)
    assert curves["constant"][0] == curves["constant"][warmup_steps - 1] == pytest.approx(0.1)
    assert curves["gradual"][0] == pytest.approx(0.1)
    assert curves["gradual"][warmup_steps // 2] == pytest.approx(0.1 + 0.7 * (warmup_steps // 2) / warmup_steps)
    for w in ls.WARMUPS:   # after the warmup all three are the same schedule: 0.8, /10 at 1/3, 2/3, 8/9
        assert curves[w][warmup_steps:] == pytest.approx(curves["none"][warmup_steps:])
    assert curves["none"][-1] == pytest.approx(0.8e-3)


def test_rules_are_read_back_from_a_config():
    base = ls.parts("quick")["batch_sweep"][0]
    assert ls.describe(ls.config_for(base, 4096, rule="sqrt").to_dict()) == ("sqrt", "gradual")
    assert ls.describe(ls.config_for(base, 4096, rule="none").to_dict()) == ("none", "none")
    assert ls.config_for(base, 4096, rule="sqrt").lr == pytest.approx(0.1 * math.sqrt(32))
