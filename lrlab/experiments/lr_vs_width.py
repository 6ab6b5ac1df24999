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

import numpy as np

from lrlab.stats import refined_minimum
from lrlab.config import RunConfig
from lrlab.experiments import Chunk, union_of_chunks

MLP_SETTINGS = {
    # end_seeds: seeds at the narrowest and widest width (they decide how far the optimum moves), one between
    "smoke": dict(widths=[32, 64], log2_lrs=[-6, -2], epochs=1, per_class=20, test_per_class=10,
                  base_width=32, end_seeds=1),
    "quick": dict(widths=[256, 512, 1024, 2048], log2_lrs=list(range(-14, -1)), epochs=5, per_class=500,
                  test_per_class=100, base_width=128, end_seeds=1),
    "gpu": dict(widths=[256, 512, 1024, 2048, 4096, 8192], log2_lrs=list(range(-13, -2)), epochs=10,
                per_class=None, test_per_class=None, base_width=128, end_seeds=1),
    "full": dict(widths=[256, 512, 1024, 2048, 4096, 8192], log2_lrs=list(range(-14, -1)), epochs=20,
                 per_class=None, test_per_class=None, base_width=128, end_seeds=2),
}
GPT_SETTINGS = {
    # batch in sequences of `block` characters; steps_per_epoch x epochs steps at every width
    "smoke": dict(widths=[32, 64], log2_lrs=[-8, -6], depth=1, block=32, batch=8, steps_per_epoch=4, epochs=1,
                  base_width=32),
    "quick": dict(widths=[32, 64, 128], log2_lrs=list(range(-12, -1)), depth=2, block=64, batch=32,
                  steps_per_epoch=100, epochs=2, base_width=32),
    "gpu": dict(widths=[64, 128, 256, 512, 1024], log2_lrs=list(range(-14, -3)), depth=4, block=256, batch=64,
                steps_per_epoch=100, epochs=10, base_width=64),
    "full": dict(widths=[64, 128, 256, 512, 1024], log2_lrs=list(range(-14, -1)), depth=4, block=256, batch=64,
                 steps_per_epoch=100, epochs=10, base_width=64),
}


def mlp_runs(profile):
    s = MLP_SETTINGS[profile]
    widths = s["widths"]
    base = RunConfig(task="cifar10", model="mlp", width=widths[0], init="lecun", optimizer="sgd", momentum=0.9,
                     schedule="constant", batch_size=64, augment="none", epochs=s["epochs"],
                     train_per_class=s["per_class"], test_per_class=s["test_per_class"], base_width=s["base_width"])
    runs = []
    for parameterization in ("sp", "mup"):
        for width in widths:
            for seed in range(s["end_seeds"] if width in (widths[0], widths[-1]) else 1):
                runs += [base.replace(parameterization=parameterization, width=width, lr=2.0 ** k, seed=seed)
                         for k in s["log2_lrs"]]
    return runs


def gpt_runs(profile):
    s = GPT_SETTINGS[profile]
    base = RunConfig(task="shakespeare", model="chargpt", width=s["widths"][0], depth=s["depth"],
                     block_size=s["block"], batch_size=s["batch"], steps_per_epoch=s["steps_per_epoch"],
                     epochs=s["epochs"], optimizer="adamw", momentum=0.9, schedule="warmup_cosine",
                     schedule_args={"warmup": 0.1}, grad_clip=1.0, augment="none", base_width=s["base_width"])
    return [base.replace(parameterization=p, width=w, lr=2.0 ** k)
            for p in ("sp", "mup") for w in s["widths"] for k in s["log2_lrs"]]


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


# -- analysis: what the chapter reads off its records (each rule tested in tests/test_lr_vs_width.py)
# (pandas is imported inside the functions that build frames: a sweep imports this module for its
# declarations and must run where only torch and numpy are installed)

PARAMETERIZATIONS = {"sp": "SP", "mup": "muP"}
COORD_CHECK_WIDTHS = {"smoke": [32, 64], "default": [256, 512, 1024, 2048, 4096]}


