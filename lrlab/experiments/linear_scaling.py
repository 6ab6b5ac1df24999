"""The linear scaling rule with gradual warmup (Goyal et al. 2017, "Accurate, Large Minibatch SGD"),
as a CIFAR-10 batch-size sweep.

The paper's protocol, carried over: SGD with Nesterov momentum 0.9, weight decay 1e-4 on weights
only (none on BatchNorm or biases), the last BatchNorm gamma of each block initialised to zero,
the LR multiplied by k when the batch grows by k (here 0.1 at batch 128), one fixed epoch budget
for every batch, LR x0.1 at 30, 60 and 80 of 90 epochs (as fractions), and BatchNorm statistics
over a fixed 128 images whatever the batch (the paper's per-worker BN over n = 32): larger
batches accumulate 128-image micro-batches. Warmups (paper's Sec. 2.2): none; constant (base LR
0.1, then a jump to the scaled LR); gradual (0.1 -> the scaled LR linearly per step). The warmup
spans 1/6 of training: the issue's 5 epochs of the full profile's 30.

`parts(profile)` names what each run is for (a run can serve several parts); `runs` is their union.
"""
import math
from dataclasses import dataclass, replace

import numpy as np

from lrlab.config import RunConfig
from lrlab.experiments import Chunk, union_of_chunks
from lrlab.stats import NUMBER_WORDS, listed, number_word, plus_minus, times_words
from lrlab.verdict import PaperClaim

REFERENCE_BATCH, REFERENCE_LR = 128, 0.1
FIG1_BAND_SDS = 2                     # the paper's Fig. 1: "error range of plus/minus two standard deviations"
MARGIN_SDS = FIG1_BAND_SDS            # the break rule's margin, in pooled seed SDs: the paper's band, by convention
BN_BATCH = 128                        # images per BatchNorm batch (micro-batch) above the reference
WARMUP_FRACTION = 1 / 6               # 5 of the full profile's 30 epochs
MILESTONES = [1 / 3, 2 / 3, 8 / 9]    # the paper's epochs 30, 60, 80 of 90
WARMUPS = ("none", "constant", "gradual")
RULES = {"linear": lambda k: k, "sqrt": math.sqrt, "none": lambda k: 1.0}   # LR multiplier for k = B/128

SETTINGS = {
    # batches: the sweep; warmup_from: the three warmups from here up; largest: where the paper's
    # Table 2a rules (no scaling, square root) also run; seeds: of every point of the sweep.
    # quick: 4,100 images, so every batch up to 4096 takes exactly 4,096 images per epoch.
    "smoke": dict(model="resnet8", per_class=30, test_per_class=5, epochs=2, batches=(32, 128, 256),
                  warmup_from=256, largest=(256,), seeds=2, noise_every=2, noise_batches=1),
    "quick": dict(model="resnet8", per_class=410, test_per_class=100, epochs=10,
                  batches=(32, 64, 128, 256, 512, 1024, 2048, 4096), warmup_from=512, largest=(1024, 2048),
                  seeds=2, noise_every=2, noise_batches=8),
    "full": dict(model="resnet20", per_class=None, test_per_class=None, epochs=30,
                 batches=(128, 256, 512, 1024, 2048, 4096, 8192, 16384), warmup_from=512, largest=(8192, 16384),
                 seeds=2, noise_every=3, noise_batches=8),
}
SETTINGS["gpu"] = SETTINGS["full"]   # it fits short jobs as declared: only the order of its chunks is new


def config_for(base, batch, rule="linear", warmup="gradual", seed=0):
    """The run at `batch` with LR rule `rule` and warmup `warmup` (no warmup at or below the
    reference batch, where the scaled LR is not above the base LR)."""
    k = batch / REFERENCE_BATCH
    lr = REFERENCE_LR * RULES[rule](k)
    args = {"milestones": MILESTONES}
    if lr > REFERENCE_LR and warmup != "none":
        args.update(warmup=WARMUP_FRACTION, start_ratio=REFERENCE_LR / lr,
                    warmup_shape="linear" if warmup == "gradual" else "constant")
    return base.replace(batch_size=batch, lr=lr, schedule_args=args, seed=seed,
                        micro_batch=BN_BATCH if batch > BN_BATCH else None)


def describe(config):
    """(rule, warmup) of a run's config dict: what the chapter's tables group by."""
    k = config["batch_size"] / REFERENCE_BATCH
    multiplier = config["lr"] / REFERENCE_LR
    rule = next((name for name, f in RULES.items() if math.isclose(multiplier, f(k))), "other")
    args = config["schedule_args"]
    warmup = ("none" if not args.get("warmup") else
              "gradual" if args.get("warmup_shape", "linear") == "linear" else "constant")
    return rule, warmup


def base_config(profile):
    """The configuration every run of the profile starts from: the paper's optimiser, regularisation and
    augmentation (the batch, rate and warmup are `config_for`'s)."""
    s = SETTINGS[profile]
    return RunConfig(task="cifar10", model=s["model"], optimizer="sgd", momentum=0.9, nesterov=True,
                     weight_decay=1e-4, decay_norm_and_bias=False, zero_init_residual=True,
                     augment="crop+flip", schedule="warmup_multistep", epochs=s["epochs"],
                     train_per_class=s["per_class"], test_per_class=s["test_per_class"])


def parts(profile):
    s, base = SETTINGS[profile], base_config(profile)
    sweep = [config_for(base, b, seed=k) for b in s["batches"] for k in range(s["seeds"])]
    # the noise scale is measured during the reference run, as McCandlish et al. do at a small batch
    sweep = [c.replace(noise_scale_every=s["noise_every"], noise_scale_batches=s["noise_batches"])
             if c.batch_size == REFERENCE_BATCH else c for c in sweep]
    large = [b for b in s["batches"] if b >= s["warmup_from"]]
    return {
        "batch_sweep": sweep,
        "warmups": [c for c in sweep if c.batch_size in large and c.seed == 0]
                   + [config_for(base, b, warmup=w) for b in large for w in ("none", "constant")],
        "rules": [c for c in sweep if c.batch_size in s["largest"] and c.seed == 0]
                 + [config_for(base, b, rule=r) for b in s["largest"] for r in ("none", "sqrt")],
    }


PART_TITLES = {"batch_sweep": "the batch sweep", "warmups": "the warmups", "rules": "the rules"}
# the warmup figure and the rules table read the sweep's reference run and noise margin: one profile
SHOWN_TOGETHER = (("batch_sweep", "warmups", "rules"),)

# the gpu profile is `full`; only the order differs (the chapter prints this beside the results)
GPU_CHANGES = ("none from the full profile: seed 0 of every batch and the largest batches' warmups and rules "
               "run first, the second seed and the other warmups after",)


def chunks(profile):
    """Seed 0 of every batch with the warmups and rules at the largest batches first: the elbow, the
    warmup's effect and the rules' order all show in it; the second seed and the middle batches' warmups
    after."""
    p, largest = parts(profile), SETTINGS[profile]["largest"]
    first = [c for c in p["batch_sweep"] if c.seed == 0] + [
        c for c in p["warmups"] + p["rules"] if c.batch_size in largest]
    return [Chunk("elbow_and_rules", 1, "the batch where the linear rule stops holding; gradual warmup against "
                  "none and constant, and linear against square-root and no scaling, at the largest batches", first),
            Chunk("seeds_and_warmups", 2, "the sweep's second seed (its noise) and the three warmups at every "
                  "large batch", p["batch_sweep"] + p["warmups"])]


def runs(profile):
    return union_of_chunks(chunks(profile))


# -- analysis: what the chapter reads off its records (each rule tested in tests/test_linear_scaling.py)
# (pandas is imported inside the functions that build frames: a sweep imports this module for its
# declarations and must run where only torch and numpy are installed)

