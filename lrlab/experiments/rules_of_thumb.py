"""Rules of thumb the seed articles state, measured: schedules at equal budget, warmup and clipping for
Adam, Lion's and AdamW's rates, batch growth against rate decay, and discriminative rates for fine-tuning.

Part 1, "cosine usually beats step decay": one network and budget, five schedules (constant, step
decay by 10x at 50% and 75% of the run as He et al. 2016 train CIFAR ResNets, cosine to zero as
Loshchilov & Hutter 2017, linear to zero as Defazio et al. 2023 recommend, and warmup-stable-decay
as Hägele et al. 2024 describe it: 5% warmup, 20% linear cooldown), each over the same log2 grid of
peak rates, so each schedule is read at its own best rate. SGD with momentum 0.9 and the usual
CIFAR weight decay 5e-4, crop+flip.

Part 2, "include warmup: at least 5-10% of training": the character GPT of the LR-vs-width chapter
(its widest quick width, Adam, gradient clipping at 1.0, cosine decay) with a linear warmup of 0, 2,
5, 10 or 20% of the steps, over a log2 grid of peak rates that reaches 2^-3 = 0.125: also where an
article says Adam "will cause immediate divergence" at 0.1.

Parts "clipping_on" and "clipping_off", for "gradient clipping (typically clip_grad_norm to 1.0) often
saves runs that the scheduled step size alone would not": part 2's runs without warmup (the clipped arm),
and the same runs trained again without clipping (chunk "clipping"), over the same grid of peak rates,
with the same repeats. The two are compared with each other, so they are shown from one profile.

Parts "lion_adam" and "lion", for "Lion needs a learning rate three to ten times smaller than AdamW" (Chen
et al. 2023's advice): part 2's runs at 10% warmup (Adam, no decay: AdamW at lambda 0), and the same runs
with Lion (chunk "lion"), each at a quarter of Adam's rate, so that Lion's grid sits two octaves below
Adam's, its middle inside the claimed range; the claim is read off the two sweeps' near-optimal bands
(`lrlab.near_best`).

Parts "adamw_reference" and "adamw_decay", for "a common default configuration for AdamW in transformer
training is a learning rate in the range 1e-4 to 1e-3 paired with a weight decay of 0.1": the same Adam runs
(no decay), and the same runs as AdamW with that decay (chunk "adamw_decay"). The article's 0.1 is torch's
AdamW `weight_decay`, which decays by the scheduled rate times 0.1 per step; in the paper's lambda, which
lrlab's configs hold (`lrlab.optim`), that is 0.1 times each run's peak rate. As GPT-style training does it,
only the weight matrices and embeddings decay, not LayerNorm's gains or the biases. The claim is read off
the decayed sweep's near-optimal band; the reference says what the decay itself changes.

Part 3, "grow the batch instead of decaying the rate" (Smith, Kindermans, Ying & Le 2018; an article's
"doubling either eta or batch_size has the same effect on the implicit noise"): one network, rate and
budget in epochs, three arms over three seeds each: step decay (the rate falls 5x at 50% and 75% of the
epochs), batch growth (the rate stays, and from the same epochs on each update takes 5x more batches:
BatchNorm still sees the base batch: ghost batches), and neither (the control that says
whether the decay itself matters here).

Part 4, "assign each group a learning rate that is a fraction (e.g., 1/2.6) of the rate used for the group above
it" (ULMFiT's discriminative fine-tuning, Howard & Ruder 2018): a ResNet trained on five CIFAR-10 classes (the
start, `start_run`) is fine-tuned on the other five from a small training set, over one log2 grid of rates, in
three arms: one rate for every layer; each of the ResNet's four layer groups at 1/2.6 of the rate above it, the
grid's rate the head's; and from scratch, which says whether the start helps at all. The head is new in every arm.

Seed noise: the two schedules and two warmups a claim compares repeat one grid point with two more
seeds each, near the best rates of the variants compared (at quick, first placed at 2^-6 for the
warmups, where training is unstable and the seeds scatter far more than at the best cells: moved
to 2^-8); the verdicts compare best cells by `stats.best_gap`, as the weight-decay chapter does.
"""
from dataclasses import replace

import numpy as np

from lrlab.config import RunConfig
from lrlab.experiments import Chunk, union_of_parts
from lrlab.near_best import BAND_RULE, RATIO_RANGE_RULE, near_best_band, range_verdict, ratio_range_verdict
from lrlab.stats import (BEST_GAP_RULE, MEAN_GAP_RULE, best_gap, listed, mean_gap, mean_sd, measured, number_word,
                         pooled_sd, power_of_two)
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, PaperClaim, Verdict, at_profile

# label -> (schedule, its arguments): the five policies of part 1, in the order the page draws them
SCHEDULE_POLICIES = {
    "constant": ("constant", {}),
    "step": ("multistep", {"milestones": [0.5, 0.75], "gamma": 0.1}),
    "cosine": ("cosine", {}),
    "linear to zero": ("linear", {}),
    "warmup-stable-decay": ("warmup_stable_decay", {"warmup": 0.05, "decay": 0.2}),
}
SEED_REPEATS = ("cosine", "step")      # the claim's two schedules: their repeats measure seed noise
WARMUPS = (0.0, 0.02, 0.05, 0.1, 0.2)  # fraction of the steps
CLAIMED_WARMUPS = (0.05, 0.1)          # "at least 5-10%"
WARMUP_REPEATS = (0.0, 0.1)
CLIP_NORM = 1.0                        # part 2's gradient clipping (the width chapter's); clipping_off drops it
LION_WARMUP = 0.1                      # the Lion comparison's Adam arm: part 2's runs at this warmup (it has repeats)
LION_SHIFT = 2                         # octaves Lion's grid sits below Adam's: its middle at 4x less, inside 3-10x
LION_CLAIM = (3.0, 10.0)               # "three to ten times smaller than AdamW"
ADAMW_DECAY = 0.1                      # "paired with a weight decay of 0.1", in torch's AdamW convention
ADAMW_CLAIM = (1e-4, 1e-3)             # "a learning rate in the range 1e-4 to 1e-3"

SCHEDULE_SETTINGS = {
    # repeat_log2_lr: the grid point the repeats sit on (near the best of ch. 4's SGD at quick); seeds: extra
    "smoke": dict(model="resnet8", per_class=20, test_per_class=5, epochs=2, log2_lrs=[-4, -2], repeat_log2_lr=-2,
                  extra_seeds=1),
    "quick": dict(model="resnet8", per_class=300, test_per_class=200, epochs=10, log2_lrs=list(range(-6, 1)),
                  repeat_log2_lr=-3, extra_seeds=2),
    "gpu": dict(model="resnet20", per_class=None, test_per_class=None, epochs=15, log2_lrs=list(range(-5, 1)),
                repeat_log2_lr=-3, extra_seeds=2),
    "full": dict(model="resnet20", per_class=None, test_per_class=None, epochs=60, log2_lrs=list(range(-6, 1)),
                 repeat_log2_lr=-3, extra_seeds=2),
}
WARMUP_SETTINGS = {
    # the GPT as the LR-vs-width chapter trains it at this profile (its widest width at quick)
    "smoke": dict(width=32, depth=1, block=32, batch=8, steps_per_epoch=4, epochs=2, log2_lrs=[-8, -3],
                  repeat_log2_lr=-8, extra_seeds=1, warmups=(0.0, 0.1)),
    "quick": dict(width=128, depth=2, block=64, batch=32, steps_per_epoch=100, epochs=2, log2_lrs=list(range(-11, -2)),
                  repeat_log2_lr=-8, extra_seeds=2, warmups=WARMUPS),
    "gpu": dict(width=256, depth=4, block=256, batch=64, steps_per_epoch=100, epochs=10,
                log2_lrs=list(range(-12, -2)), repeat_log2_lr=-8, extra_seeds=2, warmups=WARMUPS),
    "full": dict(width=512, depth=4, block=256, batch=64, steps_per_epoch=100, epochs=10,
                 log2_lrs=list(range(-13, -2)), repeat_log2_lr=-9, extra_seeds=2, warmups=WARMUPS),
}

# part 3: where (fractions of the epochs) and by how much the step schedule cuts the rate, or the batch grows
BATCH_MILESTONES = [0.5, 0.75]
BATCH_FACTOR = 5
BATCH_ARMS = {   # label -> what the arm changes in the shared set-up, in the order the page draws them
    "decay the rate": dict(schedule="multistep", schedule_args={"milestones": BATCH_MILESTONES, "gamma": 1 / BATCH_FACTOR}),
    "grow the batch": dict(batch_growth={"milestones": BATCH_MILESTONES, "factor": BATCH_FACTOR}),
    "neither": {},
}
BATCH_SETTINGS = {
    # batch: the base batch (BatchNorm's, all run long); quick's 32 keeps the grown batch (800) under the 3,000
    # images, and its rate 2^-3 has part 1's eta/B at 2^-1 and batch 128, where a constant rate falls clearly
    # behind step decay; gpu and full: He et al.'s 0.1 at batch 128
    "smoke": dict(model="resnet8", per_class=20, test_per_class=5, batch=4, epochs=4, lr=2.0 ** -3, seeds=2),
    "quick": dict(model="resnet8", per_class=300, test_per_class=200, batch=32, epochs=12, lr=2.0 ** -3, seeds=3),
    "gpu": dict(model="resnet20", per_class=None, test_per_class=None, batch=128, epochs=16, lr=0.1, seeds=3),
    "full": dict(model="resnet20", per_class=None, test_per_class=None, batch=128, epochs=60, lr=0.1, seeds=3),
}

