"""The super-convergence chapter's declaration holds the paper's protocol and the issue's floors."""
import pytest

from lrlab.experiments import super_convergence as sc
from lrlab.schedules import lr_curve


def steps(config):
    n_train = 10 * config.train_per_class if config.train_per_class else 50_000
    return config.epochs * (config.steps_per_epoch or n_train // config.batch_size)


def test_full_profile_is_the_papers_protocol():
    p = sc.parts("full")
    cycle = p["headline_one_cycle"][0]
    assert (cycle.model, cycle.batch_size, cycle.augment) == ("resnet56", 1000, "flip")
    assert (cycle.momentum, cycle.weight_decay, cycle.bn_momentum) == (0.9, 1e-4, 0.05)
    assert steps(cycle) == 10_000 and cycle.lr == 3.0
    curve = lr_curve(cycle.schedule, 10_000, lr=cycle.lr, **cycle.schedule_args)["lr"]
    assert curve[0] == pytest.approx(0.1) and max(curve) == pytest.approx(3.0, rel=1e-3)
    assert curve[-1] == pytest.approx(0.1, abs=1e-3)
    baseline = p["headline_baseline"][0]
    assert baseline.lr == 0.35 and steps(baseline) >= 4 * steps(cycle)
    assert [steps(c) for c in p["budget_curve"]] == [2_000, 6_000, 20_000, 10_000]   # the paper's points
    modern = p["modern_one_cycle"][0]
    assert (modern.batch_size, modern.augment, modern.epochs, modern.lr) == (512, "crop+flip", 95, 0.8)


@pytest.mark.parametrize("profile", sc.SETTINGS)
def test_every_profile_has_the_parts_the_chapter_reads(profile):
    p = sc.parts(profile)
    assert len(p["peak_sweep"]) >= 7 and len(p["constant_sweep"]) >= 7
    # the headline pair with seeds: on the paper's net, or (gpu) first on ResNet-20, whose pair the logs report
    pair = ("first_headline_one_cycle", "first_headline_baseline") if profile == "gpu" else (
        "headline_one_cycle", "headline_baseline")
    assert len(p[pair[0]]) >= 2 and len(p[pair[1]]) >= 2
    assert p["range_test_loss_torch_lr_finder"][0].runner == "torch-lr-finder"
    assert p["range_test_accuracy"][0].trace_test
    runs = sc.runs(profile)
    assert len({c.id for c in runs}) == len(runs)
    assert {c.id for configs in p.values() for c in configs} == {c.id for c in runs}


def test_headline_pair_has_three_seeds_where_it_counts():
    for profile in ("quick", "full"):
        p = sc.parts(profile)
        assert len({c.seed for c in p["headline_one_cycle"]}) >= 3
        assert len({c.seed for c in p["headline_baseline"]}) >= 3


def test_gpu_profile_tests_resnet20s_logged_pair_first_and_keeps_resnet56():
    from lrlab import experiments
    p = sc.parts("gpu")
    cycle, baseline = p["first_headline_one_cycle"][0], p["first_headline_baseline"][0]
    assert (cycle.model, cycle.batch_size, steps(cycle), cycle.lr) == ("resnet20", 1000, 10_000, 3.0)
    assert (baseline.lr, steps(baseline)) == (0.35, 40_000)
    assert {c.model for c in p["headline_one_cycle"] + p["headline_baseline"] + p["budget_curve"]} == {"resnet56"}
    assert {steps(c) for c in p["peak_sweep"] + p["constant_sweep"]} == {2_000}   # 2k-iteration cycles
    chunks = experiments.chunks("super_convergence", "gpu")
    assert [c.name for c in chunks if c.tier == 1] == ["range_tests", "resnet20_headline"]
    first = next(c for c in chunks if c.name == "resnet20_headline")
    assert {(c.schedule, c.seed) for c in first.runs} == {("triangular", 0), ("triangular", 1), ("multistep", 0)}
