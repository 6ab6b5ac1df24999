"""The LR range test: a run of the one loop with a trace, and three rules that read it."""
import math

import numpy as np
import pytest

from lrlab.config import RunConfig
from lrlab.errors import LrlabError
from lrlab.lr_finder import range_test_config, smoothed, suggestions
from lrlab.results import validate_record
from lrlab.runner import run_one
from lrlab.train import train

MLP = RunConfig(model="mlp", width=64, optimizer="sgd", batch_size=50, augment="none",
                train_per_class=30, test_per_class=10)


def synthetic_trace(n=200, knee=-2.0, blowup=0.5):
    """Loss against log10 LR: flat, a tanh descent centred on `knee`, then a blow-up."""
    log_lrs = np.linspace(-5, 1, n)
    loss = 2.3 - np.tanh(2.0 * (log_lrs - knee)) + np.exp(4.0 * (log_lrs - blowup))
    return 10.0 ** log_lrs, loss


def test_the_rules_find_what_the_curve_was_built_with():
    lrs, loss = synthetic_trace()
    s = suggestions(lrs, loss, beta=0.0)
    assert s["steepest"] == pytest.approx(10 ** -2.0, rel=0.1)       # the tanh's centre
    lowest = lrs[np.argmin(loss)]
    assert s["min_over_10"] == pytest.approx(lowest / 10, rel=1e-9)
    assert lrs[0] < s["valley"] < lowest                              # inside the falling stretch


def test_smoothing_is_bias_corrected_and_keeps_blowups():
    assert smoothed([3.0, 3.0, 3.0], beta=0.9) == pytest.approx([3.0, 3.0, 3.0])
    assert math.isinf(smoothed([1.0, float("nan"), 1.0], beta=0.5)[-1])


@pytest.mark.parametrize("kwargs, needle", [
    (dict(lr_min=0.0, lr_max=1.0, steps=10), "lr_min must be a positive number"),
    (dict(lr_min=1.0, lr_max=0.1, steps=10), "must be below lr_max"),
    (dict(lr_min=1e-4, lr_max=1.0, steps=1), "steps must be an integer >= 2"),
    (dict(lr_min=1e-4, lr_max=1.0, steps=10, mode="cubic"), "exponential, linear"),
])
def test_bad_range_tests_are_one_line_errors(kwargs, needle):
    with pytest.raises(LrlabError, match=needle):
        range_test_config(MLP, **kwargs)


def test_a_range_test_is_a_traced_run_of_the_one_loop(cifar):
    config = range_test_config(MLP.replace(divergence_factor=1.5), 1e-4, 10.0, steps=40, trace_every=2,
                               trace_test=True)
    record = train(config, data=cifar, progress=False)
    trace = record["trace"]
    assert [p["step"] for p in trace] == list(range(2, 2 * len(trace) + 1, 2))
    assert all("test_acc" in p for p in trace)
    lrs = [p["lr"] for p in trace]
    assert lrs == sorted(lrs) and lrs[0] < 1e-3
    # towards LR 10 the loss blows up: the divergence rule marks the step (checked every 16 steps)
    assert record["status"] == "diverged" and record["diverged_at_step"] < 40
    validate_record({**record, "experiment": "x", "profile": "smoke"})


def test_a_linear_test_can_start_at_zero_like_smiths():
    config = range_test_config(MLP, 0.0, 3.0, steps=100, mode="linear")
    assert (config.schedule, config.lr, config.schedule_args["start_ratio"]) == ("linear", 3.0, 0.0)


def test_steepest_rule_matches_torch_lr_finder_on_its_own_curve(cifar):
    """Our steepest-descent rule, read off torch-lr-finder's own smoothed curve, is its suggestion."""
    torch = pytest.importorskip("torch")
    lr_finder = pytest.importorskip("torch_lr_finder")
    import matplotlib
    matplotlib.use("Agg")
    from lrlab.models import build_model
    from lrlab.optim import build_optimizer

    torch.manual_seed(0)
    model = build_model("mlp", width=64)
    optimizer = build_optimizer(model, "sgd", 1e-5)
    x = torch.from_numpy(cifar.train_images[:600]).permute(0, 3, 1, 2).float().div(255)
    y = torch.from_numpy(cifar.train_labels[:600])
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=50, shuffle=True)
    finder = lr_finder.LRFinder(model, optimizer, torch.nn.CrossEntropyLoss())
    finder.range_test(loader, end_lr=10, num_iter=80)
    _, theirs = finder.plot(skip_start=10, skip_end=5, suggest_lr=True, show_lr=None)
    lrs, losses = finder.history["lr"][10:-5], finder.history["loss"][10:-5]
    ours = suggestions(lrs, losses, beta=0.0, skip_start=0.0)["steepest"]
    assert ours == pytest.approx(theirs, rel=0.5)


def test_torch_lr_finder_runs_the_same_declared_test_as_a_record(cifar, capsys):
    pytest.importorskip("torch_lr_finder")
    config = range_test_config(MLP, 1e-4, 1.0, steps=30).replace(runner="torch-lr-finder")
    record = run_one(config, data=cifar, progress=False)
    out = capsys.readouterr()
    assert "it/s" not in out.err and out.out == ""       # --no-progress silences the tool too
    validate_record({**record, "experiment": "x", "profile": "smoke"})
    lrs = [p["lr"] for p in record["trace"]]
    assert lrs[0] == pytest.approx(1e-4) and lrs == sorted(lrs) and len(lrs) <= 30
    assert record["env"]["runner"].startswith("torch-lr-finder")
    assert config.id != range_test_config(MLP, 1e-4, 1.0, steps=30).id


def test_rules_that_agree_are_named_together_once():
    from lrlab.lr_finder import agreeing_rules
    lines = agreeing_rules({"steepest": 0.1, "min_over_10": 0.1000001, "valley": 0.3})
    assert lines == [(0.1, "steepest = min_over_10"), (0.3, "valley")]


@pytest.mark.parametrize("mode, lr_min, lr_max", [("exponential", 1e-4, 1e-2), ("linear", 0.0, 1e-2)])
def test_the_grid_runs_from_lr_min_to_lr_max_like_torch_lr_finders(cifar, mode, lr_min, lr_max):
    """The first update uses lr_min and the last lr_max, in lrlab's loop and in torch-lr-finder alike
    (lrlab's grid used to stop one step short, at lr_max / gamma)."""
    pytest.importorskip("torch_lr_finder")
    config = range_test_config(MLP, lr_min, lr_max, steps=12, mode=mode)
    ours = [p["lr"] for p in train(config, data=cifar, progress=False)["trace"]]
    theirs = [p["lr"] for p in run_one(config.replace(runner="torch-lr-finder"), data=cifar, progress=False)["trace"]]
    assert len(ours) == len(theirs) == 12
    assert ours[0] == pytest.approx(lr_min, abs=1e-15) and ours[-1] == pytest.approx(lr_max, rel=1e-12)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-11)   # the tool cannot start at 0: 1e-12