# part 4, "assign each group a learning rate that is a fraction (e.g. 1/2.6) of the rate used for the group above
# it" (ULMFiT's discriminative fine-tuning): a ResNet trained on five CIFAR-10 classes, fine-tuned on the other five
ULMFIT_FACTOR = 2.6
START_CLASSES, TARGET_CLASSES = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]   # airplane to deer; dog to truck
ONE_RATE, DISCRIMINATIVE = "fine-tuned, one rate", f"fine-tuned, ÷{ULMFIT_FACTOR:g} a group"
FINE_TUNE_ARMS = {   # label -> what the arm changes in the fine-tuning set-up, in the order the page draws them
    "from scratch": dict(init_from=None),
    ONE_RATE: {},
    DISCRIMINATIVE: dict(lr_layer_decay=ULMFIT_FACTOR),
}
FINE_TUNE_REPEATS = (ONE_RATE, DISCRIMINATIVE)   # the claim's two arms: their repeats measure seed noise
FINE_TUNE_SETTINGS = {
    # start_*: the run every fine-tuning starts from (all of its five classes' images at gpu and full); then a
    # small target set, as fine-tuning usually has, over a log2 grid of the top group's rate
    "smoke": dict(model="resnet8", start_per_class=20, start_epochs=2, start_batch=20, per_class=10, test_per_class=5,
                  batch=10, epochs=2, log2_lrs=[-6, -3], repeat_log2_lrs=[-3], extra_seeds=1),
    # repeat_log2_lrs: where the repeats were first placed (2^-5), and between the two fine-tuned arms' best
    # rates at quick (2^-4 and 2^-2), since the seed SD can depend on the rate
    "quick": dict(model="resnet8", start_per_class=500, start_epochs=20, start_batch=128, per_class=100,
                  test_per_class=200, batch=32, epochs=10, log2_lrs=list(range(-9, 1)), repeat_log2_lrs=[-5, -3],
                  extra_seeds=2),
    "gpu": dict(model="resnet20", start_per_class=None, start_epochs=30, start_batch=128, per_class=500,
                test_per_class=None, batch=64, epochs=20, log2_lrs=list(range(-9, 1)), repeat_log2_lrs=[-5, -3],
                extra_seeds=2),
    "full": dict(model="resnet20", start_per_class=None, start_epochs=30, start_batch=128, per_class=500,
                 test_per_class=None, batch=64, epochs=20, log2_lrs=list(range(-9, 1)), repeat_log2_lrs=[-5, -3],
                 extra_seeds=2),
}
START_LR = 0.1   # the start's rate: He et al.'s CIFAR rate at batch 128, cosine to zero
FIRST_QUICK_TOP = -2   # log2 of the quick grid's top rate before it was extended (`repeat_history_words`)

# what the gpu profile changes from `full` (the chapter prints it beside the results)
GPU_CHANGES = ("the schedules train ResNet-20 15 epochs, not 60, over 6 peak rates 2^-5..2^0 instead of 7",
               "the warmup sweep (and its unclipped, Lion and decayed twins) trains the GPT at width 256, not 512, "
               "over 10 rates 2^-12..2^-3 instead of 11 (Lion's two octaves lower)",
               "the batch comparison trains ResNet-20 16 epochs, not 60")

PART_TITLES = {"schedules": "the schedule comparison", "warmup": "the warmup sweep",
               "clipping_on": "the sweep without warmup, clipped",
               "clipping_off": "the sweep without warmup, unclipped",
               "lion_adam": f"Adam at {LION_WARMUP:.0%} warmup, Lion's reference",
               "lion": f"Lion at 1/{2 ** LION_SHIFT} of Adam's rates",
               "adamw_reference": f"Adam at {LION_WARMUP:.0%} warmup, the decay's reference",
               "adamw_decay": f"AdamW with decay {ADAMW_DECAY:g}",
               "batch": "batch growth against rate decay",
               "fine_tuning": "fine-tuning with one rate and with discriminative rates"}
# the two arms of one comparison
SHOWN_TOGETHER = (("clipping_on", "clipping_off"), ("lion_adam", "lion"), ("adamw_reference", "adamw_decay"))


def schedule_runs(profile):
    s = SCHEDULE_SETTINGS[profile]
    base = RunConfig(task="cifar10", model=s["model"], optimizer="sgd", momentum=0.9, weight_decay=5e-4,
                     batch_size=128, augment="crop+flip", epochs=s["epochs"], train_per_class=s["per_class"],
                     test_per_class=s["test_per_class"])
    runs = []
    for label, (schedule, args) in SCHEDULE_POLICIES.items():
        policy = base.replace(schedule=schedule, schedule_args=args)
        runs += [policy.replace(lr=2.0 ** k) for k in s["log2_lrs"]]
        if label in SEED_REPEATS:
            runs += [policy.replace(lr=2.0 ** s["repeat_log2_lr"], seed=seed) for seed in range(1, 1 + s["extra_seeds"])]
    return runs


def warmup_runs(profile):
    s = WARMUP_SETTINGS[profile]
    base = RunConfig(task="shakespeare", model="chargpt", width=s["width"], depth=s["depth"], block_size=s["block"],
                     batch_size=s["batch"], steps_per_epoch=s["steps_per_epoch"], epochs=s["epochs"], optimizer="adam",
                     momentum=0.9, schedule="warmup_cosine", grad_clip=CLIP_NORM, augment="none")
    runs = []
    for warmup in s["warmups"]:
        with_warmup = base.replace(schedule_args={"warmup": warmup})
        runs += [with_warmup.replace(lr=2.0 ** k) for k in s["log2_lrs"]]
        if warmup in WARMUP_REPEATS:
            runs += [with_warmup.replace(lr=2.0 ** s["repeat_log2_lr"], seed=seed)
                     for seed in range(1, 1 + s["extra_seeds"])]
    return runs


def clipped_runs(profile):
    """Part 2's runs without warmup: its grid and its repeats, clipped at CLIP_NORM."""
    return [run for run in warmup_runs(profile) if run.schedule_args["warmup"] == 0.0]


def clipping_runs(profile):
    """The same runs without gradient clipping (the clipping part's own chunk: the clipped ones are part 2's)."""
    return [run.replace(grad_clip=None) for run in clipped_runs(profile)]


def lion_adam_runs(profile):
    """Part 2's runs at LION_WARMUP: Adam's arm of the Lion comparison (its grid and its repeats)."""
    return [run for run in warmup_runs(profile) if run.schedule_args["warmup"] == LION_WARMUP]


def lion_runs(profile):
    """The same runs with Lion, each at 2^-LION_SHIFT of Adam's rate (the Lion part's own chunk)."""
    return [run.replace(optimizer="lion", lr=run.lr * 2.0 ** -LION_SHIFT) for run in lion_adam_runs(profile)]


def adamw_decay_runs(profile):
    """The Lion comparison's Adam runs as AdamW with the article's decay: torch's weight_decay ADAMW_DECAY is the
    paper's lambda ADAMW_DECAY * lr (`lrlab.optim`), on the weight matrices and embeddings only (its own chunk)."""
    return [run.replace(optimizer="adamw", weight_decay=ADAMW_DECAY * run.lr, decay_norm_and_bias=False)
            for run in lion_adam_runs(profile)]


def batch_runs(profile):
    s = BATCH_SETTINGS[profile]
    base = RunConfig(task="cifar10", model=s["model"], optimizer="sgd", lr=s["lr"], momentum=0.9, weight_decay=5e-4,
                     batch_size=s["batch"], augment="crop+flip", epochs=s["epochs"], train_per_class=s["per_class"],
                     test_per_class=s["test_per_class"])
    return [base.replace(seed=seed, **changes) for changes in BATCH_ARMS.values() for seed in range(s["seeds"])]


def start_run(profile):
    """The run every fine-tuning starts from: the fine-tuning's network trained on START_CLASSES."""
    s = FINE_TUNE_SETTINGS[profile]
    return RunConfig(task="cifar10", model=s["model"], classes=START_CLASSES, optimizer="sgd", lr=START_LR,
                     momentum=0.9, weight_decay=5e-4, schedule="cosine", batch_size=s["start_batch"],
                     augment="crop+flip", epochs=s["start_epochs"], train_per_class=s["start_per_class"],
                     test_per_class=s["test_per_class"])


def fine_tune_runs(profile):
    """Each arm of FINE_TUNE_ARMS over the grid of (top) rates on TARGET_CLASSES, the claim's two arms with
    repeats: from scratch, fine-tuned from `start_run` at one rate, and at ULMFiT's discriminative rates."""
    s = FINE_TUNE_SETTINGS[profile]
    base = RunConfig(task="cifar10", model=s["model"], classes=TARGET_CLASSES, init_from=start_run(profile).to_dict(),
                     optimizer="sgd", momentum=0.9, weight_decay=5e-4, schedule="cosine", batch_size=s["batch"],
                     augment="crop+flip", epochs=s["epochs"], train_per_class=s["per_class"],
                     test_per_class=s["test_per_class"])
    runs = []
    for label, changes in FINE_TUNE_ARMS.items():
        arm = base.replace(**changes)
        runs += [arm.replace(lr=2.0 ** k) for k in s["log2_lrs"]]
        if label in FINE_TUNE_REPEATS:
            runs += [arm.replace(lr=2.0 ** k, seed=seed) for k in s["repeat_log2_lrs"]
                     for seed in range(1, 1 + s["extra_seeds"])]
    return runs