PAPER_8K = {"linear": "23.74", "sqrt": "26.22", "none": "41.67"}   # Goyal et al. Table 2a, top-1 error at 8k
PAPER_8K_STEPS = 90 * 1_281_167 // 8192                               # 90 epochs of ImageNet's training set at 8k
# Goyal et al. Fig. 3 legends (ImageNet top-1 error, 5 runs, mean ± SD); reference batch 256
PAPER_FIG_3 = {128: (23.49, 0.12), 256: (23.60, 0.12), 512: (23.48, 0.09), 1024: (23.53, 0.08),
               2048: (23.49, 0.11), 4096: (23.56, 0.12), 8192: (23.74, 0.09), 16384: (24.79, 0.27),
               32768: (27.55, 0.28), 65536: (33.96, 0.80)}
HEADLINES = (PaperClaim("linear_rule", "with the LR scaled linearly and a gradual warmup, the error of batch 256 holds up "
                        "to batch 8k: ResNet-50 on ImageNet",
                        f"{PAPER_FIG_3[256][0]:.2f} ± {PAPER_FIG_3[256][1]:.2f}% at 256, {PAPER_FIG_3[8192][0]:.2f} ± "
                        f"{PAPER_FIG_3[8192][1]:.2f}% at 8k, {PAPER_FIG_3[16384][0]:.2f} ± {PAPER_FIG_3[16384][1]:.2f}% "
                        "at 16k", "Goyal et al., Table 1 and Fig. 3"),)
RULE_NAMES = {"linear": "linear, gradual warmup", "sqrt": "square root, gradual warmup", "none": "none (LR 0.1)"}


def final_epochs(epochs, of_90=5):
    """How many final epochs the error is the median over: the paper's final 5 of 90, in proportion
    (`of_90` of the paper's 90 epochs, in proportion; at least one, at most all `epochs`)."""
    return min(epochs, max(1, round(epochs * of_90 / 90)))


def final_error(record, n_final):
    """Test error in %, the median over the final `n_final` epochs; NaN for a diverged run."""
    if record["status"] != "completed":
        return np.nan
    return 100 * (1 - float(np.median([h["test_acc"] for h in record["history"][-n_final:]])))


def run_rows(records, n_final):
    """One row per run: batch, LR, seed, rule, warmup, error (%), diverged, id, steps."""
    import pandas as pd
    rows = []
    for record in records:
        c = record["config"]
        rule, warmup = describe(c)
        rows.append(dict(batch=c["batch_size"], lr=c["lr"], seed=c["seed"], rule=rule, warmup=warmup,
                         error=final_error(record, n_final), diverged=record["status"] == "diverged",
                         id=record["id"], steps=record["final"]["steps"]))
    return pd.DataFrame(rows)


def by_batch(sweep):
    """Per batch of the sweep: mean error and SD over seeds, finished seeds, seeds, its LR, diverged seeds."""
    return sweep.groupby("batch").agg(mean=("error", "mean"), sd=("error", "std"), n=("error", "count"),
                                      seeds=("seed", "count"), lr=("lr", "first"),
                                      diverged=("diverged", "sum")).reset_index()


@dataclass(frozen=True)
class Break:
    """Where the linear rule stops holding: the first batch above the reference whose mean error exceeds
    the reference's by more than twice (`sds` times) the seed SD pooled over batches, or that has a
    diverged seed. With one seed per batch the margin is unknown (NaN) and only divergence breaks.

    A break is read only off a flat stretch: `flat` is False when a batch below the reference beats it
    by more than the margin, i.e. the error already rises from the smallest batch on (a step-limited
    regime, where the linear rule cannot be told from plain too-few-steps); None with one seed."""
    reference: float          # mean error at REFERENCE_BATCH, %
    pooled_sd: float          # NaN with one seed per batch
    batch: object             # the first batch that climbs, or None
    largest_ok: int           # the largest batch from the reference up that holds its error
    flat: object = None       # True / False / None (unknown: one seed)
    sds: float = MARGIN_SDS   # the margin, in pooled seed SDs
    ahead: object = None      # without a flat stretch: the batch below the reference with the lowest error

    @property
    def threshold(self):
        return self.sds * self.pooled_sd

    @property
    def one_seed(self):
        return bool(np.isnan(self.pooled_sd))

    @property
    def margin(self):
        return ("the noise margin (not measured yet: one seed)" if self.one_seed
                else f"the {self.threshold:.1f}-point noise margin")


def find_break(batches, sds=MARGIN_SDS):
    """The break rule on the `by_batch` frame, with a margin of `sds` pooled seed SDs (the book: MARGIN_SDS)."""
    pooled_sd = float(np.sqrt(batches.sd.pow(2).where(batches.n > 1).mean()))
    reference = float(batches.set_index("batch").loc[REFERENCE_BATCH, "mean"])
    above = batches[(batches.batch > REFERENCE_BATCH)
                    & ((batches["mean"] > reference + sds * pooled_sd) | (batches.diverged > 0) | batches["mean"].isna())]
    first = int(above.batch.min()) if len(above) else None
    works = batches[(batches.batch >= REFERENCE_BATCH) & ((batches.batch < first) if first else True)]
    below = batches[batches.batch < REFERENCE_BATCH]["mean"].dropna()
    flat = None if np.isnan(pooled_sd) else bool(not (below < reference - sds * pooled_sd).any())
    ahead = int(batches.loc[below.idxmin(), "batch"]) if flat is False else None
    return Break(reference, pooled_sd, first, int(works.batch.max()), flat, sds, ahead)


def margin_words(rule):
    return ("not measured yet: one seed per batch so far, the second is a pending GPU chunk" if rule.one_seed
            else f"{rule.pooled_sd:.2f} points, so a margin of {rule.threshold:.1f}")


def break_verdict(batches, rule):
    """Fig. 1's verdict: where the error climbs, the largest batch that holds, what the batches below give."""
    at = batches.set_index("batch")["mean"]
    if rule.one_seed:
        text = (f"With one seed per batch there is no margin yet: no batch is called broken from its error, only a "
                f"diverged one{f' (the first at {rule.batch:,})' if rule.batch else ''}. The errors run from "
                f"{batches['mean'].min():.1f}% to {batches['mean'].max():.1f}%; the verdict waits for the second seed.")
    elif rule.flat is False:
        best = batches.loc[batches["mean"].idxmin()]
        text = (f"**Inconclusive at this scale**: there is no flat stretch to break from. Batch {int(best.batch):,} "
                f"already beats the reference by {rule.reference - best['mean']:.1f} points, more than the "
                f"{rule.threshold:.1f}-point margin, so the error rises from the smallest batch on: training is "
                "limited by its number of steps, and a climb above the reference cannot be told from that. "
                + (f"(By the margin alone the error would climb at batch {rule.batch:,}.)" if rule.batch else ""))
    elif rule.batch:
        text = (f"By that test the error starts to climb at batch {rule.batch:,} (learning rate "
                f"{REFERENCE_LR * rule.batch / REFERENCE_BATCH:g}): {at[rule.batch]:.1f}% against "
                f"{rule.reference:.1f}% at batch {REFERENCE_BATCH}. "
                + (f"The largest batch that holds the reference error is {rule.largest_ok:,}, "
                   f"{rule.largest_ok // REFERENCE_BATCH} times the reference batch"
                   if rule.largest_ok > REFERENCE_BATCH else
                   "No batch above the reference holds its error: the first doubling already costs more than the noise")
                + "; the paper's flat stretch reached 8k, 32 times its 256.")
    else:
        text = f"By that test the error never climbs: every batch up to {rule.largest_ok:,} holds the reference error."
    small = batches[batches.batch < REFERENCE_BATCH]
    if not small.empty:
        text += (f" Below the reference, batch{'es' if len(small) > 1 else ''} {', '.join(f'{b:,}' for b in small.batch)} "
                 f"give{'' if len(small) > 1 else 's'} {', '.join(f'{m:.1f}%' for m in small['mean'])}.")
    return text


