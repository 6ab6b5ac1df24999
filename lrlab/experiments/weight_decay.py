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
from lrlab.experiments import Chunk

OPTIMIZERS = ("sgd", "sgdw", "adam", "adamw")
LOG2_LRS = {"sgd": range(-7, -1), "sgdw": range(-7, -1),       # 1/128 .. 1/4
            "adam": range(-13, -5), "adamw": range(-13, -5)}     # 1/8192 .. 1/64; 2^-10 ~ 0.001
# Adam's rows reach 2^-6 because at the quick profile's short budget its best LR sat on 2^-8, the old edge
LOG2_LAMBDA_NORM = range(-8, -2)                                 # 1/256 .. 1/8 (paper: 0.025-0.05)
HEADLINE_LOG2_LR = -10                                           # Adam vs AdamW at LR ~ 0.001

# gpu: the grid at 10 epochs, the coarse lattice first (the basin's orientation shows on it), then the
# fine fill, and the headline row's seeds at 30 epochs (the paper's 15% is a claim about a trained net)
COARSE_LOG2_LRS = {"sgd": (-6, -4, -2), "sgdw": (-6, -4, -2), "adam": (-12, -10, -8, -6), "adamw": (-12, -10, -8, -6)}
COARSE_LOG2_LAMBDA_NORM = (-7, -5, -3)

SETTINGS = {
    #         model      epochs images/class test/class headline seeds  grid      headline epochs
    "smoke": ("resnet8",   1,       20,         5,        1,           "corners",  1),
    "quick": ("resnet8",   8,      200,       200,        3,           "all",      8),
    "gpu":   ("resnet20", 10,     None,      None,        3,           "all",     30),
    "full":  ("resnet20", 30,     None,      None,        3,           "all",     30),
}
CIFAR10_TRAIN_IMAGES = 50_000


# what the gpu profile changes from `full` (the chapter prints it beside the results)
GPU_CHANGES = (
    "the LR x decay grid trains 10 epochs, not 30; the normalised decay keeps its meaning (lambda follows "
    "sqrt(1/T))",
    "the headline row (Adam and AdamW at LR 2^-10) trains 30 epochs at 3 decays x 2 seeds, plus a third "
    "seed at the middle decay, instead of 3 seeds at each of the grid's 6 decays",
)


def lambda_from_normalized(lambda_norm, batch_size, n_train, epochs):
    """The paper's Appendix B.1: lambda = lambda_norm * sqrt(b / (B * T))."""
    for name, value in (("lambda_norm", lambda_norm), ("batch_size", batch_size),
                        ("n_train", n_train), ("epochs", epochs)):
        check_positive(name, value)
    return lambda_norm * math.sqrt(batch_size / (n_train * epochs))


def _declared(profile):
    """Every run with where it sits: (optimizer, log2 LR, log2 lambda_norm or None, seed, config)."""
    model, epochs, per_class, test_per_class, headline_seeds, grid, headline_epochs = SETTINGS[profile]
    n_train = CIFAR10_TRAIN_IMAGES if per_class is None else 10 * per_class
    base = RunConfig(task="cifar10", model=model, batch_size=128, augment="crop+flip", schedule="cosine",
                     momentum=0.9, epochs=epochs, train_per_class=per_class, test_per_class=test_per_class)

    def point(optimizer, k, j, seed=0, epochs=epochs):
        wd = lambda_from_normalized(2.0 ** j, 128, n_train, epochs)
        return (optimizer, k, j, seed, base.replace(optimizer=optimizer, lr=2.0 ** k, weight_decay=wd, seed=seed,
                                                     epochs=epochs))

    out = []
    pick = (lambda axis: [axis[0], axis[-1]]) if grid == "corners" else list
    for optimizer in OPTIMIZERS:
        for k in pick(LOG2_LRS[optimizer]):
            for j in pick(LOG2_LAMBDA_NORM):
                headline_row = optimizer in ("adam", "adamw") and k == HEADLINE_LOG2_LR
                seeds = headline_seeds if headline_row and headline_epochs == epochs else 1
                out += [point(optimizer, k, j, s) for s in range(seeds)]
    # the no-decay column: what decay buys. At lambda = 0, SGDW is SGD and AdamW is Adam.
    for optimizer in ("sgd", "adam"):
        out += [(optimizer, k, None, 0, base.replace(optimizer=optimizer, lr=2.0 ** k))
                for k in pick(LOG2_LRS[optimizer])]
    if headline_epochs != epochs:   # the headline row trained longer: 3 decays x 2 seeds, a third at the middle
        for optimizer in ("adam", "adamw"):
            out += [point(optimizer, HEADLINE_LOG2_LR, j, s, headline_epochs)
                    for j in COARSE_LOG2_LAMBDA_NORM for s in range(2)]
            out.append(point(optimizer, HEADLINE_LOG2_LR, COARSE_LOG2_LAMBDA_NORM[1], 2, headline_epochs))
    return out


def runs(profile):
    return [config for *_, config in _declared(profile)]


PART_TITLES = {"grid": "the LR x decay grid", "headline_long": "the headline row"}


def parts(profile):
    """The LR x decay grid at the profile's epochs, and the headline row's longer runs where it has them."""
    epochs = SETTINGS[profile][1]
    declared = runs(profile)
    return {"grid": [c for c in declared if c.epochs == epochs],
            "headline_long": [c for c in declared if c.epochs != epochs]}


def chunks(profile):
    """The coarse lattice first (the basin's orientation), then the fill per optimizer, then the seeds."""
    epochs = SETTINGS[profile][1]
    coarse, fill, seeds = [], {o: [] for o in OPTIMIZERS}, []
    for optimizer, k, j, seed, config in _declared(profile):
        if seed > 0 or config.epochs != epochs:
            seeds.append(config)
        elif k in COARSE_LOG2_LRS[optimizer] and j in COARSE_LOG2_LAMBDA_NORM:
            coarse.append(config)
        else:
            fill[optimizer].append(config)
    return ([Chunk("coarse", 1, "the basin's orientation: coupled (on the LR x decay diagonal) for SGD and "
                   "Adam with L2, decoupled (axis-aligned) for SGDW and AdamW", coarse)]
            + [Chunk(f"fill_{o}", 2, f"the rest of {o}'s LR x decay grid: where its optimum is"
                     + (", and what decay buys against none" if o in ("sgd", "adam") else ""), fill[o])
               for o in OPTIMIZERS]
            + [Chunk("headline_seeds", 2, "AdamW against Adam at LR 2^-10 (about 0.001) over seeds: the paper's "
                     "15% better", seeds)])