def parts(profile):
    return {"schedules": schedule_runs(profile), "warmup": warmup_runs(profile), "clipping_on": clipped_runs(profile),
            "clipping_off": clipping_runs(profile), "lion_adam": lion_adam_runs(profile), "lion": lion_runs(profile),
            "adamw_reference": lion_adam_runs(profile), "adamw_decay": adamw_decay_runs(profile),
            "batch": batch_runs(profile), "fine_tuning": fine_tune_runs(profile)}


def runs(profile):
    return union_of_parts(parts(profile))


def chunks(profile):
    return [Chunk("warmup", 1, "whether Adam on the character GPT needs 5-10% warmup, and whether it diverges at "
                  "0.1 without", warmup_runs(profile)),
            Chunk("schedules", 2, "cosine against step decay (and constant, linear to zero, warmup-stable-decay) "
                  "at equal budget, each at its best peak rate", schedule_runs(profile)),
            Chunk("clipping", 2, "whether gradient clipping at 1.0 saves Adam runs without warmup that diverge "
                  "without it", clipping_runs(profile)),
            Chunk("lion", 2, "whether Lion's best rate on the character GPT is 3-10x below Adam's", lion_runs(profile)),
            Chunk("adamw_decay", 2, "whether AdamW with decay 0.1 has its best rate on the character GPT in 1e-4 to "
                  "1e-3", adamw_decay_runs(profile)),
            Chunk("batch", 2, "whether growing the batch 5x where step decay cuts the rate 5x reaches the same "
                  "test accuracy with fewer updates", batch_runs(profile)),
            Chunk("fine_tuning", 2, f"whether fine-tuning with each layer group at 1/{ULMFIT_FACTOR:g} of the rate "
                  "above it beats one rate for all", fine_tune_runs(profile))]


# -- analysis: what the chapter reads off its records (tested in tests/test_rules_of_thumb.py)
# (pandas is imported inside the functions that build frames: a sweep imports this module for its
# declarations and must run where only torch and numpy are installed)

POLICY_OF = {schedule: label for label, (schedule, _) in SCHEDULE_POLICIES.items()}
ADAM_CLAIM_LR = 0.1   # "0.1 ... will cause immediate divergence with Adam"


def schedule_frame(runs):
    """The schedule runs (rows of `Chapter.runs`) with their policy's label and test accuracy in % (NaN
    where the run diverged: shown, never averaged in)."""
    frame = runs.assign(policy=runs.schedule.map(POLICY_OF))
    return frame.assign(acc=100 * frame.final_test_acc.where(frame.status == "completed"))


def warmup_frame(runs):
    """The warmup runs with their warmup fraction and validation loss (NaN where the run diverged)."""
    frame = runs.assign(warmup=[float(args["warmup"]) for args in runs.schedule_args])
    return frame.assign(loss=frame.final_test_loss.where(frame.status == "completed"))


def best_cells(frame, by, value, order, lower_is_better=False):
    """The best seed-0 cell of each group `by` (one row per group, in `order`): its run's id and rate, its value, how many
    rates it was picked from, how many of them diverged, and the largest rate that did not diverge."""
    import pandas as pd
    rows = []
    for key in order:
        grid = frame[(frame[by] == key) & (frame.seed == 0)]
        if not len(grid):
            continue
        ok = grid.dropna(subset=[value])
        best = ok.loc[ok[value].idxmin() if lower_is_better else ok[value].idxmax()] if len(ok) else None
        rows.append({by: key, "id": best.id if best is not None else None,
                     "best lr": float(best.lr) if best is not None else float("nan"),
                     value: float(best[value]) if best is not None else float("nan"), "rates": len(grid),
                     "diverged": int((grid.status == "diverged").sum()),
                     "largest lr not diverged": float(ok.lr.max()) if len(ok) else float("nan")})
    return pd.DataFrame(rows).set_index(by) if rows else pd.DataFrame()


def crosses_words(frame):
    """A sweep figure's caption on its crosses: how many of the seed-0 runs it draws diverged, or none."""
    n = int((frame[frame.seed == 0].status == "diverged").sum())
    return "no run diverged" if not n else "crosses: " + ("the one run" if n == 1 else f"the {n} runs") + " that diverged"

def coinciding_words(best):
    """Whether the constant rate's best run and step decay's share their start (the same peak: step decay is
    the constant rate until its first drop), so that the figure's curves of the two lie on each other."""
    if not {"constant", "step"} <= set(best.index) or best.loc["constant", "best lr"] != best.loc["step", "best lr"]:
        return ""
    return (f"The constant rate's curve lies under step decay's until step decay's first drop: both best runs have "
            f"the peak {best.loc['step', 'best lr']:.3g}, and step decay is the constant rate until then.")

def seed_noise(frame, by, value):
    """(SD, degrees of freedom) of `value` between seeds of the same cell (same `by` and rate), pooled."""
    return pooled_sd([g[value].dropna().to_numpy() for _, g in frame.groupby([by, "lr"])])


def repeat_history_words():
    """How the quick profile's fine-tuning grid and repeats came to be, from its settings: first the repeats at
    the first rate alone on a grid that ended at FIRST_QUICK_TOP, where the discriminative arm's best lay; then
    the grid extended and a second rate repeated."""
    s = FINE_TUNE_SETTINGS["quick"]
    first, second = s["repeat_log2_lrs"]
    return (f"At `quick` we first placed the repeats at {power_of_two(2.0 ** first)} alone, on a grid that ended at "
            f"{power_of_two(2.0 ** FIRST_QUICK_TOP)}; the discriminative arm's best lay at that top, "
            f"{number_word(FIRST_QUICK_TOP - first)} octaves from the repeats, so we extended the grid to "
            f"{power_of_two(2.0 ** max(s['log2_lrs']))} and repeated a second rate, {power_of_two(2.0 ** second)}, "
            "between the two arms' best rates")


def sd_by_rate_words(frame, by, value):
    """The seed SD measured at each repeated rate on its own, pooled over the groups repeated there: "0.52
    points at 2⁻⁵ and 1.38 at 2⁻³" (the verdicts pool every rate: `seed_noise`)."""
    rates = sorted(frame[frame.seed > 0].lr.unique())
    sds = [pooled_sd([g[value].dropna().to_numpy() for _, g in frame[frame.lr == lr].groupby(by)])[0]
           for lr in rates]
    said = [f"{sd:.2f}{' points' if not k else ''} at {power_of_two(lr)}" for k, (sd, lr) in enumerate(zip(sds, rates))]
    return listed(said) if said else "no rate is repeated"


def cells_at(frame, by, value, order, lr, lower_is_better=False):
    """Each group's seed-0 cell at its grid rate nearest `lr` (in log2), as `best_cells` gives them (each
    picked from one rate): the variants compared at one shared peak rate instead of each at its own best."""
    near = [g[np.abs(np.log2(g.lr) - np.log2(lr)) == np.abs(np.log2(g.lr) - np.log2(lr)).min()]
            for _, g in frame[frame.seed == 0].groupby(by)]
    if not near:
        return best_cells(frame.iloc[:0], by, value, order, lower_is_better)
    import pandas as pd
    return best_cells(pd.concat(near), by, value, order, lower_is_better)


def sd_range(dof, level=0.95, draws=200_000, seed=0):
    """(low, high): the range of true SD / measured SD that covers `level` of the seed SDs measured with
    `dof` degrees of freedom from normal noise (the chi-square distribution, by simulation); NaNs for none."""
    if dof < 1:
        return float("nan"), float("nan")
    ratio = np.sqrt(np.random.default_rng(seed).chisquare(dof, draws) / dof)   # measured / true
    lo, hi = np.quantile(ratio, [(1 - level) / 2, (1 + level) / 2])
    return float(1 / hi), float(1 / lo)


def sd_move_words(table):
    """How far the seed SD would have to move to change each flagged comparison's word (`close_calls`'s
    table): every margin is the seed SD times a number the grids' sizes fix, so a gap at r times its margin
    counts once the SD shrinks by the fraction 1 - r (r < 1), or stops counting once it grows by r - 1."""
    said = []
    for row in table[table["close call"] == "yes"].itertuples():
        ratio = row[4]   # |gap| / margin
        said.append(f"at {ratio:.2f}, an SD about {1 - ratio:.0%} smaller would make the gap of {row.comparison} "
                    "count" if ratio < 1 else
                    f"at {ratio:.2f}, an SD about {ratio - 1:.0%} larger would make the gap of {row.comparison} "
                    "stop counting")
    joined = "; ".join(said)
    return joined[:1].upper() + joined[1:] + "." if said else "No comparison sits close enough to its margin to be flagged."


def close_call_change_words(book, other, within):
    """Which comparisons keep, lose or gain the close-call flag when its fraction goes from the book's to
    `within`: `book` and `other` are `close_calls`'s tables at the two fractions."""
    ratios = "; ".join(f"{what} at {ratio:.2f}" if np.isfinite(ratio) else f"{what} unmeasured"
                       for what, ratio in zip(book.comparison, book["|gap| / margin"]))
    was, now = (set(t.comparison[t["close call"] == "yes"]) for t in (book, other))
    parts = [f"{listed(sorted(group))} {verb}" for group, verb in
             ((was & now, "keeps its flag" if len(was & now) == 1 else "keep their flags"),
              (was - now, "loses its flag" if len(was - now) == 1 else "lose their flags"),
              (now - was, "gains one" if len(now - was) == 1 else "gain one")) if group]
    return (f"The gaps as multiples of their margins: {ratios}. At {within:.0%}, "
            + (", ".join(parts) if parts else "no comparison is flagged, as at the book's fraction") + ".")


