"""`lrlab bench`: training images/s of a model at a batch size on a device, through `train` itself.

It times the real training loop (the same code every run uses) on synthetic uint8 images, so
the number includes the on-device augmentation, the optimizer and the schedule. The first epoch
is warm-up (allocator, cuDNN autotuning, compilation) and is not counted.
"""
import numpy as np

from lrlab.config import RunConfig
from lrlab.data import Cifar10
from lrlab.errors import check_positive
from lrlab.train import train


def synthetic_cifar(n_train, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return Cifar10(rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
                   rng.integers(0, 10, n_train).astype(np.int64),
                   rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
                   np.arange(n_test, dtype=np.int64) % 10, "synthetic", "none")


def bench(model="resnet20", batch_size=128, device="cpu", steps=20, width=None, compile=False,
          precision="auto"):
    check_positive("steps", steps)
    check_positive("batch size", batch_size)
    config = RunConfig(model=model, width=width or (1024 if model == "mlp" else None),
                       batch_size=batch_size, epochs=2, steps_per_epoch=steps, lr=0.01,
                       precision=precision, divergence_factor=1e9)
    record = train(config, device=device, data=synthetic_cifar(batch_size * steps),
                   compile=compile, progress=False)
    timed = record["history"][1]["seconds"]
    return dict(model=model, batch_size=batch_size, device=record["env"]["device"],
                precision=record["env"]["precision"], compile=compile, steps=steps,
                seconds=timed, images_per_s=batch_size * steps / timed,
                epoch_s=50_000 / (batch_size * steps / timed))