def sweep_frame(runs):
    """The runs of one sweep (a `Chapter.runs` frame) with their log2 LR."""
    return runs.assign(log2_lr=np.log2(runs.lr))


def curves(frame, metric):
    """Mean final metric per (parameterization, width, log2 LR) over seeds; diverged runs -> NaN."""
    ok = frame.assign(value=frame[metric].where(frame.status == "completed"))
    return ok.groupby(["parameterization", "width", "log2_lr"]).value.agg(["mean", "count"]).reset_index()


def optima(frame, metric):
    """log2 of the best LR per (parameterization, width): the grid minimum of the seed-mean metric,
    refined by a parabola through it and its neighbours."""
    return (curves(frame, metric).groupby(["parameterization", "width"])
            .apply(lambda c: refined_minimum(c.log2_lr, c["mean"])[0], include_groups=False)
            .rename("log2_lr_opt").reset_index())


def octave_shift(optimum):
    """Per parameterization, how far (in octaves of LR) the optimum moves from the narrowest to the
    widest width."""
    shift = {}
    for p in ("sp", "mup"):
        o = optimum[optimum.parameterization == p].sort_values("width")
        shift[p] = float(o.log2_lr_opt.iloc[-1] - o.log2_lr_opt.iloc[0])
    return shift


def optimum_table(optimum):
    """Width against the optimum's log2 LR, one column per parameterization."""
    table = optimum.pivot(index="width", columns="parameterization", values="log2_lr_opt")
    return table.rename(columns=PARAMETERIZATIONS).rename_axis(None, axis=1).reset_index()


def shared_band(frame, metric, tol=0.01):
    """Per parameterization, the log2 LRs at which every width is within `tol` (relative) of its own
    best loss: a single-seed optimum can hop along a flat valley, a shared band cannot."""
    out = {}
    for p, cp in curves(frame, metric).groupby("parameterization"):
        near = cp[cp["mean"] <= cp.groupby("width")["mean"].transform("min") * (1 + tol)]
        counts = near.groupby("log2_lr").width.nunique()
        out[p] = sorted(counts.index[counts == cp.width.nunique()])
    return out


def band_note(frame, metric, what):
    """The shared band in a sentence: a range where it is contiguous, else the LRs one by one."""
    bands = shared_band(frame, metric)

    def say(p):
        b = bands.get(p, [])
        if not b:
            return f"{PARAMETERIZATIONS[p]}: none"
        contiguous = len(b) > 1 and np.allclose(np.diff(b), np.diff(b)[0])
        return f"{PARAMETERIZATIONS[p]}: log₂ LR " + (f"{b[0]:g} to {b[-1]:g}" if contiguous
                                                        else ", ".join(f"{x:g}" for x in b))
    return (f"Learning rates at which every width of {what} comes within 1% of its own best loss "
            f"({say('sp')}; {say('mup')}).")


def edge_note(frame, metric, what):
    """A sentence naming the (parameterization, width) pairs whose best LR is the grid's first or
    last point, where the true optimum may lie beyond the grid; empty when there are none."""
    edges = []
    for (p, w), curve in curves(frame, metric).groupby(["parameterization", "width"]):
        if curve["mean"].isna().all():
            continue
        best = curve.log2_lr[curve["mean"].idxmin()]
        if best in (curve.log2_lr.min(), curve.log2_lr.max()):
            edges.append(f"{PARAMETERIZATIONS[p]} at width {w} (log₂ LR {best:g})")
    if not edges:
        return ""
    return (f"For {what}, the best learning rate is at the edge of the swept grid for "
            f"{', '.join(edges)}: there the optimum may lie beyond the grid, and the shift quoted is a bound.")


def wider_is_better(frame, metric, tol=1e-3):
    """Per parameterization, (LRs at which the loss does not rise with any step up in width, LRs at
    which every width trained): the paper's "wider is weakly better at every fixed LR"."""
    c = curves(frame, metric)
    ordered = {}
    for p in ("sp", "mup"):
        table = c[c.parameterization == p].pivot(index="log2_lr", columns="width", values="mean").dropna()
        mono = (table.diff(axis=1).iloc[:, 1:] <= tol).all(axis=1)
        ordered[p] = (int(mono.sum()), len(mono))
    return ordered