def changed_words(book, other):
    """The verdicts whose word differs between the book's reading and another one (dicts of verdicts by
    name), each with what the other reading measured; how many stay."""
    changed = [f"*{SOURCES[n][0]}* ({book[n].word} → {v.word}: {v.number})" for n, v in other.items()
               if n in book and v.word != book[n].word]
    if not changed:
        return f"No word changes (all {len(other)} stay)."
    return f"The words that change: {'; '.join(changed)}. The other {len(other) - len(changed)} stay."


def seed_sd_words(sd, dof, unit):
    """'seed SD 0.012 in validation loss (4 degrees of freedom)', or that there is none: no cell has two seeds
    that trained (their repeats diverged, or are not recorded yet)."""
    if not (dof >= 1 and np.isfinite(sd)):
        return f"no seed SD in {unit}: no cell has two seeds that trained"
    return f"seed SD {sd:.3f} in {unit} ({dof:.0f} degree{'s' if dof != 1 else ''} of freedom)"


def sd_range_sentence(dof, low, high):
    """The exercise's solution on how far a seed SD measured with `dof` degrees of freedom can be off
    (`sd_range`'s `low` and `high`), in a sentence."""
    if not np.isfinite(low):
        return "With no degree of freedom there is no measured SD to be off: no cell has two seeds that trained."
    return (f"With {dof:.0f} degree{'s' if dof != 1 else ''} of freedom, the true SD lies between {low:.2f} and "
            f"{high:.2f} times the measured one in 95% of such measurements (the chi-square distribution of a "
            "variance estimated from normal noise).")


def sd_range_words(chapter, book, low, high):
    """What the chapter's words do if every seed SD were `low` or `high` times the measured one (the ends of
    `sd_range`): how many of them would change at either end, and which."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return ""
    ends = {scale: verdicts(chapter, sd_scale=scale) for scale in (low, high)}
    moved = [(n, scale, v.word) for scale, found in ends.items() for n, v in found.items()
             if n in book and v.word != book[n].word]
    if not moved:
        return f"No word of the chapter's {len(book)} changes at either end of that range."
    said = "; ".join(f"*{SOURCES[n][0]}* (at {scale:.2f}x: {word})" for n, scale, word in moved)
    return (f"At the ends of that range, {len({n for n, _, _ in moved})} of the chapter's {len(book)} words change: "
            f"{said}. These are the words a better-measured seed SD could move.")


def shared_rate_words(frame, best, seed_sd, lr):
    """Exercise 6.4's answer from the records: the warmup comparison read with every warmup at the grid rate
    nearest `lr`, against each at its own best rate and at no warmup's own best rate; where warmup moves
    Adam's best rate. A dict of sentences: 'best_at', 'shared', 'moves', 'tuned'."""
    claimed = [w for w in CLAIMED_WARMUPS if w in best.index]
    if 0.0 not in best.index or not claimed:
        missing = "No run without warmup or with 5-10% warmup is recorded."
        return dict.fromkeys(("best_at", "shared", "moves", "tuned"), missing)
    at_best = [f"{w:.0%}" for w in best.index if np.isclose(np.log2(best.loc[w, "best lr"]), np.log2(lr), atol=0.5)]
    best_at = (f"where {listed(at_best)} warmup {'does' if len(at_best) == 1 else 'do'} best" if at_best else
               "a rate where no warmup does best")

    def reading(rate):
        cells = cells_at(frame, "warmup", "loss", WARMUPS, rate, lower_is_better=True)
        return compare(cells, claimed, 0.0, "loss", seed_sd, lower_is_better=True)[2:4], warmup_verdict(cells, seed_sd)
    own_gap = compare(best, claimed, 0.0, "loss", seed_sd, lower_is_better=True)[2]
    (gap, margin), shared = reading(lr)
    none_lr = float(best.loc[0.0, "best lr"])
    (none_gap, none_margin), at_none = reading(none_lr)
    times = abs(gap) / abs(own_gap) if own_gap else float("inf")
    lost = "cannot be measured: a run at that rate diverged"   # a diverged run has no loss to subtract
    shared_words = (f"At {lr:.3g} the best of 5% and 10% warmup against none is a gap of {gap:+.3f} in validation "
                    f"loss (negative: warmup lower), {times:.1f} times the {own_gap:+.3f} at each warmup's own best "
                    f"rate, against a margin {measured(margin, '.3f', 'of ')}: **{shared.word}**."
                    if np.isfinite(gap) and np.isfinite(own_gap) else
                    f"At {lr:.3g} the gap between the best of 5% and 10% warmup and none {lost}: **{shared.word}**.")
    top = max(claimed, key=lambda w: best.loc[w, "best lr"])
    moved = best.loc[top, "best lr"] / none_lr
    moves = (f"Warmup moves Adam's best peak rate up here, from {none_lr:.3g} without it to "
             f"{best.loc[top, 'best lr']:.3g} with {top:.0%}" if moved > 1 else
             f"Warmup does not move Adam's best peak rate up here ({none_lr:.3g} without it, "
             f"{best.loc[top, 'best lr']:.3g} with {top:.0%})")
    removing = f"removing it costs {-gap:+.3f}" if np.isfinite(gap) else f"removing it {lost}"
    adding = (f"adding it changes the loss by {none_gap:+.3f} against a margin {measured(none_margin, '.3f', 'of ')}"
              if np.isfinite(none_gap) else f"adding it {lost}")
    tuned = (f"At the rate tuned with warmup, {lr:.3g}, {removing} ({shared.word}); at the rate tuned without it, "
             f"{none_lr:.3g}, {adding} ({at_none.word}): the shared rate "
             + ("decides the answer." if shared.word != at_none.word else "does not change the answer."))
    return {"best_at": best_at, "shared": shared_words, "moves": moves, "tuned": tuned}


def wsd_worked(decay, at=(0.75, 0.9)):
    """The WSD exercise's answer worked through in plain text (glued Markdown has no maths), for a cooldown over
    the last `decay` of the run after the chapter's warmup w: {"at": the rate as a fraction of the peak at each
    fraction f of the run in `at` (1 before the cooldown, (1 - f) / decay in it), "mean": the mean over the run,
    1 - w/2 - decay/2, "mean_value": that number, "linear_at": the cooldown at which WSD is linear decay}."""
    warmup = SCHEDULE_POLICIES["warmup-stable-decay"][1]["warmup"]

    def rate(f):
        if f < 1 - decay:
            return f"still 1 at {f:.0%}"
        return f"{1 - f:.3g}/{decay:g} = {(1 - f) / decay:.3g} at {f:.0%}"
    mean = 1 - warmup / 2 - decay / 2
    return {"at": listed(rate(f) for f in at), "mean": f"1 − {warmup / 2:g} − {decay / 2:g} = {mean:.4g}",
            "mean_value": mean, "linear_at": 1 - warmup}


def step_mean_worked():
    """The step schedule's mean rate over a run, as a fraction of the peak, worked through in plain text from its
    milestones and factor: ("0.5 + 0.25 × 0.1 + 0.25 × 0.01", 0.5275)."""
    args = SCHEDULE_POLICIES["step"][1]
    edges = [0.0, *args["milestones"], 1.0]
    spans = [(b - a, args["gamma"] ** i) for i, (a, b) in enumerate(zip(edges, edges[1:]))]
    said = " + ".join(f"{span:g}" if factor == 1 else f"{span:g} × {factor:g}" for span, factor in spans)
    return said, float(sum(span * factor for span, factor in spans))


def schedule_shapes(steps, at=(0.5, 0.75, 0.9), wsd_decay=None):
    """The chapter's five policies over a run of `steps` optimizer steps, drawn by the schedulers training
    steps (`schedules.lr_curve`): the rate as a fraction of the peak at step floor(f * steps) for each
    fraction f in `at`, and its mean over the run. `wsd_decay`: warmup-stable-decay's cooldown fraction
    instead of the chapter's (an exercise's what-if)."""
    import pandas as pd
    from lrlab.schedules import lr_curve
    rows = []
    for label, (schedule, args) in SCHEDULE_POLICIES.items():
        if schedule == "warmup_stable_decay" and wsd_decay is not None:
            args = {**args, "decay": wsd_decay}
        lrs = np.asarray(lr_curve(schedule, steps, **args)["lr"])
        row = {"policy": label}
        row.update({f"at {f:.0%}": float(lrs[min(steps - 1, int(f * steps + 1e-9))]) for f in at})
        rows.append({**row, "mean over the run": float(lrs.mean())})
    return pd.DataFrame(rows)


def compare(best, a, b, value, seed_sd, lower_is_better=False):
    """`stats.best_gap` between the best cells of groups a and b (a list of groups is read as its best
    cell, picked from all their rates): (a's value, b's value, gap, margin, +1 / 0 / -1 for a better /
    within noise / worse than b)."""

    def side(groups):
        groups = [g for g in ([groups] if not isinstance(groups, (list, tuple)) else groups) if g in best.index]
        if not groups:
            return float("nan"), 0
        values = best.loc[groups, value]
        return float(values.min() if lower_is_better else values.max()), int(best.loc[groups, "rates"].sum())
    (va, na), (vb, nb) = side(a), side(b)
    gap, margin, sign = best_gap(va, na, vb, nb, seed_sd)
    return va, vb, gap, margin, -sign if lower_is_better else sign


