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

from lrlab.config import RunConfig
from lrlab.experiments import Chunk, union_of_chunks

REFERENCE_BATCH, REFERENCE_LR = 128, 0.1
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


def parts(profile):
    s = SETTINGS[profile]
    base = RunConfig(task="cifar10", model=s["model"], optimizer="sgd", momentum=0.9, nesterov=True,
                     weight_decay=1e-4, decay_norm_and_bias=False, zero_init_residual=True,
                     augment="crop+flip", schedule="warmup_multistep", epochs=s["epochs"],
                     train_per_class=s["per_class"], test_per_class=s["test_per_class"])
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
