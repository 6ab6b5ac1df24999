"""The two-batch noise-scale estimator on a problem whose answer is known, and inside a run."""
import pytest
import torch

from lrlab.config import RunConfig
from lrlab.noise_scale import gradient_noise_scale
from lrlab.train import train


def _regression_batches(count, size, mean, sd, seed=0):
    """Targets y ~ N(mean, sd^2) for a weight w = 0 and loss (w - y)^2 / 2: the per-example
    gradient is -y, so |G|^2 = mean^2, tr(Sigma) = sd^2 and B_simple = (sd / mean)^2."""
    gen = torch.Generator().manual_seed(seed)
    for _ in range(count):
        yield torch.ones(size, 1), mean + sd * torch.randn(size, generator=gen)


def test_estimator_recovers_a_known_noise_scale():
    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    def loss_of(x, y):
        return 0.5 * (model(x).squeeze(1) - y).square().mean()
    out = gradient_noise_scale(model, loss_of, _regression_batches(800, 16, mean=1.0, sd=4.0), small_per_big=8)
    assert out["small_batch"] == 16 and out["big_batch"] == 128 and out["big_batches"] == 100
    assert out["grad_sq"] == pytest.approx(1.0, rel=0.25)
    assert out["trace_sigma"] == pytest.approx(16.0, rel=0.1)
    assert out["b_simple"] == pytest.approx(16.0, rel=0.3)
    assert model.weight.grad is None and model.weight.item() == 0.0   # no step was taken


def test_estimator_needs_one_full_big_batch():
    model = torch.nn.Linear(1, 1, bias=False)
    with pytest.raises(ValueError, match="at least 8"):
        gradient_noise_scale(model, lambda x, y: model(x).sum(), _regression_batches(3, 4, 1.0, 1.0), 8)


def test_a_run_records_the_noise_scale_without_changing_its_training(cifar):
    base = RunConfig(model="resnet8", train_per_class=20, test_per_class=5, batch_size=32, epochs=2, lr=0.05)
    plain = train(base, data=cifar, progress=False)
    measured = train(base.replace(noise_scale_every=1, noise_scale_batches=2), data=cifar, progress=False)
    assert "noise_scale" not in plain
    assert [p["epoch"] for p in measured["noise_scale"]] == [0, 1, 2]
    assert all(p["small_batch"] == 32 and p["big_batch"] == 256 and p["big_batches"] == 2 and p["trace_sigma"] > 0
               for p in measured["noise_scale"])
    # the measurement draws its own batches and restores BatchNorm's statistics
    assert [h["train_loss"] for h in measured["history"]] == [h["train_loss"] for h in plain["history"]]
    assert measured["final"]["test_acc"] == plain["final"]["test_acc"]