CLOSE_CALL = 0.2   # a gap within this fraction of its margin either side is reported as a close call


def close_call(gap, margin, within=CLOSE_CALL):
    """" (a close call: ...)" when the gap lies within the fraction `within` (CLOSE_CALL, unless an exercise
    asks for another) of the margin, else "" (also where gap or margin is not measured)."""
    if not (np.isfinite(gap) and np.isfinite(margin)) or abs(abs(gap) - margin) > within * margin:
        return ""
    return (f" A close call: the gap is within {within:.0%} of the margin, and another seed could move it to "
            "the other side.")


COMPARISONS = {   # verdict name -> (the comparison in words, group a, group b, the part whose best cells hold them)
    "cosine_beats_step": ("cosine against step decay", "cosine", "step", "schedules"),
    "linear_vs_cosine": ("linear to zero against cosine", "linear to zero", "cosine", "schedules"),
    "wsd_vs_cosine": ("warmup-stable-decay against cosine", "warmup-stable-decay", "cosine", "schedules"),
    "warmup_needed": ("5-10% warmup against none", list(CLAIMED_WARMUPS), 0.0, "warmup"),
}


def close_calls(best, seed_sd, warmup_best, warmup_sd, within=CLOSE_CALL):
    """The chapter's four best-against-best comparisons (`COMPARISONS`), one row each: the gap, its noise
    margin, the gap as a multiple of the margin, and whether `close_call` flags it at `within`."""
    import pandas as pd
    rows = []
    for what, a, b, part in COMPARISONS.values():
        if part == "schedules":
            gap, margin = compare(best, a, b, "acc", seed_sd)[2:4] if len(best) else (np.nan, np.nan)
        else:
            gap, margin = (compare(warmup_best, a, b, "loss", warmup_sd, lower_is_better=True)[2:4]
                           if len(warmup_best) else (np.nan, np.nan))
        rows.append({"comparison": what, "gap": gap, "margin": margin,
                     "|gap| / margin": abs(gap) / margin if margin else np.nan,
                     "close call": "yes" if close_call(gap, margin, within) else "no"})
    return pd.DataFrame(rows)


def beats_verdict(compared, said, within, missing, rule, number):
    """The word of a "one beats the other" claim from `compare`'s result: better beyond the margin,
    confirmed; worse beyond it, contradicted; within it, not resolved (`within` says so), with a close call
    flagged; `missing` where a side or the seed noise is not recorded."""
    gap, margin, better = compared[2:]
    if not (np.isfinite(gap) and np.isfinite(margin)):
        return Verdict(NOT_RESOLVED, missing, rule, number)
    word = {1: CONFIRMED, -1: CONTRADICTED, 0: NOT_RESOLVED}[better]
    return Verdict(word, said + ("" if better else f" {within}") + close_call(gap, margin), rule, number)


def cosine_step_verdict(best, seed_sd):
    """"Cosine usually beats step decay": each schedule's best test accuracy over the same grid of peak
    rates; cosine better beyond noise: confirmed; worse: contradicted; within it: not resolved."""
    compared = cos, step, gap, margin, _ = compare(best, "cosine", "step", "acc", seed_sd)
    return beats_verdict(compared, f"Cosine's best run reaches {cos:.1f}% test accuracy and step decay's {step:.1f}%: "
                         f"a gap of {gap:+.1f} points against a noise margin {measured(margin, '.1f', 'of ')}.",
                         "The two are within seed noise.", "Cosine and step decay are not both recorded with seed noise.",
                         f"each schedule at its best peak rate; {BEST_GAP_RULE}",
                         f"test acc. {cos:.1f}% against {step:.1f}% (gap {gap:+.1f}, margin {measured(margin, '.1f')})")


MATCHES_COSINE = {   # verdict name -> (policy, who says it matches or beats cosine)
    "linear_vs_cosine": ("linear to zero", "Defazio et al. 2023"),
    "wsd_vs_cosine": ("warmup-stable-decay", "Hägele et al. 2024"),
}


def matches_cosine_verdict(best, seed_sd, policy, who):
    """"`policy` matches or beats cosine" (`who` says so): its best test accuracy is not below cosine's
    beyond noise: confirmed; below it: contradicted."""
    ours, cos, gap, margin, better = compare(best, policy, "cosine", "acc", seed_sd)
    rule = f"each schedule at its best peak rate; {BEST_GAP_RULE}; within the margin counts as matching"
    number = f"test acc. {ours:.1f}% against {cos:.1f}% (gap {gap:+.1f}, margin {measured(margin, '.1f')})"
    if not (np.isfinite(gap) and np.isfinite(margin)):
        return Verdict(NOT_RESOLVED, f"{policy} and cosine are not both recorded with seed noise.", rule, number)
    return Verdict(CONTRADICTED if better < 0 else CONFIRMED,
                   f"{policy[0].upper() + policy[1:]} reaches {ours:.1f}% at its best rate, cosine {cos:.1f}%: a gap "
                   f"of {gap:+.1f} points against a noise margin {measured(margin, '.1f', 'of ')} ({who} find it "
                   "matches or beats cosine)." + close_call(gap, margin), rule, number)


def warmup_verdict(best, seed_sd):
    """"Include warmup, at least 5-10% of training": the best validation loss with 5% or 10% warmup
    against the best with none, each over the same grid of peak rates. Lower beyond noise: confirmed;
    higher: contradicted; within it: not resolved."""
    compared = warm, none, gap, margin, _ = compare(best, list(CLAIMED_WARMUPS), 0.0, "loss", seed_sd,
                                                    lower_is_better=True)
    return beats_verdict(compared, f"With 5-10% warmup the best validation loss is {warm:.3f}, without warmup "
                         f"{none:.3f}: a gap of {gap:+.3f} against a noise margin {measured(margin, '.3f', 'of ')}.",
                         "Warmup makes no difference beyond seed noise here.",
                         "The warmups are not all recorded with seed noise.",
                         f"the best of the 5% and 10% warmups against no warmup, each at its best peak rate; "
                         f"{BEST_GAP_RULE}",
                         f"val. loss {warm:.3f} against {none:.3f} (gap {gap:+.3f}, margin {measured(margin, '.3f')})")


def adam_divergence_verdict(frame, best, seed_sd, total_steps):
    """"0.1 ... will cause immediate divergence with Adam": the grid's rate nearest 0.1 (within half an
    octave), no warmup. It diverges: confirmed; it trains to within noise of the sweep's best loss:
    contradicted; it trains, but worse: not resolved."""
    rule = ("Adam without warmup at the grid's rate nearest 0.1 (within half an octave): diverged, confirmed; "
            "validation loss within 2 sqrt 2 seed SDs of the sweep's best, contradicted; between the two, not resolved")
    grid = frame[(frame.warmup == 0.0) & (frame.seed == 0)]
    if not len(grid):
        return Verdict(NOT_RESOLVED, "No run without warmup is recorded.", rule)
    near = grid.loc[(np.log2(grid.lr) - np.log2(ADAM_CLAIM_LR)).abs().idxmin()]
    if abs(np.log2(near.lr / ADAM_CLAIM_LR)) > 0.5:
        return Verdict(NOT_RESOLVED, f"The grid's largest rate without warmup is {grid.lr.max():.3g}: it does not "
                       "reach 0.1.", rule)
    if near.status == "diverged":
        return Verdict(CONFIRMED, f"Adam at {near.lr:.3g} without warmup diverges at step {int(near.diverged_at_step)} "
                       f"of {total_steps}.", rule, f"{near.lr:.3g}: diverged at step {int(near.diverged_at_step)}")
    sweep_best = float(best["loss"].min())
    margin = 2 * np.sqrt(2) * seed_sd
    number = f"{near.lr:.3g}: val. loss {near.loss:.3f}, best {sweep_best:.3f}"
    if near.loss - sweep_best <= margin:
        return Verdict(CONTRADICTED, f"Adam at {near.lr:.3g} without warmup trains to a validation loss of "
                       f"{near.loss:.3f}, within noise of the sweep's best {sweep_best:.3f}.", rule, number)
    return Verdict(NOT_RESOLVED, f"Adam at {near.lr:.3g} without warmup does not diverge, but ends at a validation "
                   f"loss of {near.loss:.3f} against the sweep's best {sweep_best:.3f}.", rule, number)


CLIPPING_ARMS = (f"clipped at {CLIP_NORM:.1f}", "no clipping")
CLIPPING_RULE = (f"Adam without warmup over one grid of peak rates, with and without clipping at {CLIP_NORM:.1f}, one "
                 "seed a rate: a rate where the run without clipping diverges and the clipped one does not is a run "
                 "saved, confirmed; no rate saved and none where the unclipped run ends worse beyond 2 sqrt 2 seed "
                 "SDs, "
                 "over a grid that reaches rates where training fails (a divergence, or a loss that far above the "
                 "best), contradicted; otherwise not resolved")


def clipping_frame(runs):
    """The clipping part's runs (Adam without warmup, with and without clipping) as `warmup_frame` gives
    them, each with its arm (CLIPPING_ARMS)."""
    frame = warmup_frame(runs)
    return frame.assign(arm=[CLIPPING_ARMS[0] if clip else CLIPPING_ARMS[1] for clip in frame.grad_clip.fillna(0)])


