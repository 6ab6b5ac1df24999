"""Decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization").

The paper's Fig. 2: final test error over a log2 grid of initial LR x weight decay for SGD with
L2, SGDW, Adam with L2 and AdamW, batch 128, crop+flip, cosine annealing, a fixed epoch budget.
The decay axis is the paper's normalised weight decay (its Appendix B.1),
lambda = lambda_norm * sqrt(b / (B * T)), so one axis means the same thing at every profile's
budget; `RunConfig.weight_decay` holds the resulting lambda (see lrlab.optim for torch's mapping).

A no-decay column (lambda = 0, where SGDW is SGD and AdamW is Adam) shows what decay buys at all.
Headline seeds: the paper's "15% better at the default LR 0.001" compares Adam and AdamW at one LR,
so that row (2^-10, the grid's point nearest 0.001) runs with extra seeds for both.
"""
import math

from lrlab.config import RunConfig
from lrlab.errors import check_positive

OPTIMIZERS = ("sgd", "sgdw", "adam", "adamw")
LOG2_LRS = {"sgd": range(-7, -1), "sgdw": range(-7, -1),       # 1/128 .. 1/4
            "adam": range(-13, -5), "adamw": range(-13, -5)}     # 1/8192 .. 1/64; 2^-10 ~ 0.001
# Adam's rows reach 2^-6 because at the quick profile's short budget its best LR sat on 2^-8, the old edge
LOG2_LAMBDA_NORM = range(-8, -2)                                 # 1/256 .. 1/8 (paper: 0.025-0.05)
HEADLINE_LOG2_LR = -10                                           # Adam vs AdamW at LR ~ 0.001

SETTINGS = {
    #         model      epochs images/class test/class headline seeds  grid
    "smoke": ("resnet8",   1,       20,         5,        1,           "corners"),
    "quick": ("resnet8",   8,      200,       200,        3,           "all"),
    "full":  ("resnet20", 30,     None,      None,        3,           "all"),
}
CIFAR10_TRAIN_IMAGES = 50_000


def lambda_from_normalized(lambda_norm, batch_size, n_train, epochs):
    """The paper's Appendix B.1: lambda = lambda_norm * sqrt(b / (B * T))."""
    for name, value in (("lambda_norm", lambda_norm), ("batch_size", batch_size),
                        ("n_train", n_train), ("epochs", epochs)):
        check_positive(name, value)
    return lambda_norm * math.sqrt(batch_size / (n_train * epochs))


def runs(profile):
    model, epochs, per_class, test_per_class, headline_seeds, grid = SETTINGS[profile]
    n_train = CIFAR10_TRAIN_IMAGES if per_class is None else 10 * per_class
    base = RunConfig(task="cifar10", model=model, batch_size=128, augment="crop+flip", schedule="cosine",
                     momentum=0.9, epochs=epochs, train_per_class=per_class, test_per_class=test_per_class)
    out = []
    pick = (lambda axis: [axis[0], axis[-1]]) if grid == "corners" else list
    for optimizer in OPTIMIZERS:
        for k in pick(LOG2_LRS[optimizer]):
            for j in pick(LOG2_LAMBDA_NORM):
                wd = lambda_from_normalized(2.0 ** j, 128, n_train, epochs)
                seeds = headline_seeds if optimizer in ("adam", "adamw") and k == HEADLINE_LOG2_LR else 1
                out += [base.replace(optimizer=optimizer, lr=2.0 ** k, weight_decay=wd, seed=s)
                        for s in range(seeds)]
    # the no-decay column: what decay buys. At lambda = 0, SGDW is SGD and AdamW is Adam.
    for optimizer in ("sgd", "adam"):
        out += [base.replace(optimizer=optimizer, lr=2.0 ** k) for k in pick(LOG2_LRS[optimizer])]
    return out
