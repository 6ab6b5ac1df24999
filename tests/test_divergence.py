"""The divergence rule (lrlab.divergence), on loss sequences made up to show each case, and on the run
that showed rule 3 was needed."""
import math

import pytest
import torch

from lrlab.divergence import DivergenceWatch

CHANCE = math.log(10)


def watch_losses(epochs, factor=4.0):
    """Feed `epochs` (lists of per-step losses) to a fresh watch; the step it marks (-1: fine)."""
    watch, step = DivergenceWatch(factor, 10, "cpu"), 0
    for losses in epochs:
        for loss in losses:
            watch.update(torch.tensor(loss), step)
            step += 1
        watch.end_epoch()
    return int(watch.first_bad.item())


def test_a_non_finite_loss_and_a_blow_up_of_the_average_diverge_where_they_happen():
    assert watch_losses([[2.3, 2.2, float("nan"), 2.0]]) == 2
    assert watch_losses([[2.3] + [50.0] * 10]) > 0


def test_a_spike_that_kills_the_network_diverges_at_the_spike():
    """Basics, quick, LR 2^-1.5, momentum 0.9: one step at 34.9, then exactly ln 10; the average never
    reaches 4x the first loss, so rules 1 and 2 called this run completed."""
    epochs = [[2.31, 2.25, 34.9, 2.6, 2.4] + [CHANCE + 0.02] * 5, [CHANCE + 0.003, CHANCE - 0.002] * 5]
    assert watch_losses(epochs[:1]) == -1   # no whole epoch at chance yet
    assert watch_losses(epochs) == 2


def test_a_network_that_starts_at_chance_and_barely_moves_is_fine():
    """A zero-initialised readout starts at exactly ln 10; at a tiny rate it stays near it: no rise, no collapse."""
    assert watch_losses([[CHANCE - 1e-4 * i for i in range(10)]] * 3) == -1


def test_a_run_that_learns_little_but_still_learns_is_fine():
    noisy = [[CHANCE + 0.05 * math.sin(i) for i in range(20)] for _ in range(3)]
    assert watch_losses([[2.3, 3.0, 2.5] + noisy[0]] + noisy[1:]) == -1


def test_each_member_of_a_stack_follows_its_own_rule():
    watch = DivergenceWatch([4.0, 4.0, 4.0], 10, "cpu")
    rows = [[2.31, 2.31, 2.31], [30.0, 2.2, 2.5], [CHANCE, 2.0, CHANCE], [CHANCE, 1.9, CHANCE]]
    for step, row in enumerate(rows):
        watch.update(torch.tensor(row), step)
        if step == 1:
            watch.end_epoch()
    watch.end_epoch()   # 0 spiked, then sat at chance all epoch; 1 learns; 2 rose less than COLLAPSE_RISE
    assert watch.first_bad.tolist() == [1, -1, -1]


def test_the_rule_resumes_from_a_checkpoint_where_it_left_off():
    losses = [2.31, 9.0, CHANCE, CHANCE]
    whole = DivergenceWatch(4.0, 10, "cpu")   # two epochs of two steps
    for step, loss in enumerate(losses):
        whole.update(torch.tensor(loss), step)
        if step % 2:
            whole.end_epoch()
    first = DivergenceWatch(4.0, 10, "cpu")
    for step, loss in enumerate(losses[:2]):
        first.update(torch.tensor(loss), step)
    first.end_epoch()
    resumed = DivergenceWatch(4.0, 10, "cpu", [first.state()])
    for step, loss in enumerate(losses[2:], start=2):
        resumed.update(torch.tensor(loss), step)
    resumed.end_epoch()
    assert resumed.first_bad.item() == whole.first_bad.item() == 1


def test_a_checkpoint_from_before_the_rule_resumes_without_its_peak():
    old = dict(first_loss=2.3, ema=2.4)   # what checkpoints held before rule 3
    watch = DivergenceWatch(4.0, 10, "cpu", [old])
    assert watch.peak.item() == pytest.approx(2.3) and watch.first_bad.item() == -1


def test_the_run_that_collapsed_is_recorded_diverged_at_its_spike(data_root, monkeypatch):
    from lrlab import experiments
    from lrlab.train import train
    config = next(c for c in experiments.runs("basics", "quick") if c.model == "mlp" and c.momentum == 0.9
                  and c.lr == pytest.approx(2 ** -1.5) and c.schedule == "constant" and c.seed == 0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)   # as every run trains (lrlab.runner.run_threads)
    try:
        record = train(config, data_root=data_root, progress=False)
    finally:
        torch.set_num_threads(threads)
    rows = record["history"]
    assert record["status"] == "diverged" and len(rows) < config.epochs
    assert abs(rows[-1]["train_loss"] - CHANCE) < 0.01 and record["diverged_at_step"] < 156   # in epoch 1


def test_a_record_says_which_rules_held_it(cifar):
    from lrlab.config import RunConfig
    from lrlab.divergence import RULES
    from lrlab.train import train
    config = RunConfig(model="mlp", width=16, epochs=1, batch_size=50, train_per_class=10, test_per_class=5,
                       augment="none")
    assert train(config, data=cifar, progress=False)["env"]["divergence_rules"] == RULES == 3