def clipping_pairs(frame):
    """One row per grid rate both arms hold at seed 0: each arm's validation loss (NaN where it diverged),
    whether it diverged, and at which step."""
    import pandas as pd
    rows = []
    for lr, cell in frame[frame.seed == 0].groupby("lr"):
        clipped, unclipped = (cell[cell.arm == arm] for arm in CLIPPING_ARMS)
        if not (len(clipped) and len(unclipped)):
            continue
        row = {"lr": float(lr)}
        for name, run in (("clipped", clipped.iloc[0]), ("unclipped", unclipped.iloc[0])):
            diverged = run.status == "diverged"
            row.update({name: float(run.loss), f"{name} diverged": diverged,
                        f"{name} diverged at": int(run.diverged_at_step) if diverged else None})
        rows.append(row)
    return pd.DataFrame(rows)


def _rates(rows):
    return ", ".join(f"{lr:.3g}" for lr in rows.lr)


def _n_rates(n):
    return f"{n} rate{'s' * (n != 1)}"


def clipping_verdict(pairs, seed_sd):
    """"Clipping at 1.0 often saves runs that the scheduled step size alone would not" (`CLIPPING_RULE`):
    Adam without warmup, each grid rate with and without clipping (`clipping_pairs`)."""
    if not len(pairs):
        return Verdict(NOT_RESOLVED, "The runs without clipping are not recorded.", CLIPPING_RULE)
    if not np.isfinite(seed_sd):
        return Verdict(NOT_RESOLVED, "The seed noise of the runs without warmup is not measured.", CLIPPING_RULE)
    margin = 2 * np.sqrt(2) * seed_sd
    saved = pairs[pairs["unclipped diverged"] & ~pairs["clipped diverged"]]
    lost = pairs[pairs["clipped diverged"] & ~pairs["unclipped diverged"]]
    both = pairs[~pairs["clipped diverged"] & ~pairs["unclipped diverged"]]
    worse = both[both.unclipped - both.clipped > margin]      # unclipped worse: clipping helps
    better = both[both.clipped - both.unclipped > margin]     # unclipped better: clipping hurts
    number = (f"{len(saved)} of {len(pairs)} rates saved from divergence; beyond the margin "
              f"({measured(margin, '.3f')}), unclipped worse at {_n_rates(len(worse))} and better at "
              f"{_n_rates(len(better))}")
    hurts = ((f" Clipping diverges where the unclipped run does not at {_rates(lost)}." if len(lost) else "")
             + (f" Without clipping the loss is lower beyond the margin at {_rates(better)}." if len(better) else ""))
    if len(saved):
        trained = ", ".join(f"{lr:.3g} (diverged at step {int(at)}; clipped: {loss:.3f})"
                            for lr, at, loss in zip(saved.lr, saved["unclipped diverged at"], saved.clipped))
        return Verdict(CONFIRMED, f"Without clipping, Adam without warmup diverges at {trained}; clipping at "
                       f"{CLIP_NORM:.1f} trains each of them to the validation loss given." + hurts,
                       CLIPPING_RULE, number)
    if len(worse):
        gaps = ", ".join(f"{lr:.3g} ({u:.3f} against {c:.3f})" for lr, u, c in zip(worse.lr, worse.unclipped,
                                                                                  worse.clipped))
        higher = int((both.unclipped > both.clipped).sum())
        return Verdict(NOT_RESOLVED, f"No run without clipping diverges where the clipped one trains, but without "
                       f"clipping the validation loss ends higher beyond the noise margin ({measured(margin, '.3f')}) "
                       f"at {gaps}: "
                       f"clipping helps there without saving a run from divergence (the loss ends higher without "
                       f"it at {higher} of the {len(both)} rates both arms train)."
                       + close_call(float((worse.unclipped - worse.clipped).max()), margin) + hurts,
                       CLIPPING_RULE, number)
    losses = np.concatenate([both.clipped.to_numpy(), both.unclipped.to_numpy()])
    best = float(losses.min()) if losses.size else float("nan")
    failing = pairs[pairs["clipped diverged"] | pairs["unclipped diverged"]
                    | (pairs[["clipped", "unclipped"]].max(axis=1) - best > margin)]
    if not len(failing):
        return Verdict(NOT_RESOLVED, f"No rate of the grid, up to {pairs.lr.max():.3g}, fails with or without "
                       "clipping: there is no run for clipping to save." + hurts, CLIPPING_RULE, number)
    top = failing.iloc[-1]
    fails = (f"at {top.lr:.3g} a run diverges" if top["clipped diverged"] or top["unclipped diverged"] else
             f"at {top.lr:.3g} the validation loss ends at {top[['clipped', 'unclipped']].min():.3f} with or without "
             f"clipping, against the best {best:.3f}")
    return Verdict(CONTRADICTED, f"Clipping at {CLIP_NORM:.1f} saves no run: without it no rate diverges where the "
                   f"clipped run trains, and none ends worse beyond the noise margin ({measured(margin, '.3f')}), over "
                   "a grid that reaches "
                   f"rates where training fails ({fails})." + hurts, CLIPPING_RULE, number)


def sweep_bands(frame, arms, seed_sd):
    """{arm: near_best.Band} of each of `arms`' seed-0 sweep (validation loss, a diverged run never in it), with
    the margin 2 sqrt 2 seed SDs; an arm not recorded, or whose runs all diverged, is missing."""
    margin, bands = 2 * np.sqrt(2) * seed_sd, {}
    for arm in arms:
        sweep = frame[(frame.arm == arm) & (frame.seed == 0)]
        band = near_best_band(np.log2(sweep.lr), sweep.loss, margin, f"character GPT, {arm}", "")
        if band is not None:
            bands[arm] = band
    return bands


def sweep_band_table(frame, bands, arms, column):
    """One row per arm (named in `column`): its best seed-0 run's rate and loss, its near-optimal band's rates
    (the grid's, not widened), how many rates it swept and how many of them diverged."""
    import pandas as pd
    rows = []
    for arm in arms:
        grid = frame[(frame.arm == arm) & (frame.seed == 0)]
        if not len(grid):
            continue
        band = bands.get(arm)
        ok = grid.dropna(subset=["loss"])
        rows.append({column: arm, "best lr": 2 ** band.best if band else float("nan"),
                     "best loss": float(ok.loss.min()) if len(ok) else float("nan"),
                     "band from": 2 ** band.lo if band else float("nan"),
                     "band to": 2 ** band.hi if band else float("nan"),
                     "rates": len(grid), "diverged": int((grid.status == "diverged").sum())})
    return pd.DataFrame(rows)


def best_loss_words(frame, seed_sd, a, b, said):
    """Arm `a`'s best validation loss against arm `b`'s, each at its own best rate, by `stats.best_gap`, with
    `said` (sign -> words: 1, a better; -1, worse; 0, within noise) to close the sentence; "" without both."""
    best = best_cells(frame, "arm", "loss", (a, b), lower_is_better=True)
    if set(best.index) != {a, b}:
        return ""
    first, second, gap, margin, sign = compare(best, a, b, "loss", seed_sd, lower_is_better=True)
    if not np.isfinite(margin):
        return ""
    return (f"At its best rate {a} ends at a validation loss of {first:.3f}, {b} at {second:.3f}: a gap of "
            f"{gap:+.3f} against a noise margin {measured(margin, '.3f', 'of ')}, so {said[sign]}.")


LION_ARMS = ("Adam", "Lion")
LION_RULE = (f"Adam's best rate over Lion's against the claimed {LION_CLAIM[0]:g} to {LION_CLAIM[1]:g}: "
             f"{RATIO_RANGE_RULE} ({BAND_RULE}, the margin 2 sqrt 2 seed SDs)")


def lion_frame(runs):
    """The Lion comparison's runs (Adam at LION_WARMUP and Lion on the same set-up) as `warmup_frame` gives
    them, each with its arm (LION_ARMS)."""
    frame = warmup_frame(runs)
    return frame.assign(arm=[LION_ARMS[1] if name == "lion" else LION_ARMS[0] for name in frame.optimizer])


def lion_verdict(bands):
    """"Lion needs a learning rate three to ten times smaller than AdamW": Adam's best rate over Lion's, read
    against LION_CLAIM by `near_best.ratio_range_verdict` (`bands`: `sweep_bands` of LION_ARMS)."""
    if set(bands) != set(LION_ARMS):
        return Verdict(NOT_RESOLVED, "The two sweeps, or their seed noise, are not all recorded.", LION_RULE)
    return replace(ratio_range_verdict(bands["Adam"], bands["Lion"], *LION_CLAIM, "Adam's best rate over Lion's"),
                   rule=LION_RULE)


def lion_loss_words(frame, seed_sd):
    """Lion's best loss against Adam's (a sentence beside the verdict, which reads rates only: the article adds
    that Lion does "comparably or better")."""
    return best_loss_words(frame, seed_sd, "Lion", "Adam", {1: "Lion trains better than Adam here",
                                                            -1: "Lion trains worse than Adam here",
                                                            0: "the two are within seed noise of each other"})


ADAMW_ARMS = ("AdamW without decay", f"AdamW with decay {ADAMW_DECAY:g}")
ADAMW_RULE = (f"the decayed sweep's near-optimal band against the claimed {ADAMW_CLAIM[0]:g} to {ADAMW_CLAIM[1]:g}: "
              "confirmed when the band overlaps the range; contradicted when it lies wholly outside it and its end "
              f"towards the range is inside the grid; otherwise not resolved ({BAND_RULE}, the margin 2 sqrt 2 seed "
              "SDs)")


def adamw_frame(runs):
    """The decay comparison's runs (Adam at LION_WARMUP, which is AdamW at lambda 0, and the same runs as AdamW
    with ADAMW_DECAY) as `warmup_frame` gives them, each with its arm (ADAMW_ARMS)."""
    frame = warmup_frame(runs)
    return frame.assign(arm=[ADAMW_ARMS[1] if decay > 0 else ADAMW_ARMS[0] for decay in frame.weight_decay])