def steps_note(sweep, at_gpu_scale):
    """How few steps the runs take, against the paper's 8k run: the rule's assumption weakens with fewer."""
    steps = sweep.groupby("batch").steps.max()   # a diverged seed stops early; the other has them all
    warmup = fraction_words(WARMUP_FRACTION, article="")
    return (f"In steps, every run here is short: {steps[REFERENCE_BATCH]:,} at batch {REFERENCE_BATCH} and "
            f"{steps.iloc[-1]:,} at batch {steps.index[-1]:,}, the first {warmup} of them warmup; the paper's 8k run "
            f"took {PAPER_8K_STEPS:,} (90 epochs of 1,281,167 images). The rule rests on one step of batch kn "
            "matching k steps of batch n, which needs the gradient to change little over those k steps (the "
            "paper's §2.1); the fewer steps a run has, the more of training each one covers, and the weaker that "
            "assumption gets."
            + ("" if at_gpu_scale else " Whether the curve flattens with more steps is for the GPU runs to show."))


def warmup_batch(warm, rule):
    """The batch Fig. 2 shows: the largest with all three warmups that holds the reference error, else
    the smallest of them; and the sentence that says why. (The gradual warmup is also the batch sweep's own
    schedule, so its runs reach below the batches the other two run at.)"""
    batches = sorted(with_all_warmups(warm).batch.unique())
    batch = max([b for b in batches if b <= rule.largest_ok], default=batches[0])
    why = (f"Batch {batch:,} is the largest batch that holds the reference error among those with all three "
           f"warmups (they run at every batch from {batches[0]:,} up)." if batch <= rule.largest_ok else
           f"No batch with all three warmups (they run at every batch from {batches[0]:,} up) holds the "
           f"reference error here, so the figure shows the smallest of them, {batch:,}, where the paper shows "
           "a batch on its flat stretch.")
    return batch, why


def with_all_warmups(warm):
    """The warmup runs (`run_rows`) at the batches that have all three warmups: the gradual one is also the
    batch sweep's own schedule, so where the other two are pending it runs alone and compares with nothing."""
    kinds = warm.groupby("batch").warmup.transform("nunique")
    return warm[kinds == len(WARMUPS)]


def warmup_table(warm):
    """(error per batch x warmup, diverged per batch x warmup, the table as shown: a "batch (LR)"
    column, then one per warmup, "diverged" in its cells), over the batches with all three warmups."""
    warm = with_all_warmups(warm)
    # a warmup whose every run diverged has no error: keep its column (pivot_table drops all-NaN ones)
    table = warm.pivot_table(index="batch", columns="warmup", values="error", aggfunc="first",
                             dropna=False).reindex(columns=list(WARMUPS))
    diverged = warm.pivot_table(index="batch", columns="warmup", values="diverged", aggfunc="first")
    shown = table.map(lambda v: f"{v:.2f}")
    shown[diverged[list(WARMUPS)].astype(bool)] = "diverged"
    shown.columns = [{"none": "no warmup", "constant": "constant warmup", "gradual": "gradual warmup"}[w]
                     for w in WARMUPS]
    shown.insert(0, "batch (LR)", [f"{b:,} ({REFERENCE_LR * b / REFERENCE_BATCH:g})" for b in table.index])
    return table, diverged, shown.reset_index(drop=True)


PAPER_WARMUP_STEPS = round(PAPER_8K_STEPS * 5 / 90)   # the paper's 5 warmup epochs of 90 at 8k


def diverged_words(sweep):
    """The Fig. 1 redrawing's caption on diverged runs: where their crosses are, or that there are none."""
    n = int(sweep.diverged.sum())
    if not n:
        return "no run diverged"
    batches = listed(f"{b:,}" for b in sorted(sweep[sweep.diverged].batch.unique()))
    return f"red crosses, above the curve: the {n} diverged run{'s' if n > 1 else ''} (batch {batches})"


def fig1_lines_words(batches, sweep, rule):
    """The Fig. 1 redrawing's caption on what it draws (`by_batch`, `run_rows` and `find_break` of the sweep):
    with one seed per batch so far, no band and no margin line, and it says so."""
    if rule.one_seed:
        return (f"Line: one seed at each batch so far (the band of seed standard deviations and the noise margin "
                f"need a second); {diverged_words(sweep)}. Dashed: the error at batch {REFERENCE_BATCH}.")
    return (f"Line: mean over {int(batches.seeds.min())} seeds at each batch; dots: single seeds (hidden under the "
            f"mean where the seeds agree); band: ± {FIG1_BAND_SDS:g} standard deviations, the paper's band; "
            f"{diverged_words(sweep)}. Dashed: the error at batch {REFERENCE_BATCH}; dotted: that plus "
            f"{times_words(rule.sds)} the pooled seed standard deviation.")


def warmup_span_words(run, epochs):
    """The warmup's span in the Fig. 2 redrawing's caption: how many epochs it lasts and how many of the
    run's per-epoch points fall inside it (a record keeps one point per epoch, so a short warmup holds few)."""
    span = WARMUP_FRACTION * epochs
    inside = sum(h["epoch"] <= span for h in run["history"])
    said = f"the shaded span is the warmup, the first {span:.3g} epochs"
    if inside > 2:
        return said
    return (said + f", which hold{'s' if inside == 1 else ''} {['none', 'one', 'two'][inside]} of the per-epoch "
            f"points: the figure shows where each warmup leaves the run, not the warmup itself")

def warmup_steps_words(warm):
    """How many steps the warmup lasts at each warmup batch, against the paper's at 8k."""
    steps = warm.groupby("batch").steps.max()
    return (f"The warmup is the first {WARMUP_FRACTION:.0%} of each run (the paper's 5 of 90 epochs are 5.6%): "
            f"{listed(f'{round(WARMUP_FRACTION * s):,}' for s in steps)} steps at batches "
            f"{listed(f'{b:,}' for b in steps.index)}, against the paper's {PAPER_WARMUP_STEPS:,} at 8k.")


