"""Basics chapter: the quadratic needs no runs; this sweep shows the same story in a real network.

A constant-LR sweep of a 2-hidden-layer MLP on CIFAR-10, plain SGD and SGD with momentum 0.9, over
a log2 grid wide enough to include the runs that diverge. Momentum's effective step eta/(1-mu) is
then measured by lining up the two curves.

The `gpu` profile keeps the `full` network and data but trains 5 epochs, and stops the grid at
2^0: every rate above it diverged at the quick profile, and the momentum shift (log2 10 = 3.3
octaves between mu = 0 and 0.9) is read well below it.
"""
from lrlab.config import RunConfig
from lrlab.experiments import Chunk

def half_octaves(lo, hi):
    """log2 learning rates lo, lo + 1/2, ..., hi: fine enough to locate a factor-of-10 shift."""
    return [k / 2 for k in range(2 * lo, 2 * hi + 1)]


PROFILE_SETTINGS = {
    #         log2 LR grid             width  epochs  images/class  test/class
    "smoke": ([-6, -2],                   64,     1,        20,          10),
    "quick": (half_octaves(-10, 4),      256,     8,      1000,         500),
    "gpu":   (half_octaves(-12, 0),     1024,     5,      None,        None),
    "full":  (half_octaves(-12, 4),     1024,    20,      None,        None),
}


def runs(profile):
    log2_lrs, width, epochs, train_per_class, test_per_class = PROFILE_SETTINGS[profile]
    base = RunConfig(task="cifar10", model="mlp", width=width, optimizer="sgd", schedule="constant",
                     epochs=epochs, batch_size=64, augment="none", train_per_class=train_per_class,
                     test_per_class=test_per_class)
    return [base.replace(lr=2.0 ** k, momentum=mu) for mu in (0.0, 0.9) for k in log2_lrs]


PART_TITLES = {"lr_sweep": "the LR sweep"}


def parts(profile):
    """One part: plain SGD and momentum are read against each other, so they come from one profile."""
    return {"lr_sweep": runs(profile)}


# what the gpu profile changes from `full` (the chapter prints it beside the results)
GPU_CHANGES = ("5 epochs instead of 20",
               "the LR grid stops at 2^0 instead of 2^4: every rate above 2^0 diverged at the quick profile")


def chunks(profile):
    return [Chunk("momentum_shift", 1, "momentum's effective step eta/(1-mu): the octave shift of the "
                  "divergence edge and the optimum between mu = 0 and 0.9", runs(profile))]