def adamw_verdict(bands):
    """"A common default configuration for AdamW in transformer training is a learning rate in the range 1e-4 to
    1e-3 paired with a weight decay of 0.1", read as advice: with that decay the best rate lies in ADAMW_CLAIM
    (`near_best.range_verdict` on the decayed sweep; `bands`: `sweep_bands` of ADAMW_ARMS)."""
    if ADAMW_ARMS[1] not in bands:
        return Verdict(NOT_RESOLVED, "The decayed sweep, or its seed noise, is not recorded.", ADAMW_RULE)
    return replace(range_verdict([bands[ADAMW_ARMS[1]]], *ADAMW_CLAIM, f"AdamW's best rate with decay {ADAMW_DECAY:g}"),
                   rule=ADAMW_RULE)


def decay_shrink_words(frame, bands):
    """How far the decay alone shrinks a decayed weight over a run, 1 - prod(1 - ADAMW_DECAY * lr_t) over its
    steps' scheduled rates, at the decayed sweep's best rate and at its largest: a short run feels little of
    a decay that a language model's hundreds of thousands of steps feel in full."""
    from lrlab.schedules import lr_curve
    decayed = frame[(frame.arm == ADAMW_ARMS[1]) & (frame.seed == 0)]
    band = bands.get(ADAMW_ARMS[1])
    if not len(decayed) or band is None:
        return ""
    run, steps = decayed.iloc[0], int(decayed.final_steps.max())
    multipliers = np.asarray(lr_curve(run.schedule, steps, **run.schedule_args)["lr"])

    def shrink(lr):
        return 1 - float(np.prod(1 - ADAMW_DECAY * lr * multipliers))
    best, top = 2.0 ** band.best, float(decayed.lr.max())
    return (f"Over its {steps} steps the decay alone shrinks a decayed weight by {shrink(best):.0%} at the decayed "
            f"sweep's best rate ({best:.2g}), and by {shrink(top):.0%} at its largest ({top:.2g}).")


def lowest_rate_words(rates, claimed):
    """The sweep's lowest rate in words, and whether it reaches into the `claimed` (low, high) range."""
    if not len(rates):
        return "none recorded"
    lowest = float(min(rates))
    where = ("inside the claimed range" if claimed[0] <= lowest <= claimed[1] else
             "below the claimed range" if lowest < claimed[0] else "above the claimed range")
    return f"the lowest {lowest:.2g} ({where})"


def adamw_decay_words(frame, seed_sd):
    """What the decay itself does to the best loss (a sentence beside the verdict, which reads rates only)."""
    return best_loss_words(frame, seed_sd, *ADAMW_ARMS[::-1], {1: "the decay helps here", -1: "the decay hurts here",
                                                              0: "the decay changes nothing beyond seed noise here"})


def arm_of(config):
    """Which of part 3's arms a config (a runs-frame row or a dict) belongs to."""
    if config["batch_growth"]:
        return "grow the batch"
    return "decay the rate" if config["schedule"] == "multistep" else "neither"


def batch_frame(runs):
    """Part 3's runs with their arm, test accuracy in % (NaN where diverged) and optimizer updates."""
    frame = runs.assign(arm=[arm_of(row) for _, row in runs.iterrows()])
    return frame.assign(acc=100 * frame.final_test_acc.where(frame.status == "completed"),
                        updates=frame.final_steps)


def last_phase_updates(run):
    """A part-3 run's updates after the last milestone (`run`: a runs-frame row), where step decay runs at
    1/25 of the rate and batch growth at 25x the batch: the steps that settle the final accuracy."""
    from lrlab.config import milestones_passed
    from lrlab.cost import updates_by_epoch
    per_class = None if run["train_per_class"] is None or np.isnan(run["train_per_class"]) else int(run["train_per_class"])
    config = RunConfig(epochs=int(run["epochs"]), batch_size=int(run["batch_size"]), train_per_class=per_class,
                       batch_growth=run["batch_growth"])
    return sum(n for epoch, n in enumerate(updates_by_epoch(config))
               if milestones_passed(BATCH_MILESTONES, epoch, config.epochs) == len(BATCH_MILESTONES))


def batch_arms(frame):
    """One row per arm: seeds, diverged seeds, mean and SD of test accuracy over seeds, the optimizer updates of
    one run (the arm's seeds all take the same), and how many of them come after the last milestone."""
    import pandas as pd
    rows = []
    for arm in BATCH_ARMS:
        runs = frame[frame.arm == arm]
        if not len(runs):
            continue
        mean, sd = mean_sd(runs.acc)
        rows.append({"arm": arm, "seeds": len(runs), "diverged": int((runs.status == "diverged").sum()),
                     "test acc. (%)": mean, "SD": sd, "updates": int(runs.updates.max()),
                     "after the last milestone": last_phase_updates(runs.iloc[0])})
    return pd.DataFrame(rows).set_index("arm") if rows else pd.DataFrame()


def noise_path(run):
    """Part 3's eta/B in each epoch as a fraction of the first's (Smith & Le's noise scale, up to the training
    set's size): step decay cuts the rate at the epochs where batch growth joins batches. `run`: its config
    (a record's, a runs-frame row)."""
    from lrlab.config import milestones_passed
    decay = run["schedule_args"] if run["schedule"] == "multistep" else {"milestones": [], "gamma": 1.0}
    growth = run["batch_growth"] or {"milestones": [], "factor": 1}
    return [decay["gamma"] ** milestones_passed(decay["milestones"], e, run["epochs"])
            / growth["factor"] ** milestones_passed(growth["milestones"], e, run["epochs"])
            for e in range(run["epochs"])]


BATCH_RULE = (f"growing the batch {BATCH_FACTOR}x where step decay cuts the rate {BATCH_FACTOR}x: the two arms' mean "
              "test accuracies apart beyond noise, contradicted; within it, confirmed, but only where decaying the "
              "rate itself moves the result beyond noise against the control arm (constant rate and batch), else "
              "not resolved (the test cannot tell); "
              f"{MEAN_GAP_RULE}, the seed SD pooled over the two arms compared (a constant rate's seeds can scatter "
              "far more than a decayed one's)")


def arm_gap(frame, a, b, sd_scale=1.0):
    """`stats.mean_gap` between arms a and b: (gap, margin, -1 / 0 / +1), the seed SD pooled over the two
    (times `sd_scale`, an exercise's what-if)."""
    acc = [frame.acc[frame.arm == arm].dropna().to_numpy() for arm in (a, b)]
    return mean_gap(*acc, sd_scale * pooled_sd(acc)[0])


def batch_growth_verdict(frame, sd_scale=1.0):
    """"Grow the batch instead of decaying the rate": the growing batch's mean test accuracy against step
    decay's, and step decay's against neither's (`BATCH_RULE`)."""
    if not all((frame.arm == arm).any() for arm in BATCH_ARMS):
        return Verdict(NOT_RESOLVED, "The three arms are not all recorded.", BATCH_RULE)
    gap, margin, apart = arm_gap(frame, "grow the batch", "decay the rate", sd_scale)
    effect, effect_margin, decay_matters = arm_gap(frame, "decay the rate", "neither", sd_scale)
    if not (np.isfinite(margin) and np.isfinite(effect_margin)):
        return Verdict(NOT_RESOLVED, "The arms' seed noise is not measured.", BATCH_RULE)
    grow, decay = (frame.acc[frame.arm == arm].mean() for arm in ("grow the batch", "decay the rate"))
    updates = frame.groupby("arm").updates.max()
    number = (f"test acc. {grow:.1f}% against {decay:.1f}% (gap {gap:+.1f}, margin {measured(margin, '.1f')}; "
              f"{updates['grow the batch']} updates against {updates['decay the rate']})")
    said = (f"Growing the batch reaches {grow:.1f}% test accuracy in {updates['grow the batch']} updates, decaying the "
            f"rate {decay:.1f}% in {updates['decay the rate']}: a gap of {gap:+.1f} points against a noise margin of "
            f"{margin:.1f}.")
    if apart:
        return Verdict(CONTRADICTED, said + f" The two are not the same: growing the batch does "
                       f"{'better' if apart > 0 else 'worse'}.", BATCH_RULE, number)
    if not decay_matters:
        return Verdict(NOT_RESOLVED, said + f" But decaying the rate itself moves the result by only {effect:+.1f} "
                       f"points against a constant rate and batch (margin {measured(effect_margin, '.1f')}): at this "
                       "scale the "
                       "test cannot tell the two apart from doing nothing.", BATCH_RULE, number)
    return Verdict(CONFIRMED, said + f" Decaying the rate moves the result by {effect:+.1f} points against the "
                   f"control arm, constant rate and batch (margin {measured(effect_margin, '.1f')}), and growing the "
                   "batch does "
                   "the same.", BATCH_RULE, number)


