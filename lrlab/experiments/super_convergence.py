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
from lrlab.experiments import Chunk, union_of_chunks
from lrlab.lr_finder import range_test_config

SETTINGS = {
    # model, images/class, test/class, batch, one-cycle steps, budget-curve steps, modern batch, modern epochs,
    # the step schedule's epoch multiples, range-test steps (loss form), range-test steps (accuracy form),
    # trace_every (accuracy form), seeds of the one cycle and of the baseline.
    # budgets: the paper's 2k, 6k and 20k-iteration cycles beside the 10k headline, in proportion to `steps`
    # gpu: the headline pair first on ResNet-20 (`first_model`, whose pair the authors' logs report), the
    # peak and constant sweeps on ResNet-20 with 2k-iteration cycles (`sweep_model`, `sweep_steps`), and
    # ResNet-56 (the paper's headline, budget curve and modern recipe) in the later chunks.
    "smoke": dict(model="resnet8", per_class=20, test_per_class=5, batch=50, steps=8, budgets=(4, 16),
                  modern_batch=25, modern_epochs=2, step_multiples=(1, 2, 4), range_steps=12, accuracy_steps=12,
                  accuracy_every=4, seeds=2, baseline_seeds=2),
    "quick": dict(model="resnet8", per_class=250, test_per_class=200, batch=100, steps=500, budgets=(100, 300, 1000),
                  modern_batch=50, modern_epochs=20, step_multiples=(1, 2, 4), range_steps=300, accuracy_steps=500,
                  accuracy_every=25, seeds=3, baseline_seeds=3),
    "gpu": dict(model="resnet56", per_class=None, test_per_class=None, batch=1000, steps=10_000,
                budgets=(2_000, 6_000, 20_000), modern_batch=512, modern_epochs=95, step_multiples=(1, 2),
                range_steps=500, accuracy_steps=5_000, accuracy_every=100, seeds=2, baseline_seeds=1,
                first_model="resnet20", first_seeds=2, sweep_model="resnet20", sweep_steps=2_000),
    "full": dict(model="resnet56", per_class=None, test_per_class=None, batch=1000, steps=10_000,
                 budgets=(2_000, 6_000, 20_000), modern_batch=512, modern_epochs=95, step_multiples=(1, 2, 4),
                 range_steps=500, accuracy_steps=5_000, accuracy_every=100, seeds=3, baseline_seeds=3),
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


def _headline_pair(paper, steps, steps_per_epoch, cycle_seeds, baseline_seeds):
    """One cycle 0.1-3-0.1 over `steps` and the piecewise-constant baseline over BASELINE_BUDGET x as many."""
    cycle = _one_cycle(paper, 3.0, steps, steps_per_epoch)
    baseline = paper.replace(lr=BASELINE_LR, schedule="multistep", schedule_args={"milestones": [5 / 8, 7 / 8]},
                             epochs=BASELINE_BUDGET * steps // steps_per_epoch)
    return [cycle.replace(seed=k) for k in range(cycle_seeds)], [baseline.replace(seed=k) for k in range(baseline_seeds)]


def parts(profile):
    s = SETTINGS[profile]
    n_train = 10 * s["per_class"] if s["per_class"] else 50_000
    steps_per_epoch = n_train // s["batch"]
    paper = RunConfig(task="cifar10", model=s["model"], batch_size=s["batch"], augment="flip", optimizer="sgd",
                      momentum=0.9, weight_decay=1e-4, bn_momentum=0.05, train_per_class=s["per_class"],
                      test_per_class=s["test_per_class"])
    steps = s["steps"]
    sweep_base = paper.replace(model=s.get("sweep_model", s["model"]))
    sweep_steps = s.get("sweep_steps", steps)
    cycle = _one_cycle(paper, 3.0, steps, steps_per_epoch)
    one_cycles, baselines = _headline_pair(paper, steps, steps_per_epoch, s["seeds"], s["baseline_seeds"])
    out = {
        "range_test_loss": [range_test_config(paper, 1e-3, 10.0, s["range_steps"])],
        "range_test_loss_torch_lr_finder": [range_test_config(paper, 1e-3, 10.0, s["range_steps"])
                                            .replace(runner="torch-lr-finder")],
        "range_test_accuracy": [range_test_config(paper, 0.0, 3.0, s["accuracy_steps"], mode="linear",
                                                  trace_every=s["accuracy_every"], trace_test=True)],
        "peak_sweep": [_one_cycle(sweep_base, peak, sweep_steps, steps_per_epoch) for peak in PEAKS],
        "constant_sweep": [sweep_base.replace(lr=lr, epochs=sweep_steps // steps_per_epoch) for lr in CONSTANT_LRS],
        "headline_one_cycle": one_cycles,
        "headline_baseline": baselines,
        "budget_curve": [_one_cycle(paper, 3.0, b, steps_per_epoch) for b in s["budgets"]] + [cycle],
    }
    if s.get("first_model"):   # the same pair on the smaller net the authors also logged
        out["first_headline_one_cycle"], out["first_headline_baseline"] = _headline_pair(
            paper.replace(model=s["first_model"]), steps, steps_per_epoch, s["first_seeds"], s["first_seeds"])
    modern = RunConfig(task="cifar10", model=s["model"], batch_size=s["modern_batch"], augment="crop+flip",
                       optimizer="sgd", momentum=0.9, weight_decay=1e-4, train_per_class=s["per_class"],
                       test_per_class=s["test_per_class"], epochs=s["modern_epochs"])
    one_cycle = modern.replace(lr=0.8, schedule="one_cycle",
                               schedule_args={"div_factor": 10.0, "base_momentum": 0.85, "max_momentum": 0.95})
    out["modern_one_cycle"] = [one_cycle]
    out["modern_constant_momentum"] = [one_cycle.replace(
        schedule_args={**one_cycle.schedule_args, "cycle_momentum": False})]
    out["modern_step"] = [modern.replace(lr=0.1, schedule="multistep", schedule_args={"milestones": [0.5, 0.75]},
                                         epochs=k * s["modern_epochs"]) for k in s["step_multiples"]]
    return out


PART_TITLES = {
    "range_test_loss": "the range test", "range_test_loss_torch_lr_finder": "torch-lr-finder's range test",
    "range_test_accuracy": "the accuracy range test", "peak_sweep": "the peak sweep",
    "constant_sweep": "the constant-LR sweep", "headline_one_cycle": "the headline one cycle",
    "headline_baseline": "the headline baseline", "budget_curve": "the budget curve",
    "first_headline_one_cycle": "ResNet-20's one cycle", "first_headline_baseline": "ResNet-20's baseline",
    "modern_one_cycle": "the modern one cycle", "modern_constant_momentum": "its constant-momentum twin",
    "modern_step": "the step schedules"}
# parts read against each other: the book shows each group from one profile
SHOWN_TOGETHER = (("range_test_loss", "range_test_loss_torch_lr_finder"), ("peak_sweep", "constant_sweep"),
                  ("headline_one_cycle", "headline_baseline"),
                  ("first_headline_one_cycle", "first_headline_baseline"),
                  ("modern_one_cycle", "modern_constant_momentum", "modern_step"))

# what the gpu profile changes from the paper's protocol (the chapter prints it beside the results)
GPU_CHANGES = (
    "the headline pair runs first on ResNet-20, whose pair the authors' logs report (one cycle 90.42% at 10k "
    "iterations, piecewise constant 88.64% at 80k): the one cycle and the baseline with 2 seeds each",
    "the piecewise-constant baseline trains 40k iterations, not 80k (as in every profile)",
    "the peak and constant-LR sweeps train ResNet-20 over 2k-iteration cycles, not ResNet-56 over 10k",
    "ResNet-56 runs the one cycle with 2 seeds and the baseline with 1, not 3 and 3",
    "the modern recipe's step schedule runs at 1x and 2x the epochs, not also 4x",
)
HEADLINE_CLAIM = "one cycle reaches the piecewise-constant baseline's accuracy in a fraction of its iterations"


def chunks(profile):
    """In the order a GPU should run them: the range test and the headline pair first."""
    p = parts(profile)
    range_tests = Chunk("range_tests", 1, "where the LR range test puts the rate, by three rules and by "
                        "torch-lr-finder, against the peaks that train best",
                        p["range_test_loss"] + p["range_test_loss_torch_lr_finder"] + p["range_test_accuracy"])
    modern = Chunk("modern", 2, "the modern recipe: one cycle with and without cyclical momentum against "
                   "step schedules", p["modern_one_cycle"] + p["modern_constant_momentum"] + p["modern_step"])
    if "first_headline_one_cycle" not in p:
        return [range_tests,
                Chunk("headline", 1, HEADLINE_CLAIM, p["headline_one_cycle"] + p["headline_baseline"]),
                Chunk("sweeps", 2, "the peak that trains best against the largest constant rate that trains",
                      p["peak_sweep"] + p["constant_sweep"]),
                Chunk("budget_curve", 2, "accuracy against the cycle's length", p["budget_curve"]),
                modern]
    first_cycles, first_baselines = p["first_headline_one_cycle"], p["first_headline_baseline"]
    return [range_tests,
            Chunk("resnet20_headline", 1, HEADLINE_CLAIM + " (ResNet-20; the authors' logs: 90.42% at 10k "
                  "against 88.64% at 80k)", first_cycles + first_baselines[:1]),
            Chunk("resnet20_sweeps", 2, "the peak that trains best against the largest constant rate that "
                  "trains; the baseline's second seed", p["peak_sweep"] + p["constant_sweep"] + first_baselines[1:]),
            Chunk("resnet56_headline", 2, HEADLINE_CLAIM + " (ResNet-56, the paper's headline): the one cycle",
                  p["headline_one_cycle"]),
            Chunk("resnet56_baseline", 2, HEADLINE_CLAIM + " (ResNet-56): the baseline, longer than one job",
                  p["headline_baseline"]),
            Chunk("resnet56_budget", 2, "accuracy against the cycle's length (the paper's 2k, 6k, 20k)",
                  [c for c in p["budget_curve"] if c not in p["headline_one_cycle"]]),
            modern]


def runs(profile):
    return union_of_chunks(chunks(profile))