def divergence_claim(warm):
    """The seed articles' "without warmup the large-batch run diverges in the first iterations",
    read off the warmup runs: contradicted when no run without warmup diverged at any batch, confirmed
    when one diverged where gradual warmup did not."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    rule = "a run with no warmup at a scaled rate diverges, where the same batch with gradual warmup does not"
    cold = warm[warm.warmup == "none"]
    warm_ok = set(warm[(warm.warmup == "gradual") & ~warm.diverged].batch)
    compared = cold[cold.batch.isin(warm_ok)]          # where gradual warmup trains, the test of the claim
    broke = sorted(compared[compared.diverged].batch)
    # where gradual warmup diverged too, the rate itself is too large: those batches test nothing
    both = sorted(set(cold[cold.diverged].batch) - warm_ok)
    also = (f" At batch{'es' if len(both) > 1 else ''} {listed(f'{b:,}' for b in both)} the runs diverged with "
            "gradual warmup too: the rate itself is too large there, so those batches do not test the claim."
            if both else "")
    number = f"{int(cold.diverged.sum())} of {len(cold)} runs without warmup diverged"
    if broke:
        return Verdict(CONFIRMED, f"Without warmup the run diverges at batch {broke[0]:,}, where gradual warmup "
                       "trains.", rule, f"diverges at batch {broke[0]:,}")
    if not len(compared):
        return Verdict(NOT_RESOLVED, "No batch has a run without warmup beside a gradual warmup that trained, so "
                       "nothing here tests the claim." + also, rule, number)
    top = int(compared.batch.max())
    return Verdict(CONTRADICTED, f"No run without warmup diverged where gradual warmup trains, up to batch {top:,} "
                   f"at learning rate {REFERENCE_LR * top / REFERENCE_BATCH:g}: the claim that without warmup the "
                   "large-batch run diverges in its first iterations does not hold at this scale. BatchNorm, and the "
                   "zero-initialised last BatchNorm scale of each residual block, are a likely reason (not tested "
                   "here)." + also, rule, number)


def warmup_verdict(table, diverged, rule):
    """How often gradual warmup beats none and constant by more than the noise margin, the best warmup
    per batch, and the diverged runs each warmup had."""
    gap, const_gap = table["none"] - table["gradual"], table["constant"] - table["gradual"]

    def clear(d):
        return int((d > rule.threshold).sum())
    trained = [b for b in table.index if table.loc[b].notna().any()]
    if gap.notna().any() and const_gap.notna().any():
        said = (f"Gradual warmup beats no warmup by more than {rule.margin} at {clear(gap)} of {len(gap)} batch sizes "
                f"(largest gap {np.nanmax(gap):+.1f} points, at {int(gap.idxmax()):,}) and beats constant warmup by "
                f"that margin at {clear(const_gap)} of {len(const_gap)} (largest gap {np.nanmax(const_gap):+.1f}). ")
    else:   # a gap needs both of its runs trained
        said = (f"No batch size has gradual warmup and both others trained, so no gap between warmups is measured "
                f"(batch sizes {listed(f'{b:,}' for b in table.index)}). ")
    if trained:
        said += "Lowest error per batch: " + ", ".join(
            f"{'no warmup' if table.loc[b].idxmin() == 'none' else table.loc[b].idxmin()} at {b:,}"
            for b in trained) + ". "
    return (said + f"Diverged runs count as losses: {int(diverged['none'].sum())} without warmup, "
            f"{int(diverged['constant'].sum())} with constant warmup, {int(diverged['gradual'].sum())} "
            "with gradual warmup.")


def epoch_images_words(images, batches):
    """Whether every batch of the sweep gets the same budget in images: an epoch drops its last incomplete
    batch, so it takes images // batch * batch of them. A sentence."""
    taken = [images // b * b for b in batches]
    if min(taken) == max(taken):
        return (f"Every batch takes the same {taken[0]:,} images per epoch (an epoch drops its last incomplete "
                "batch), so every batch gets the same budget.")
    return (f"An epoch drops its last incomplete batch, so the batches take from {min(taken):,} to {max(taken):,} "
            f"images per epoch: their budgets differ by at most {(max(taken) - min(taken)) / max(taken):.1%}.")


def rules_table(rules, largest):
    """Table 2a beside ours: each rule's LR and error at the largest batches (seed 0)."""
    import pandas as pd
    rows = []
    for name in ("linear", "sqrt", "none"):
        entry = {"rule": RULE_NAMES[name], "paper, 8k (%)": PAPER_8K[name]}
        for b in largest:
            r = rules[(rules.batch == b) & (rules.rule == name)].iloc[0]
            entry[f"batch {b:,}: LR"] = f"{r.lr:.3g}"
            entry[f"batch {b:,}: error (%)"] = "diverged" if r.diverged else f"{r.error:.2f}"
        rows.append(entry)
    return pd.DataFrame(rows)


def rules_verdict(rules, largest, rule):
    """Which rule is best at each largest batch, and by how much against the noise margin."""
    short = {"linear": "linear", "sqrt": "square-root", "none": "no-scaling"}

    def at(b):
        e = rules[rules.batch == b].set_index("rule").error
        if e.notna().sum() < 2:   # a diverged run has no error to lead
            alone = [short[r] for r in e.index[e.notna()]]
            return (f"at {b:,} only the {alone[0]} rule trained, the others diverged" if alone else
                    f"at {b:,} every rule diverged")
        best = e.idxmin()
        lead = e.drop(best).min() - e[best]
        against = ("(no noise margin to read it against yet: one seed)" if rule.one_seed else
                   "(more than the noise margin)" if lead > rule.threshold else f"(within {rule.margin})")
        return f"at {b:,} the {short[best]} rule is best, {lead:.1f} points ahead of the next {against}"

    def error(b, name):
        return rules[(rules.batch == b) & (rules.rule == name)].error.iloc[0]

    def gap(b):
        lost = [short[name] for name in ("none", "linear") if not np.isfinite(error(b, name))]
        return (f"{error(b, 'none') - error(b, 'linear'):+.1f} points at {b:,}" if not lost else
                f"not measured at {b:,} (the {' and '.join(lost)} run diverged)")
    text = "; ".join(at(b) for b in largest)
    gaps = [error(b, "none") - error(b, "linear") for b in largest]
    gaps = (f"{listed([f'{g:+.1f}' for g in gaps])} points (at {listed([f'{b:,}' for b in largest])})"
            if np.isfinite(gaps).all() else listed([gap(b) for b in largest]))
    paper = {name: float(PAPER_8K[name]) - float(PAPER_8K["linear"]) for name in ("sqrt", "none")}
    return (text[0].upper() + text[1:] + f". No scaling's error against the linear rule's: {gaps}; the paper's "
            f"order at 8k is linear, then square root ({paper['sqrt']:+.1f}), then none ({paper['none']:+.1f}).")


def noise_summary(noise, first_decay, rule):
    """The simple noise scale's estimates (the `Chapter.noise_scale` frame) before and after the first
    LR decay, against where our curve climbs (or the largest batch that holds)."""
    trained = noise[noise.epoch > 0].b_simple.dropna()
    early = noise[noise.epoch <= first_decay].b_simple.dropna()
    late = noise[noise.epoch > first_decay].b_simple.dropna()
    where = rule.batch or rule.largest_ok

    def relation(value):
        return "above" if where > value else "below"
    verdict = ((f"Before the first decay (epoch {first_decay:.1f}) the median of the {len(early)} estimates is "
                f"{early.median():,.0f}; after it, {late.median():,.0f} ({len(late)} estimates). "
                + ("Our curve has no flat stretch to break from (above), so no batch of ours is set beside them."
                   if rule.flat is False else
                   (f"Our curve starts to climb at batch {rule.batch:,}, " if rule.batch else
                    f"Our curve never climbs up to batch {rule.largest_ok:,}, ")
                   + f"{relation(early.median())} the early noise scale and {relation(late.median())} the late one."))
               if len(early) and len(late) else
               "Too few noise-scale estimates survived (each needs a positive |G|² estimate).")
    return dict(noise_lo=float(trained.min()), noise_hi=float(trained.max()),
                noise_big=int(noise.big_batch.iloc[0]), noise_groups=int(noise.big_batches.iloc[0]),
                noise_small=int(noise.micro_batch.fillna(noise.batch_size).iloc[0]),
                noise_per_big=int(noise.big_batch.iloc[0] // noise.micro_batch.fillna(noise.batch_size).iloc[0]),
                first_decay=float(first_decay)), verdict


def noise_ends_words(noise):
    """B_simple at initialisation and at the end of training (the seeds' median), in a sentence. Late in training
    the estimate of |G|² can come out negative (the true gradient small beside the noise), and B_simple is then
    undefined: the sentence says so and gives the nearest measurement that has one."""
    median = noise.groupby("epoch").b_simple.median()   # a seed without an estimate leaves the other's
    finite = median.dropna()
    if finite.empty:
        return "No measurement gave a positive |G|² estimate, so B_simple is undefined throughout."
    start = (f"At initialisation B_simple is {finite.iloc[0]:,.0f}" if finite.index[0] == median.index[0] else
             f"At initialisation B_simple is undefined (the estimate of |G|² came out negative); at epoch "
             f"{finite.index[0]:g}, its first measurement with one, it is {finite.iloc[0]:,.0f}")
    end = (f"at the end of training, {finite.iloc[-1]:,.0f}." if finite.index[-1] == median.index[-1] else
           f"at the end of training it is undefined, and at epoch {finite.index[-1]:g}, the last measurement with a "
           f"positive |G|² estimate, {finite.iloc[-1]:,.0f}.")
    lost = int(noise.b_simple.isna().sum())
    return f"{start}; {end}" + (f" {lost} of the {len(noise)} estimates are undefined: their |G|² came out negative, "
                                "as it does when the true gradient is small beside the noise." if lost else "")


def noise_beside(rule):
    """What the noise-scale figure sets beside the estimates, for its caption (the caption follows it with
    the figure's number): the batches where the redrawn Fig. 1 holds and climbs, or why there are none."""
    if rule.flat is False:
        return "No batch sizes are drawn beside it: there is no flat stretch to read them from in our redrawing of Fig. 1"
    return ("Beside it, the largest batch that holds" + (" and the first that climbs" if rule.batch else "")
            + " in our redrawing of Fig. 1")

def noise_growth(noise, decays):
    """How the seeds' median noise scale changes from one measurement to the next, in words: the steps
    that straddle a decay of the rate (at the epochs `decays`) apart from those that do not."""
    median = noise.dropna(subset=["b_simple"]).groupby("epoch").b_simple.median().sort_index()
    if len(median) < 2:
        return "Too few noise-scale estimates to follow it through training."
    across, between = [], []
    for (a, lo), (b, hi) in zip(median.iloc[:-1].items(), median.iloc[1:].items()):
        step = f"x{hi / lo:.2g} (epochs {a:g} to {b:g})"
        (across if any(a < d <= b for d in decays) else between).append(step)
    seeds = sorted(noise.dropna(subset=["b_simple"]).seed.unique())
    whose = f"The {number_word(len(seeds))} seeds' median" if len(seeds) > 1 else f"Seed {seeds[0]}'s estimate"
    said = f"{whose} goes from {median.iloc[0]:,.0f} at the first measurement to {median.iloc[-1]:,.0f} at the last."
    if across:
        said += f" Across {'a decay' if len(across) == 1 else 'each decay'} of the rate it changes {listed(across)}"
        said += f"; between measurements with no decay between them, {listed(between)}." if between else "."
    return said

def seed_spread(noise):
    """How far apart the seeds' noise-scale estimates are: per measurement (epoch), the largest over
    the smallest estimate; dict(seed_ratio_max, seed_ratio_epoch (where it is largest), seed_ratio_final)."""
    ratio = noise.dropna(subset=["b_simple"]).groupby("epoch").b_simple.agg(lambda b: b.max() / b.min())
    ratio = ratio[noise.dropna(subset=["b_simple"]).groupby("epoch").seed.nunique() > 1]
    if not len(ratio):
        nan = float("nan")
        return dict(seed_ratio_max=nan, seed_ratio_epoch=nan, seed_ratio_final=nan)
    return dict(seed_ratio_max=float(ratio.max()), seed_ratio_epoch=float(ratio.idxmax()),
                seed_ratio_final=float(ratio.iloc[-1]))


def seed_spread_words(noise):
    """How far the seeds' noise-scale estimates differ (`seed_spread`), in a sentence; with one seed so far, that
    it is not measured yet."""
    spread = seed_spread(noise)
    if not np.isfinite(spread["seed_ratio_max"]):
        return "How far two seeds' estimates differ is not measured yet: one seed so far."
    return (f"The estimates are noisy: the seeds' estimates differ by a factor of up to {spread['seed_ratio_max']:.1f} "
            f"(at epoch {spread['seed_ratio_epoch']:.1f}) and by {spread['seed_ratio_final']:.1f} at the end of "
            "training.")


def held_word(batch, rule):
    """Whether the linear rule held one batch's error (a row of `by_batch`) at the reference's, by the
    break rule (`Break`): within its noise margin, confirmed; above it or diverged, contradicted; not
    resolved with one seed or off a flat stretch; NO_RULE for the reference itself."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NO_RULE, NOT_RESOLVED
    if batch.batch == REFERENCE_BATCH:
        return NO_RULE
    if rule.one_seed or rule.flat is False:
        return NOT_RESOLVED
    if np.isnan(batch["mean"]) or batch.diverged:
        return CONTRADICTED
    return CONFIRMED if batch["mean"] - rule.reference <= rule.threshold else CONTRADICTED


def versus(batches, rule):
    """Fig. 3's errors beside ours, batch sizes paired by k, the factor over each side's reference, and
    whether the rule held our error (`held_word`)."""
    import pandas as pd
    lines = []
    for _, b in batches.iterrows():
        k = b.batch / REFERENCE_BATCH
        paper_batch = int(256 * k)
        p = PAPER_FIG_3.get(paper_batch)
        ours = "diverged" if np.isnan(b["mean"]) else (f"{b['mean']:.2f} ± {b.sd:.2f}" if b.n > 1 else f"{b['mean']:.2f}")
        lines.append({"k (batch / reference)": f"{k:g}",
                      "paper batch": f"{paper_batch:,}",
                      "paper error (%)": f"{p[0]:.2f} ± {p[1]:.2f}" if p else "not printed",
                      "paper change": f"{p[0] - 23.60:+.2f}" if p else "",
                      "our batch": f"{int(b.batch):,}", "our error (%)": ours,
                      "our change": "" if np.isnan(b["mean"]) else f"{b['mean'] - rule.reference:+.2f}",
                      "verdict": held_word(b, rule)})
    return pd.DataFrame(lines)


def versus_of(chapter):
    """`versus` read from a chapter: its batch sweep at the sweep's profile."""
    n_final = final_epochs(SETTINGS[chapter.profile_of("batch_sweep")]["epochs"])
    batches = by_batch(run_rows(chapter["batch_sweep"], n_final))
    return versus(batches, find_break(batches))


# -- the seed articles' claims this chapter answers (the claims scorecard reads `verdicts`)

def rule_holds_verdict(rule):
    """"Scale the LR with the batch": confirmed when the error holds the reference's beyond the first
    doubling, contradicted when the first doubling already breaks; not resolved with one seed or without
    a flat stretch (`Break.flat`)."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    text = "the error holds the reference batch's (within the noise margin) beyond its first doubling"
    if rule.one_seed or rule.flat is False:
        why = "one seed per batch" if rule.one_seed else "no flat stretch: training is step-limited"
        if rule.flat is False and rule.ahead:
            why = (f"no flat stretch: batch {rule.ahead:,} already beats the reference batch {REFERENCE_BATCH} by more "
                   f"than the {rule.threshold:.1f}-point margin, so training is step-limited")
        return Verdict(NOT_RESOLVED, f"Not resolved at this scale: {why}.", text, why)
    holds = rule.largest_ok > REFERENCE_BATCH
    return Verdict(CONFIRMED if holds else CONTRADICTED, f"The linear rule holds the reference error up to batch "
                   f"{rule.largest_ok:,}." if holds else "The first doubling of the batch already costs more than the "
                   "noise margin.", text, f"holds up to batch {rule.largest_ok:,}")


def holds_number(batches, rule):
    """The linear rule's headline in errors with their seed spread, as the paper's Fig. 3 gives them: the
    reference batch's, then the largest batch that holds it and the first that climbs; without a flat
    stretch, the smaller batch that beats the reference instead (a `by_batch` frame and its `Break`)."""
    rows = batches.set_index("batch")

    def at(batch):
        row = rows.loc[batch]
        return (f"diverged at {batch:,}" if np.isnan(row["mean"]) else
                f"{plus_minus(row['mean'], row['sd'], '%')} at {batch:,}")
    reference = at(REFERENCE_BATCH)
    if rule.one_seed:
        return f"test error {reference}; one seed per batch, so no margin"
    fewest, most = int(rows.n.min()), int(rows.n.max())
    margin = f"margin {rule.threshold:.1f} points, {fewest if fewest == most else f'{fewest}-{most}'} seeds a batch"
    if rule.flat is False:
        best = int(rows["mean"].idxmin())
        return f"no flat stretch: test error {at(best)} against {reference} ({margin})"
    said = [f"test error {reference}"] + ([f"{at(rule.largest_ok)} holds"] if rule.largest_ok > REFERENCE_BATCH else [])
    said += [f"{at(rule.batch)} climbs"] if rule.batch else []
    return f"{', '.join(said)} ({margin})"


def rule_breaks_verdict(rule):
    """"The rule breaks at very large batches": confirmed when the error climbs within the sweep (read off a
    flat stretch); not resolved otherwise (the sweep may stop short of the break)."""
    from lrlab.verdict import CONFIRMED, NOT_RESOLVED, Verdict
    text = "the error climbs above the reference's by more than the noise margin within the sweep"
    base = rule_holds_verdict(rule)
    if base.word == NOT_RESOLVED:
        return replace(base, rule=text)
    if rule.batch:
        return Verdict(CONFIRMED, f"The error climbs from batch {rule.batch:,} on.", text, f"breaks at {rule.batch:,}")
    return Verdict(NOT_RESOLVED, f"No break up to batch {rule.largest_ok:,}.", text, f"no break up to {rule.largest_ok:,}")


def sqrt_stability_verdict(rules, largest):
    """"The square-root rule is more stable": diverged runs of the square-root and linear rules at the
    largest batches. Confirmed when the square root diverges less, contradicted when more, not resolved
    when they tie (stability is then not discriminated)."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    top = rules[rules.batch.isin(largest)]
    n = {name: int(top[top.rule == name].diverged.sum()) for name in ("sqrt", "linear")}
    word = CONFIRMED if n["sqrt"] < n["linear"] else CONTRADICTED if n["sqrt"] > n["linear"] else NOT_RESOLVED
    def gap(b):
        errors = top[top.batch == b].set_index("rule").error
        return errors["sqrt"] - errors["linear"]   # NaN where either run diverged
    gaps = [gap(b) for b in largest]
    compared = [f"{g:+.1f}" for g in gaps if np.isfinite(g)]
    if len(compared) == len(gaps):
        short = f"error {', '.join(compared)} points"
        said = f"the square root's error against linear: {', '.join(compared)} points"
    elif compared:
        said = (f"the square root's error against linear, where both trained: "
                f"{listed(f'{g:+.1f} points at {b:,}' for g, b in zip(gaps, largest) if np.isfinite(g))}")
        short = f"error {', '.join(compared)} points where both trained"
    else:
        said, short = "no batch has both trained, so no error is compared", "no error compared"
    return Verdict(word, f"Diverged runs at batches {', '.join(f'{b:,}' for b in largest)}: {n['sqrt']} with the square "
                   f"root, {n['linear']} with the linear rule; {said}.",
                   "fewer diverged runs with the square-root rule than the linear one at the largest batches",
                   f"diverged {n['sqrt']} vs {n['linear']}; {short}")


def noise_growth_verdict(noise):
    """"The noise scale grows as a model trains": the median estimate at the last measurement over the
    first after initialisation, against the seeds' own spread (`seed_spread`: the largest ratio between
    two seeds' estimates at one measurement). Confirmed when it grows by more than that spread,
    contradicted when it shrinks by more, not resolved between or with one seed."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    est = noise.dropna(subset=["b_simple"])
    per_epoch = est[est.epoch > 0].groupby("epoch").b_simple.median()
    spread = seed_spread(noise)["seed_ratio_max"]
    rule = ("the median estimate grows from the first measurement after initialisation to the last by more than the "
            "seeds' largest spread")
    if len(per_epoch) < 2:
        return Verdict(NOT_RESOLVED, "Too few noise-scale estimates.", rule)
    growth = float(per_epoch.iloc[-1] / per_epoch.iloc[0])
    one_seed = not np.isfinite(spread)
    number = (f"{per_epoch.iloc[0]:,.0f} to {per_epoch.iloc[-1]:,.0f} ({growth:.0f}x; "
              + ("one seed)" if one_seed else f"seeds differ up to {spread:.1f}x)"))
    word = (NOT_RESOLVED if one_seed else CONFIRMED if growth > spread
            else CONTRADICTED if growth < 1 / spread else NOT_RESOLVED)
    against = ("with one seed so far, the seeds' spread it must exceed is not measured." if one_seed
               else f"two seeds' estimates differ by up to {spread:.1f} times.")
    end = ("at the end of training" if per_epoch.index[-1] == noise.epoch.max() else
           f"at epoch {per_epoch.index[-1]:.1f}, the last measurement with a positive |G|² estimate")
    return Verdict(word, f"The simple noise scale goes from {per_epoch.iloc[0]:,.0f} at the first measurement after "
                   f"initialisation (epoch {per_epoch.index[0]:.1f}) to {per_epoch.iloc[-1]:,.0f} {end}, "
                   f"{growth:.0f} times; {against}", rule, number)


def verdicts(chapter):
    """The seed claims this chapter answers, by name (the claims scorecard reads them)."""
    import pandas as pd
    from lrlab.verdict import at_profile
    S = SETTINGS[chapter.profile_of("batch_sweep")]
    n_final = final_epochs(S["epochs"])
    warm = run_rows(chapter["warmups"], n_final)
    rules = run_rows(chapter["rules"], n_final)
    noise = chapter.noise_scale("batch_sweep")
    noise["b_simple"] = pd.to_numeric(noise.b_simple, errors="coerce")
    batches = by_batch(run_rows(chapter["batch_sweep"], n_final))
    rule = find_break(batches)
    return at_profile({"linear_rule": replace(rule_holds_verdict(rule), number=holds_number(batches, rule)),
                       "rule_breaks": replace(rule_breaks_verdict(rule), number=holds_number(batches, rule)),
                       "warmup_divergence": divergence_claim(warm[warm.seed == 0]),
                       "sqrt_stable": sqrt_stability_verdict(rules[rules.seed == 0], S["largest"]),
                       "noise_grows": noise_growth_verdict(noise)}, chapter.profile_of("batch_sweep"))



# -- the chapter's exercises: the same rules, read with another knob (each tested in tests/test_linear_scaling.py)

def rates_at(batch, profile="full"):
    """What each rule of `RULES` gives a run at `batch` with `profile`'s budget, read off the schedule
    the training loop steps (`lr_curve` over `config_for`'s schedule, gradual warmup): (a frame with one
    row per rule: the LR multiplier, the peak LR, the warmup's steps, the LR at step 0, halfway through
    the warmup and at the last step; the run's steps). A batch larger than the training set has no step."""
    import pandas as pd
    from lrlab.experiments import train_images
    from lrlab.schedules import lr_curve
    s = SETTINGS[profile]
    steps = s["epochs"] * (train_images(s["per_class"]) // batch)
    base = RunConfig(task="cifar10", model=s["model"], schedule="warmup_multistep", epochs=s["epochs"])
    rows = []
    for name in RULES:
        c = config_for(base, batch, rule=name)
        warmup = round(c.schedule_args.get("warmup", 0) * steps)
        lrs = lr_curve("warmup_multistep", steps, lr=c.lr, **c.schedule_args)["lr"] if steps else [np.nan]
        rows.append({"rule": RULE_NAMES[name], "LR multiplier": RULES[name](batch / REFERENCE_BATCH),
                     "peak LR": c.lr, "warmup steps": warmup, "LR at step 0": lrs[0],
                     "LR halfway through the warmup": lrs[warmup // 2] if warmup else np.nan,
                     "LR at the last step": lrs[-1]})
    return pd.DataFrame(rows), steps


def margin_table(batches, rule):
    """Each batch's mean error (a `by_batch` frame) above the reference's, in points and in pooled seed
    SDs: the margin, in SDs, at which the break rule would call each batch held or broken."""
    import pandas as pd
    above = batches["mean"] - rule.reference
    table = pd.DataFrame({"batch": [f"{b:,}" for b in batches.batch], "error (%)": batches["mean"],
                          "above the reference (points)": above, "in pooled SDs": above / rule.pooled_sd})
    # with one seed there is no SD to count in: the column would be all blanks, read as diverged runs
    return table.drop(columns="in pooled SDs") if rule.one_seed else table


def margin_size_words(rule):
    """'a margin of 0.45 points' (the break rule's, `find_break`), or why there is none."""
    return "no margin: one seed per batch so far" if rule.one_seed else f"a margin of {rule.threshold:.2f} points"


def pooled_sd_words(rule):
    """The exercise's solution on the margin it asks for, in a sentence: that many pooled SDs of how many points."""
    if rule.one_seed:
        return ("With one seed per batch so far there is no pooled SD, so no margin: the table gives each batch's "
                "distance from the reference in points only.")
    return f"The margin is {rule.sds:g} times the pooled SD of {rule.pooled_sd:.2f} points."


def final_epochs_readings(records, epochs, sds=MARGIN_SDS):
    """The break rule read with the error as the median over each number of final epochs from 1 to
    `epochs`: the reference error, the pooled seed SD, the margin, how far the best batch below the
    reference beats it, the first batch that climbs, the largest that holds, and the word of the
    "linear scaling" claim (`rule_holds_verdict`)."""
    import pandas as pd
    rows = []
    for n in range(1, epochs + 1):
        batches = by_batch(run_rows(records, n))
        rule = find_break(batches, sds)
        below = batches[batches.batch < REFERENCE_BATCH]["mean"].dropna()
        rows.append({"final epochs": n, "reference error (%)": rule.reference, "pooled SD": rule.pooled_sd,
                     "margin": rule.threshold,
                     "best smaller batch's lead": rule.reference - below.min() if len(below) else np.nan,
                     "first batch that climbs": f"{rule.batch:,}" if rule.batch else "none",
                     "holds up to": f"{rule.largest_ok:,}", "linear scaling": rule_holds_verdict(rule).word})
    return pd.DataFrame(rows)


def error_words(batches):
    """'Mean test error over seeds: 65.9% at batch 32, 66.2% at 64, ...' (a `by_batch` frame)."""
    said = [f"{'diverged' if np.isnan(m) else f'{m:.1f}%'} at {'batch ' if i == 0 else ''}{int(b):,}"
            for i, (b, m) in enumerate(zip(batches.batch, batches["mean"]))]
    return f"Mean test error over seeds: {', '.join(said)}."


def word_spans(keys, words):
    """[(first key, last key, word)]: the runs of equal consecutive words, in order."""
    spans = []
    for key, word in zip(keys, words):
        if spans and spans[-1][2] == word:
            spans[-1] = (spans[-1][0], key, word)
        else:
            spans.append((key, key, word))
    return spans


def spans_words(spans, unit, fmt="{}"):
    """'**not resolved** from 0.00 to 2.07 pooled SDs; ...': `word_spans` or `words_by_margin` in words."""
    return "; ".join(f"**{word}** for {fmt.format(lo)} {unit}" if lo == hi else
                     f"**{word}** from {fmt.format(lo)} to {fmt.format(hi)} {unit}" for lo, hi, word in spans)


MARGIN_SPAN_TOP = 6.0   # the margin exercise reads the word over margins from 0 to this many pooled SDs


def words_by_margin(batches, top=MARGIN_SPAN_TOP):
    """How the "linear scaling" claim's word (`rule_holds_verdict`) changes with the break rule's margin,
    from 0 to `top` pooled seed SDs: [(from, to, word)]. It can change only where the margin equals a
    batch's distance from the reference (`margin_table`), so it is read once between each two such
    distances. Empty with one seed per batch (no margin)."""
    rule = find_break(batches)
    if rule.one_seed:
        return []
    distances = margin_table(batches, rule)["in pooled SDs"].abs().dropna()
    bounds = [0.0] + sorted({float(d) for d in distances if 0 < d < top}) + [top]
    spans = []
    for lo, hi in zip(bounds, bounds[1:]):
        word = rule_holds_verdict(find_break(batches, (lo + hi) / 2)).word
        if spans and spans[-1][2] == word:
            spans[-1] = (spans[-1][0], hi, word)
        else:
            spans.append((lo, hi, word))
    return spans


def lead_words(readings, n_book, n_asked=None):
    """How the best batch below the reference's lead changes from the book's window (`n_book` final
    epochs) to another (`n_asked` final epochs, the whole run when None), read off `final_epochs_readings`;
    "" where no batch is below the reference."""
    lead = readings.set_index("final epochs")["best smaller batch's lead"]
    n_asked = int(lead.index[-1]) if n_asked is None else n_asked
    book, whole = float(lead[n_book]), float(lead[n_asked])
    if np.isnan(book) or np.isnan(whole):
        return ""
    window = ("the whole run" if n_asked == lead.index[-1] else "the final epoch" if n_asked == 1 else
              f"the final {n_asked} epochs")
    how = ("the same lead, early and late" if round(whole, 2) == round(book, 2) else
           "in these runs the small batches pull ahead late, after the decays" if whole < book else
           "in these runs the small batches are ahead early, and the others close part of the gap after the decays")
    return (f"The best batch below {REFERENCE_BATCH} leads it by {book:.2f} points over the book's window and by "
            f"{whole:.2f} over {window}: {how}.")


# -- the protocol in words, from the constants above: the prose states them through these, so it follows the code

_ONE_PART = {2: ("half", "halves"), 3: ("third", "thirds"), 4: ("quarter", "quarters"), 5: ("fifth", "fifths"),
             6: ("sixth", "sixths"), 8: ("eighth", "eighths"), 9: ("ninth", "ninths"), 10: ("tenth", "tenths")}


def fraction_words(x, article="a"):
    """'a third', 'eight ninths': a fraction of training in words (`article` before a single part: "a", or ""
    after "the first"); a percentage where it is no simple fraction."""
    from fractions import Fraction
    f = Fraction(x).limit_denominator(12)
    if abs(float(f) - x) > 1e-9 or f.denominator not in _ONE_PART or f.numerator not in NUMBER_WORDS:
        return f"{x:.0%}"
    one, many = _ONE_PART[f.denominator]
    return f"{article} {one}".strip() if f.numerator == 1 else f"{number_word(f.numerator)} {many}"


def lr_decay():
    """The factor each milestone multiplies the LR by: `config_for` leaves the schedule's own gamma."""
    from lrlab.schedules import OPTIONS   # torch: only the pages that state it need it
    return OPTIONS["warmup_multistep"]["gamma"]


def protocol_words():
    """The schedule in words: {"milestones": 'a third, two thirds and eight ninths' (of training, MILESTONES),
    "warmup": 'the first sixth' (WARMUP_FRACTION), "last_decay": the sentence on the window the last decay leaves
    (after it the error is where training ends), "whole_run": which decays come after the run's midpoint}."""
    last, n, later = MILESTONES[-1], len(MILESTONES), sum(m > 1 / 2 for m in MILESTONES)
    before = ("after every decay" if not later else "before the decay" if n == 1 else
              f"before all {number_word(n)} decays" if later == n else
              f"before {number_word(later)} of the {number_word(n)} decays")
    return {"milestones": listed(fraction_words(m) for m in MILESTONES),
            "warmup": f"the first {fraction_words(WARMUP_FRACTION, article='')}",
            "last_decay": (f"Any window up to the last {fraction_words(1 - last, article='')} of training "
                           f"({(1 - last) * 90:g} of 90) does the same here, since the last decay is at "
                           f"{fraction_words(last)}."),
            "whole_run": f"The median over the whole run is the error halfway through training, {before}"}


_PART_OF = {0.1: "a tenth", 0.01: "a hundredth", 0.001: "a thousandth"}


def rates_worked(batch, profile="full"):
    """Exercise 3.1's answer, `rates_at(batch, profile)` worked through in words (no TeX: glued Markdown has no
    maths): {"rates": each rule's peak LR; "steps": the run's steps and the warmup's; "halfway": the LR halfway
    through the warmup; "last": the LR at the last step; "climb": what each warmup step adds}."""
    from lrlab.experiments import train_images
    table, steps = rates_at(batch, profile)
    at = table.set_index("rule")
    linear, sqrt = at.loc[RULE_NAMES["linear"]], at.loc[RULE_NAMES["sqrt"]]
    k, s, ref = batch / REFERENCE_BATCH, SETTINGS[profile], REFERENCE_LR
    images = train_images(s["per_class"])
    said = {"rates": (f"k = {batch:,}/{REFERENCE_BATCH} = {k:g}: the linear rule gives {ref:g} · {k:g} = "
                      f"{linear['peak LR']:.3g}, the square-root rule {ref:g} · √{k:g} = {sqrt['peak LR']:.3g}, "
                      f"no scaling {ref:g}.")}
    if not steps:
        return {**said, "steps": (f"An epoch is ⌊{images:,}/{batch:,}⌋ = 0 steps: the batch is larger than the "
                                  "training set, so the run takes no step at all."), "halfway": "", "last": "",
                "climb": "ours takes no step at this batch."}
    warmup = int(linear["warmup steps"])
    said["steps"] = (f"An epoch is ⌊{images:,}/{batch:,}⌋ = {images // batch:,} steps, so {s['epochs']} epochs are "
                     f"{steps:,} steps" + (f" and the warmup, {protocol_words()['warmup']}, is {warmup:,} of them."
                                           if warmup else "."))
    if linear["peak LR"] <= ref:
        said["halfway"] = f"At this batch no rule's rate is above {ref:g}, so none warms up."
        said["climb"] = f"ours has none at this batch, where the linear rule's rate is not above {ref:g}."
    elif not warmup:
        said["halfway"] = f"The warmup, {protocol_words()['warmup']} of {steps:,} steps, rounds to no step at all."
        said["climb"] = f"ours jumps from {ref:g} to {linear['peak LR']:.3g} at once, its warmup rounding to no step."
    else:
        t = warmup // 2
        said["halfway"] = (f"For the linear rule s = {ref:g}/{linear['peak LR']:.3g} and w = {warmup:,}, so at step "
                           f"t = {t:,} its rate is {ref:g} + ({linear['peak LR']:.3g} − {ref:g}) · {t:,}/{warmup:,} = "
                           f"{linear['LR halfway through the warmup']:.3g}"
                           + (f" (the square root's, {ref:g} + ({sqrt['peak LR']:.3g} − {ref:g}) · {t:,}/{warmup:,} = "
                              f"{sqrt['LR halfway through the warmup']:.3g})" if sqrt["peak LR"] > ref else "")
                           + f"; no scaling needs no warmup, since its rate is never above {ref:g}.")
        rise = linear["peak LR"] - ref
        said["climb"] = (f"ours climbs a factor of {linear['peak LR'] / ref:g} in {warmup:,} steps, each adding "
                         f"{rise:.3g}/{warmup:,} = {rise / warmup:.2g} to the rate.")
    ratio = float(linear["LR at the last step"] / linear["peak LR"])
    decays = sum(steps - 1 >= round(m * steps) for m in MILESTONES)
    part = next((words for value, words in _PART_OF.items() if math.isclose(ratio, value)), f"{ratio:.3g} times")
    said["last"] = ("No decay falls within the run: the last step runs at the peak." if not decays else
                    f"After {'the decay' if decays == 1 else f'the {number_word(decays)} decays'} the last "
                    f"step runs at {part} of the peak.")
    return said


# -- the margin and retraining exercises' answers, in words read off the records

CLOSE_MARGIN = 0.2   # a word that changes within this fraction of the book's margin hinges on where the line is drawn


def margin_convention_words(batches, rule, top=MARGIN_SPAN_TOP):
    """Whether the "linear scaling" word at the book's margin (`rule`: `find_break` on the `by_batch` frame
    `batches`) rests on the curve's shape or on where the margin is drawn: the shape against the margin, and the
    nearest margin at which the word changes (`words_by_margin`), within CLOSE_MARGIN of the book's or not."""
    if rule.one_seed:
        return "With one seed per batch there is no pooled SD yet, so no word can be read off a margin."
    means = batches.set_index("batch")["mean"].dropna()
    if rule.flat is False:
        rising = means.loc[:means.idxmax()]
        steadily = "steadily " if (rising.diff().dropna() > 0).all() else "(not at every batch) "
        shape = (f"the errors rise {steadily}from {rising.iloc[0]:.1f}% at batch {rising.index[0]:,} to "
                 f"{rising.iloc[-1]:.1f}% at batch {rising.index[-1]:,}, with no flat stretch at batch "
                 f"{REFERENCE_BATCH}")
        cause = "rather than on an elbow in the curve"
    elif rule.batch:
        shape = (f"the errors hold batch {REFERENCE_BATCH}'s within the margin up to batch {rule.largest_ok:,} and the "
                 f"curve breaks at batch {rule.batch:,}")
        cause = f"rather than on the elbow at batch {rule.batch:,}"
    else:
        shape = f"the errors hold batch {REFERENCE_BATCH}'s within the margin at every batch up to {rule.largest_ok:,}"
        cause = "rather than on the flat curve"
    spans = words_by_margin(batches, top)
    word = next(w for lo, hi, w in spans if lo <= rule.sds <= hi)
    changes = [hi for _, hi, _ in spans[:-1]]
    if not changes:
        return (f"Here {shape}, and the word, **{word}**, holds for every margin from 0 to {top:g} pooled SDs: it does "
                "not hinge on the convention.")
    nearest = min(changes, key=lambda m: abs(m - rule.sds))
    said = f"Here {shape}, and the word at {rule.sds:g} SDs, **{word}**, changes at {nearest:.2f} SDs"
    if abs(nearest - rule.sds) <= CLOSE_MARGIN * rule.sds:
        return (said + f", within {fraction_words(CLOSE_MARGIN)} of that margin: the verdict depends on where the "
                f"convention puts the line {cause}.")
    return (said + f", {abs(nearest - rule.sds):.2f} SDs away: the shape of the curve, not the convention, sets "
            "the word.")


def nearest_crossing(batches, rule):
    """(batch, points): the batch whose mean error (a `by_batch` frame) lies nearest the break rule's line and how
    far it would have to move to cross it. Above the reference a batch breaks when it exceeds the reference by the
    margin; below, the stretch stops being flat when it beats the reference by the margin; a batch with a diverged
    seed is broken whatever its error. (None, nan) with one seed, where there is no line."""
    rows = batches[(batches.batch != REFERENCE_BATCH) & batches["mean"].notna() & (batches.diverged == 0)]
    if rule.one_seed or rows.empty:
        return None, float("nan")
    side = np.where(rows.batch > REFERENCE_BATCH, 1.0, -1.0)
    gap = (rule.threshold - side * (rows["mean"] - rule.reference)).abs()
    return int(rows.batch[gap.idxmin()]), float(gap.min())


def nudge_words(points):
    """'a tenth of a point': the roundest amount at least `points`, how far one error must move to change a word."""
    if not np.isfinite(points):
        return "a small amount"
    for limit, words in ((0.1, "a tenth of a point"), (0.25, "a quarter of a point"), (0.5, "half a point"),
                         (1.0, "a point")):
        if points <= limit:
            return words
    return f"{math.ceil(points):d} points"


def retrain_words(batches):
    """Exercise 3.4's answer, read off the book's quick records (a `by_batch` frame: the exercise retrains the quick
    sweep): how near the break rule's line the nearest batch sits, and how many margins wide the errors' spread is."""
    rule = find_break(batches)
    batch, points = nearest_crossing(batches, rule)
    if batch is None:
        return ("With one seed per batch the book's quick records have no margin, so only a diverged run can change "
                "a word.")
    below = batch < REFERENCE_BATCH
    where = (f"make the stretch below batch {REFERENCE_BATCH} flat or not" if below else
             "move the first batch that climbs by one doubling")
    said = (f"In the book's quick records batch {batch:,} sits {points:.2f} points from the break rule's line (the "
            f"{rule.threshold:.2f}-point margin {'below' if below else 'above'} batch {REFERENCE_BATCH}'s error)")
    said += (f", so a change that small in one batch's error can {where} and change the verdict's word"
             if points <= CLOSE_MARGIN * rule.threshold else
             f", the nearest of any batch: it takes a change of that size in one batch's error to {where} and change "
             "the verdict's word")
    finite = batches.dropna(subset=["mean"])
    low, high = finite.loc[finite["mean"].idxmin()], finite.loc[finite["mean"].idxmax()]
    width = (high["mean"] - low["mean"]) / rule.threshold
    if width <= 1:
        return said + "; the errors span less than one margin from end to end, so even the curve's shape can move."
    first, then = (low, high) if low.batch < high.batch else (high, low)
    return (said + f"; the {'climb' if first is low else 'fall'} from {first['mean']:.1f}% at batch "
            f"{int(first.batch):,} to {then['mean']:.1f}% at batch {int(then.batch):,}, {width:.1f} margins from end "
            "to end, should not move.")