def batch_scaled_words(frame, sd_scale):
    """The batch comparison's two gaps against their margins at the measured seed SDs and at `sd_scale` times
    them, and the word at each (an exercise's what-if: the margins grow with the SD, the gaps do not)."""
    if not all((frame.arm == arm).any() for arm in BATCH_ARMS):
        return "The batch comparison's three arms are not all recorded."
    gap, margin, _ = arm_gap(frame, "grow the batch", "decay the rate")
    effect, effect_margin, _ = arm_gap(frame, "decay the rate", "neither")
    if not (np.isfinite(margin) and np.isfinite(effect_margin)):
        return "The batch comparison's seed noise is not measured."
    where = f"{abs(gap):.2f} points {'behind' if gap < 0 else 'ahead of'} step decay"
    counts = abs(effect) > sd_scale * effect_margin
    return (f"Growing the batch ends {where} against a margin of {margin:.2f}: at {sd_scale:g}x the SDs the margin is "
            f"{sd_scale * margin:.2f}, and the word is **{batch_growth_verdict(frame, sd_scale).word}** (the book's: "
            f"**{batch_growth_verdict(frame).word}**). Step decay's own lead over neither, {effect:+.1f} points against a "
            f"margin of {effect_margin:.1f}, {'still counts' if counts else 'stops counting'} at {sd_scale:g}x "
            f"(margin {sd_scale * effect_margin:.1f}); the rule reads it only where growing the batch and decaying the "
            "rate end within noise of each other.")


def fine_tune_arm(start, decay):
    """The arm of FINE_TUNE_ARMS a run belongs to, from its `init_from` and `lr_layer_decay` (NaN in a frame)."""
    if not isinstance(start, dict):
        return "from scratch"
    return ONE_RATE if decay is None or decay != decay else f"fine-tuned, ÷{decay:g} a group"


def fine_tune_frame(runs):
    """The fine-tuning runs with their arm and test accuracy in % on the target classes (NaN where the run
    diverged: shown, never averaged in)."""
    decays = runs.lr_layer_decay if "lr_layer_decay" in runs else [None] * len(runs)
    frame = runs.assign(arm=[fine_tune_arm(s, d) for s, d in zip(runs.init_from, decays)])
    return frame.assign(acc=100 * frame.final_test_acc.where(frame.status == "completed"))


LAYERWISE_RULE = f"each arm at its best top-group rate; {BEST_GAP_RULE}"


def layerwise_verdict(best, seed_sd):
    """"Assign each group a learning rate that is a fraction (e.g. 1/2.6) of the rate used for the group above
    it": fine-tuning at ULMFiT's discriminative rates against one rate for every layer, each at its best rate;
    better beyond noise: confirmed; worse: contradicted; within it: not resolved."""
    compared = ours, one, gap, margin, _ = compare(best, DISCRIMINATIVE, ONE_RATE, "acc", seed_sd)
    return beats_verdict(compared, f"With each layer group at 1/{ULMFIT_FACTOR:g} of the rate above it, the best "
                         f"fine-tuned run reaches {ours:.1f}% test accuracy, with one rate for every layer {one:.1f}%: "
                         f"a gap of {gap:+.1f} points against a noise margin {measured(margin, '.1f', 'of ')}.",
                         "Discriminative rates make no difference beyond seed noise here.",
                         "The two ways of fine-tuning are not both recorded with seed noise.", LAYERWISE_RULE,
                         f"test acc. {ours:.1f}% against {one:.1f}% (gap {gap:+.1f}, margin {measured(margin, '.1f')})")


def transfer_words(best, seed_sd, start):
    """What the start brings, the question under the claim's: the start's own accuracy on its classes
    (`start`: a fine-tuned record's `started_from`), and the best fine-tuned run (either arm) against the best
    run trained from scratch on the same target images, by the verdicts' rule."""
    said = (f"The start reaches {100 * start['test_acc']:.1f}% on its own {number_word(len(START_CLASSES))} classes. "
            if start else "")
    ours, scratch, gap, margin, better = compare(best, list(FINE_TUNE_REPEATS), "from scratch", "acc", seed_sd)
    if not (np.isfinite(gap) and np.isfinite(margin)):
        return said + "Fine-tuning and training from scratch are not both recorded with seed noise."
    how = {1: "beats", -1: "trails", 0: "is within seed noise of"}[better]
    return (said + f"Fine-tuned from it, the best run ({ours:.1f}%) {how} the best trained from scratch on the same "
            f"images ({scratch:.1f}%): a gap of {gap:+.1f} points against a margin {measured(margin, '.1f', 'of ')}.")


def verdicts(chapter, sd_scale=1.0):
    """The seed claims this chapter answers, by name (the claims scorecard reads them). `sd_scale`
    multiplies both measured seed SDs (1 for the book: an exercise asks what a noisier seed would say)."""
    out = {}
    if chapter.has("schedules"):
        frame = schedule_frame(chapter.runs("schedules"))
        best = best_cells(frame, "policy", "acc", SCHEDULE_POLICIES)
        sd = sd_scale * seed_noise(frame, "policy", "acc")[0]
        found = {"cosine_beats_step": cosine_step_verdict(best, sd)}
        found.update({name: matches_cosine_verdict(best, sd, policy, who)
                      for name, (policy, who) in MATCHES_COSINE.items()})
        out.update(at_profile(found, chapter.profile_of("schedules")))
    if chapter.has("warmup"):
        frame = warmup_frame(chapter.runs("warmup"))
        best = best_cells(frame, "warmup", "loss", WARMUPS, lower_is_better=True)
        sd = sd_scale * seed_noise(frame, "warmup", "loss")[0]
        out.update(at_profile({"warmup_needed": warmup_verdict(best, sd),
                               "adam_diverges_at_0.1": adam_divergence_verdict(frame, best, sd,
                                                                               int(frame.final_steps.max()))},
                              chapter.profile_of("warmup")))
    if chapter.has("clipping_on") and chapter.has("clipping_off"):
        frame = clipping_frame(chapter.runs("clipping_on", "clipping_off"))
        sd = sd_scale * seed_noise(frame, "arm", "loss")[0]
        out.update(at_profile({"clipping_saves_runs": clipping_verdict(clipping_pairs(frame), sd)},
                              chapter.profile_of("clipping_off")))
    if chapter.has("lion_adam") and chapter.has("lion"):
        frame = lion_frame(chapter.runs("lion_adam", "lion"))
        sd = sd_scale * seed_noise(frame, "arm", "loss")[0]
        out.update(at_profile({"lion_rate": lion_verdict(sweep_bands(frame, LION_ARMS, sd))},
                              chapter.profile_of("lion")))
    if chapter.has("adamw_reference") and chapter.has("adamw_decay"):
        frame = adamw_frame(chapter.runs("adamw_reference", "adamw_decay"))
        sd = sd_scale * seed_noise(frame, "arm", "loss")[0]
        out.update(at_profile({"adamw_default": adamw_verdict(sweep_bands(frame, ADAMW_ARMS, sd))},
                              chapter.profile_of("adamw_decay")))
    if chapter.has("batch"):
        verdict = batch_growth_verdict(batch_frame(chapter.runs("batch")), sd_scale)
        out.update(at_profile({"batch_instead_of_decay": verdict}, chapter.profile_of("batch")))
    if chapter.has("fine_tuning"):
        frame = fine_tune_frame(chapter.runs("fine_tuning"))
        best = best_cells(frame, "arm", "acc", FINE_TUNE_ARMS)
        sd = sd_scale * seed_noise(frame, "arm", "acc")[0]
        out.update(at_profile({"layerwise_rates": layerwise_verdict(best, sd)}, chapter.profile_of("fine_tuning")))
    return out


SOURCES = {   # verdict name -> (the claim, whose, their evidence)
    "cosine_beats_step": ("cosine beats step decay", "AI Wiki, Step size; Loshchilov & Hutter 2019 (Fig. 1)",
                          "cosine \"clearly superior\" to step-drop (26 2x64d, CIFAR-10, 100 epochs)"),
    "linear_vs_cosine": ("linear to zero matches or beats cosine", "Defazio et al. 2023",
                         "linear decay matches or beats cosine across 10 deep-learning problems"),
    "wsd_vs_cosine": ("warmup-stable-decay matches cosine", "Hägele et al. 2024",
                      "a constant rate with a linear cooldown matches or beats cosine (language models)"),
    "warmup_needed": ("include 5-10% warmup", "blog, Which Learning Rate Works Best", "a recommendation, no measurement"),
    "adam_diverges_at_0.1": ("Adam diverges at 0.1", "blog, Which Learning Rate Works Best",
                             "a statement, no measurement"),
    "clipping_saves_runs": ("clipping at 1.0 saves runs", "AI Wiki, Step size", "a statement, no measurement"),
    "lion_rate": ("Lion wants a rate 3-10x below AdamW's", "Chen et al. 2023 (Sec. 5); AI Wiki, Step size",
                  "a recommendation from their tuning (\"typically 3-10x smaller\"), no sweep printed"),
    "adamw_default": ("AdamW for transformers: a rate of 1e-4 to 1e-3 with decay 0.1", "AI Wiki, Learning Rate",
                      "a common default (GPT-3 trains with decay 0.1), no sweep"),
    "batch_instead_of_decay": ("grow the batch instead of decaying the rate", "Smith, Kindermans, Ying & Le 2018",
                               "equivalent test accuracy after the same epochs, with fewer updates (CIFAR-10, "
                               "ImageNet)"),
    "layerwise_rates": (f"fine-tune each layer group at 1/{ULMFIT_FACTOR:g} of the rate above it",
                        "AI Wiki, Learning Rate; Howard & Ruder 2018",
                        "discriminative fine-tuning, the top layer's rate chosen by fine-tuning it alone (text "
                        "classification with a pretrained language model)"),
}
HEADLINES = (PaperClaim("cosine_beats_step", "cosine decay against step decay, each at its best peak rate",
                        SOURCES["cosine_beats_step"][2], SOURCES["cosine_beats_step"][1]),)