def verdict(sp, mup, what):
    """What the measured shifts (in octaves) say, in words; thresholds at a half and one octave."""
    if abs(sp) >= 1 and abs(mup) < 0.5:
        return (f"{what} reproduces the paper's pattern: SP's optimum drifts, muP's stays within half an "
                "octave.")
    if abs(sp) < 1 and abs(mup) < 1:
        return (f"{what} does **not** show SP's drift at this scale: both optima stay within an octave "
                "across these widths. The paper's shift builds up over a 32-fold range of widths and "
                "longer training; whether it appears here is the `full` profile's question.")
    return (f"{what} gives a mixed answer: SP's optimum moves by {abs(sp):.1f} octaves and muP's by "
            f"{abs(mup):.1f}; read the curves above before the summary.")


def sweep_summary(frame, metric, subject, what):
    """The verdict (on `subject`, which opens its sentence), the shared band and the edge note (on
    `what`) of one sweep, as the paragraph the page glues."""
    shift = octave_shift(optima(frame, metric))
    return (verdict(shift["sp"], shift["mup"], subject) + " " + band_note(frame, metric, what) + " "
            + edge_note(frame, metric, what))


def coord_check(profile, parameterization):
    """`mup`'s coordinate check of the MLP at the chapter's widths (two seeds, three SGD steps at LR
    0.1 on one batch): mean |output| per layer, width and step; the whole network's row ("") dropped,
    being the readout's."""
    from lrlab.coord_check import mlp_coord_check
    widths = COORD_CHECK_WIDTHS.get(profile, COORD_CHECK_WIDTHS["default"])
    frame = mlp_coord_check(widths, parameterization, lr=0.1, nsteps=3, nseeds=2,
                            base_width=MLP_SETTINGS[profile]["base_width"])
    return frame[frame.module != ""]


def readout_growth(coords):
    """How much the readout's mean |output| at step 3 grows from the narrowest width to the widest."""
    last = coords[(coords.t == 3) & (coords.module == "readout")].groupby("width").l1.mean()
    return float(last.iloc[-1] / last.iloc[0])


def versus(mlp, gpt, mlp_profile, gpt_profile):
    """The paper's claims beside our numbers."""
    import pandas as pd
    shift, gshift = octave_shift(optima(mlp, "final_train_loss")), octave_shift(optima(gpt, "final_test_loss"))
    ordered = wider_is_better(mlp, "final_train_loss")
    mlp_widths = f"{int(mlp.width.min())} to {int(mlp.width.max())}, {mlp_profile}"
    return pd.DataFrame([
        {"claim": "SP: optimum moves with width (MLP, 256 to 8192)",
         "paper": "about an order of magnitude (Fig. 3)", "ours": f"{2 ** abs(shift['sp']):.1f}x ({mlp_widths})"},
        {"claim": "muP: optimum stays put (MLP)",
         "paper": "stable across widths (Fig. 3)", "ours": f"{2 ** abs(shift['mup']):.1f}x ({mlp_widths})"},
        {"claim": "muP: wider is weakly better at every fixed LR (MLP)",
         "paper": "always (Fig. 3)",
         "ours": f"at {ordered['mup'][0]} of {ordered['mup'][1]} LRs (SP: {ordered['sp'][0]} of {ordered['sp'][1]})"},
        {"claim": "Transformer: SP optimum moves, muP's does not",
         "paper": "Fig. 1 (wikitext-2, d_model 128 to 8192, Adam)",
         "ours": f"SP {2 ** abs(gshift['sp']):.1f}x, muP {2 ** abs(gshift['mup']):.1f}x "
                 f"(char GPT {int(gpt.width.min())} to {int(gpt.width.max())}, {gpt_profile})"},
    ])
