"""LR vs model size: standard parameterization vs muP (Yang et al. 2022, "Tensor Programs V").

Part 1, the paper's Fig. 3: a 2-hidden-layer ReLU MLP on CIFAR-10 with SGD (the `mup` repo's
script: batch 64, momentum 0.9, no augmentation, constant LR), training loss against log2 LR,
per width, SP vs muP with base width 128. Part 2: a character GPT on Tiny Shakespeare with AdamW
and warmup + cosine at a fixed token budget, validation loss against LR per width.

The `gpu` profile trains the MLP 10 epochs (not 20) over 11 LRs 2^-13..2^-3, one seed, and runs
first the odd octaves at widths 256, 1024, 4096 and 8192: the quick runs show no SP drift up to
width 2048, so the widest nets must be in the first job. The GPT keeps `full`'s budget with 11 LRs
2^-14..2^-4; width 1024 comes last, in its own chunk.
"""
import math

from lrlab.config import RunConfig
from lrlab.experiments import Chunk, union_of_chunks

MLP_SETTINGS = {
    #        widths                                  log2 LRs          epochs per_class test_class base seeds-at-ends
    "smoke": ([32, 64],                              [-6, -2],             1,     20,       10,     32,  1),
    "quick": ([256, 512, 1024, 2048],                list(range(-14, -1)), 5,    500,      100,    128,  1),
    "gpu":   ([256, 512, 1024, 2048, 4096, 8192],    list(range(-13, -2)), 10,  None,     None,    128,  1),
    "full":  ([256, 512, 1024, 2048, 4096, 8192],    list(range(-14, -1)), 20,  None,     None,    128,  2),
}
GPT_SETTINGS = {
    #        widths                       log2 LRs                 depth block batch steps/epoch epochs base
    "smoke": ([32, 64],                   [-8, -6],                    1,   32,    8,     4,       1,    32),
    "quick": ([32, 64, 128],              list(range(-12, -1)),        2,   64,   32,   100,       2,    32),
    "gpu":   ([64, 128, 256, 512, 1024],  list(range(-14, -3)),        4,  256,   64,   100,      10,    64),
    "full":  ([64, 128, 256, 512, 1024],  list(range(-14, -1)),        4,  256,   64,   100,      10,    64),
}


def mlp_runs(profile):
    widths, log2_lrs, epochs, per_class, test_per_class, base_width, seeds = MLP_SETTINGS[profile]
    base = RunConfig(task="cifar10", model="mlp", width=widths[0], init="lecun", optimizer="sgd", momentum=0.9,
                     schedule="constant", batch_size=64, augment="none", epochs=epochs,
                     train_per_class=per_class, test_per_class=test_per_class, base_width=base_width)
    runs = []
    for parameterization in ("sp", "mup"):
        for width in widths:
            # extra seeds at the narrowest and widest width: they decide how far the optimum moves
            for seed in range(seeds if width in (widths[0], widths[-1]) else 1):
                runs += [base.replace(parameterization=parameterization, width=width, lr=2.0 ** k, seed=seed)
                         for k in log2_lrs]
    return runs


def gpt_runs(profile):
    widths, log2_lrs, depth, block, batch, steps, epochs, base_width = GPT_SETTINGS[profile]
    base = RunConfig(task="shakespeare", model="chargpt", width=widths[0], depth=depth, block_size=block, batch_size=batch,
                     steps_per_epoch=steps, epochs=epochs, optimizer="adamw", momentum=0.9,
                     schedule="warmup_cosine", schedule_args={"warmup": 0.1}, grad_clip=1.0,
                     augment="none", base_width=base_width)
    return [base.replace(parameterization=p, width=w, lr=2.0 ** k)
            for p in ("sp", "mup") for w in widths for k in log2_lrs]


# what the gpu profile changes from `full` (the chapter prints it beside the results)
GPU_CHANGES = ("the MLP trains 10 epochs, not 20, over 11 LRs 2^-13..2^-3 instead of 13, one seed at every width",
               "the GPT's LR grid is 2^-14..2^-4 (11 rates) instead of 2^-14..2^-2")
FIRST_MLP_WIDTHS = (256, 1024, 4096, 8192)   # gpu: the widths of the first MLP chunk (odd octaves)


def chunks(profile):
    mlp, gpt = mlp_runs(profile), gpt_runs(profile)
    mlp_claim = "SP's optimal LR moves with width, muP's stays (the paper's Fig. 3)"
    gpt_claim = "the optimal LR transfers across width under muP, not under SP (character GPT)"
    if profile != "gpu":
        return [Chunk("mlp", 1, mlp_claim, mlp), Chunk("gpt", 1, gpt_claim, gpt)]
    widest = max(c.width for c in gpt)
    return [Chunk("mlp_coarse", 1, mlp_claim + ", on the odd octaves at widths 256 to 8192",
                  [c for c in mlp if c.width in FIRST_MLP_WIDTHS and round(math.log2(c.lr)) % 2]),
            Chunk("gpt", 1, gpt_claim + f", widths up to {widest // 2}", [c for c in gpt if c.width < widest]),
            Chunk("mlp_fill", 2, "the MLP's even octaves and widths 512 and 2048", mlp),
            Chunk("gpt_widest", 2, f"the GPT's width {widest}", gpt)]


def runs(profile):
    return union_of_chunks(chunks(profile))


PART_TITLES = {"mlp": "the MLP sweep", "gpt": "the GPT sweep"}


def parts(profile):
    return {"mlp": mlp_runs(profile), "gpt": gpt_runs(profile)}


# Published values, not our runs: GPT-3's Table 2.1 (Brown et al. 2020), d_model against the peak
# learning rate, the large-scale anchor of the chapter's figure. (13B's d_model is 5140 as printed.)
GPT3_TABLE_2_1 = (
    # name,         params,  d_model, learning rate
    ("GPT-3 Small",  125e6,    768,   6.0e-4),
    ("GPT-3 Medium", 350e6,   1024,   3.0e-4),
    ("GPT-3 Large",  760e6,   1536,   2.5e-4),
    ("GPT-3 XL",     1.3e9,   2048,   2.0e-4),
    ("GPT-3 2.7B",   2.7e9,   2560,   1.6e-4),
    ("GPT-3 6.7B",   6.7e9,   4096,   1.2e-4),
    ("GPT-3 13B",   13.0e9,   5140,   1.0e-4),
    ("GPT-3 175B",   175e9,  12288,   0.6e-4),
)
