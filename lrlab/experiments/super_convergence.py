"""Super-convergence (Smith & Topin 2017) and the LR range test, on CIFAR-10.

The paper's protocol (its repository's solver files): ResNet-56, total batch 1000, flip-only
augmentation, SGD with momentum 0.9, weight decay 1e-4, BatchNorm moving-average fraction 0.95
(torch momentum 0.05). One cycle: linear 0.1 -> 3.0 -> 0.1 over 10,000 iterations. Baseline:
piecewise constant 0.35, x0.1 at 5/8 and 7/8 (the paper: 50k and 70k of 80k iterations). The
modern recipe (Smith 2018, fastai): batch 512, crop+flip, one-cycle 0.08 -> 0.8 with momentum
0.95 -> 0.85, 95 epochs, against step schedules at 1x, 2x and 4x the epochs.

`parts(profile)` names what each run is for (a run can serve several parts); `runs` is their union.
"""
from lrlab.config import RunConfig
from lrlab.experiments import union_of_parts
from lrlab.lr_finder import range_test_config

SETTINGS = {
    # model, images/class, test/class, batch, one-cycle steps, budget-curve steps, modern batch, modern epochs,
    # range-test steps (loss form), range-test steps (accuracy form), trace_every (accuracy form), seeds.
    # budgets: the paper's 2k, 6k and 20k-iteration cycles beside the 10k headline, in proportion to `steps`
    "smoke": dict(model="resnet8", per_class=20, test_per_class=5, batch=50, steps=8, budgets=(4, 16),
                  modern_batch=25, modern_epochs=2, range_steps=12, accuracy_steps=12, accuracy_every=4, seeds=2),
    "quick": dict(model="resnet8", per_class=250, test_per_class=200, batch=100, steps=500, budgets=(100, 300, 1000),
                  modern_batch=50, modern_epochs=20, range_steps=300, accuracy_steps=500, accuracy_every=25, seeds=3),
    "full": dict(model="resnet56", per_class=None, test_per_class=None, batch=1000, steps=10_000,
                 budgets=(2_000, 6_000, 20_000), modern_batch=512, modern_epochs=95, range_steps=500,
                 accuracy_steps=5_000, accuracy_every=100, seeds=3),
}
PEAKS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 8.0)          # one-cycle peak LRs: octaves, plus the paper's 3
CONSTANT_LRS = tuple(2.0 ** k for k in range(-5, 3))  # 1/32 .. 4: the largest constant LR that trains
CYCLE_BASE_LR = 0.1                                   # the one-cycle's start and end (the paper's)
BASELINE_LR = 0.35                                    # piecewise constant (the paper's solver.prototxt)
BASELINE_BUDGET = 4                                   # x the one-cycle's steps (the paper: 8x)


def _one_cycle(base, peak, steps, steps_per_epoch):
    """Smith & Topin's v1 cycle: linear CYCLE_BASE_LR -> peak -> CYCLE_BASE_LR, no annihilation."""
    return base.replace(lr=peak, schedule="triangular", schedule_args={"base_ratio": CYCLE_BASE_LR / peak},
                        epochs=steps // steps_per_epoch)


def parts(profile):
    s = SETTINGS[profile]
    n_train = 10 * s["per_class"] if s["per_class"] else 50_000
    steps_per_epoch = n_train // s["batch"]
    paper = RunConfig(task="cifar10", model=s["model"], batch_size=s["batch"], augment="flip", optimizer="sgd",
                      momentum=0.9, weight_decay=1e-4, bn_momentum=0.05, train_per_class=s["per_class"],
                      test_per_class=s["test_per_class"])
    steps = s["steps"]
    cycle = _one_cycle(paper, 3.0, steps, steps_per_epoch)
    out = {
        "range_test_loss": [range_test_config(paper, 1e-3, 10.0, s["range_steps"])],
        "range_test_loss_torch_lr_finder": [range_test_config(paper, 1e-3, 10.0, s["range_steps"])
                                            .replace(runner="torch-lr-finder")],
        "range_test_accuracy": [range_test_config(paper, 0.0, 3.0, s["accuracy_steps"], mode="linear",
                                                  trace_every=s["accuracy_every"], trace_test=True)],
        "peak_sweep": [_one_cycle(paper, peak, steps, steps_per_epoch) for peak in PEAKS],
        "constant_sweep": [paper.replace(lr=lr, epochs=steps // steps_per_epoch) for lr in CONSTANT_LRS],
        "headline_one_cycle": [cycle.replace(seed=k) for k in range(s["seeds"])],
        "headline_baseline": [paper.replace(lr=BASELINE_LR, schedule="multistep",
                                            schedule_args={"milestones": [5 / 8, 7 / 8]},
                                            epochs=BASELINE_BUDGET * steps // steps_per_epoch, seed=k)
                              for k in range(s["seeds"])],
        "budget_curve": [_one_cycle(paper, 3.0, b, steps_per_epoch) for b in s["budgets"]] + [cycle],
    }
    modern = RunConfig(task="cifar10", model=s["model"], batch_size=s["modern_batch"], augment="crop+flip",
                       optimizer="sgd", momentum=0.9, weight_decay=1e-4, train_per_class=s["per_class"],
                       test_per_class=s["test_per_class"], epochs=s["modern_epochs"])
    one_cycle = modern.replace(lr=0.8, schedule="one_cycle",
                               schedule_args={"div_factor": 10.0, "base_momentum": 0.85, "max_momentum": 0.95})
    out["modern_one_cycle"] = [one_cycle]
    out["modern_constant_momentum"] = [one_cycle.replace(
        schedule_args={**one_cycle.schedule_args, "cycle_momentum": False})]
    out["modern_step"] = [modern.replace(lr=0.1, schedule="multistep", schedule_args={"milestones": [0.5, 0.75]},
                                         epochs=k * s["modern_epochs"]) for k in (1, 2, 4)]
    return out


def runs(profile):
    return union_of_parts(parts(profile))
