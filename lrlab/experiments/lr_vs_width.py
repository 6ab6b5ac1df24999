"""LR vs model size: standard parameterization vs muP (Yang et al. 2022, "Tensor Programs V").

Part 1, the paper's Fig. 3: a 2-hidden-layer ReLU MLP on CIFAR-10 with SGD (the `mup` repo's
script: batch 64, momentum 0.9, no augmentation, constant LR), training loss against log2 LR,
per width, SP vs muP with base width 128. Part 2: a character GPT on Tiny Shakespeare with AdamW
and warmup + cosine at a fixed token budget, validation loss against LR per width.

The `gpu` profile trains the MLP 10 epochs (not 20) over 11 LRs 2^-13..2^-3, and runs
first the odd octaves at widths 256, 1024, 4096 and 8192: the quick runs show no SP drift up to
width 2048, so the widest nets must be in the first job. The GPT keeps `full`'s budget with 11 LRs
2^-14..2^-4; width 1024 comes last, in its own chunk.
"""
import math
from dataclasses import replace

import numpy as np

from lrlab.stats import counted, listed, number_word, plus_minus, pooled_sd, refined_minimum, with_error
from lrlab.config import RunConfig
from lrlab.experiments import Chunk, train_images, union_of_chunks
from lrlab.verdict import PaperClaim

MLP_SETTINGS = {
    # end_seeds: seeds at the narrowest and widest width (they decide how far the optimum moves);
    # middle_seeds: at the widths between (quick runs two: its one-seed middle optima strayed further
    # than the ends' seed noise, and a width exponent fitted through them took each stray whole)
    "smoke": dict(widths=[32, 64], log2_lrs=[-6, -2], epochs=1, per_class=20, test_per_class=10,
                  base_width=32, end_seeds=1, middle_seeds=1),
    "quick": dict(widths=[256, 512, 1024, 2048], log2_lrs=list(range(-14, -1)), epochs=5, per_class=500,
                  test_per_class=100, base_width=128, end_seeds=2, middle_seeds=2),
    "gpu": dict(widths=[256, 512, 1024, 2048, 4096, 8192], log2_lrs=list(range(-13, -2)), epochs=10,
                per_class=None, test_per_class=None, base_width=128, end_seeds=2, middle_seeds=1),
    "full": dict(widths=[256, 512, 1024, 2048, 4096, 8192], log2_lrs=list(range(-14, -1)), epochs=20,
                 per_class=None, test_per_class=None, base_width=128, end_seeds=2, middle_seeds=1),
}
# quick's GPT adds the half octaves where its optima lie (log2 LR -8.5 to -4.5): on the one-octave grid
# muP's width-64 curve was flat between -6 and -5, and the parabola through three points put its optimum
# 0.65 octaves from the ends' with no grid point to say whether the curve dips there
QUICK_GPT_HALF_OCTAVES = [k + 0.5 for k in range(-9, -4)]
GPT_SETTINGS = {
    # batch in sequences of `block` characters; steps_per_epoch x epochs steps at every width;
    # end_seeds and middle_seeds as the MLP's: the seed noise of the optimum comes from widths with two
    "smoke": dict(widths=[32, 64], log2_lrs=[-8, -6], depth=1, block=32, batch=8, steps_per_epoch=4, epochs=1,
                  base_width=32, end_seeds=1, middle_seeds=1),
    "quick": dict(widths=[32, 64, 128], log2_lrs=sorted([*range(-12, -1), *QUICK_GPT_HALF_OCTAVES]), depth=2,
                  block=64, batch=32, steps_per_epoch=100, epochs=2, base_width=32, end_seeds=2, middle_seeds=2),
    "gpu": dict(widths=[64, 128, 256, 512, 1024], log2_lrs=list(range(-14, -3)), depth=4, block=256, batch=64,
                steps_per_epoch=100, epochs=10, base_width=64, end_seeds=2, middle_seeds=1),
    "full": dict(widths=[64, 128, 256, 512, 1024], log2_lrs=list(range(-14, -1)), depth=4, block=256, batch=64,
                 steps_per_epoch=100, epochs=10, base_width=64, end_seeds=2, middle_seeds=1),
}


def seeds_at(settings, width):
    """How many seeds a sweep runs at this width."""
    ends = (settings["widths"][0], settings["widths"][-1])
    return settings["end_seeds"] if width in ends else settings["middle_seeds"]


def seeds_words(settings):
    """"two seeds at every width", "two seeds at the narrowest and widest width and one between"."""
    ends, middle = settings["end_seeds"], settings["middle_seeds"]
    seeds = counted(ends, "seed")
    if ends == middle or len(settings["widths"]) < 3:
        return f"{seeds} at every width"
    return f"{seeds} at the narrowest and widest width and {number_word(middle)} between"


def mlp_runs(profile):
    s = MLP_SETTINGS[profile]
    widths = s["widths"]
    base = RunConfig(task="cifar10", model="mlp", width=widths[0], init="lecun", optimizer="sgd", momentum=0.9,
                     schedule="constant", batch_size=64, augment="none", epochs=s["epochs"],
                     train_per_class=s["per_class"], test_per_class=s["test_per_class"], base_width=s["base_width"])
    runs = []
    for parameterization in ("sp", "mup"):
        for width in widths:
            for seed in range(seeds_at(s, width)):
                runs += [base.replace(parameterization=parameterization, width=width, lr=2.0 ** k, seed=seed)
                         for k in s["log2_lrs"]]
    return runs


def gpt_runs(profile):
    s = GPT_SETTINGS[profile]
    base = RunConfig(task="shakespeare", model="chargpt", width=s["widths"][0], depth=s["depth"],
                     block_size=s["block"], batch_size=s["batch"], steps_per_epoch=s["steps_per_epoch"],
                     epochs=s["epochs"], optimizer="adamw", momentum=0.9, schedule="warmup_cosine",
                     schedule_args={"warmup": 0.1}, grad_clip=1.0, augment="none", base_width=s["base_width"])
    # the head size is fixed (32), so muP keeps SP's 1/sqrt(d_head): the two coincide at the base width
    # (SP's runs keep their default, which is the same scale, and so their ids)
    widths = s["widths"]
    return [base.replace(parameterization=p, width=w, lr=2.0 ** k, seed=seed,
                         attn_scale="1/sqrt(d_head)" if p == "mup" else None)
            for p in ("sp", "mup") for w in widths
            for seed in range(seeds_at(s, w)) for k in s["log2_lrs"]]


# Part 3, weight decay under muP: does the best decay move with width? (The seed article says weight decay
# "does not transfer under muP"; the paper's Table 1 lists regularisation as not muTransferable and its
# Appendix B.3 keeps SGDW's decay width-independent, as the `mup` package and lrlab.optim do.) The MLP's runs
# at one rate with SGDW, muP only, the decay on Loshchilov & Hutter's normalised axis (lrlab.experiments.
# weight_decay) so that one grid means the same at every profile's budget, test loss the metric (decay is a
# regulariser). The no-decay point is Part 1's run at that rate (SGDW at lambda = 0 is SGD): no new run.
DECAY_SETTINGS = {
    # log2_lr: quick's muP training-loss optimum, 2^-7 at every width (Part 1; the gpu profile keeps it);
    # widths: Part 1's (None: all of them, each with Part 1's seeds); gpu: a 16-fold range, as width 8192 would
    # take tier 2 past the audit's 15 jobs
    "smoke": dict(log2_lr=-6, log2_lambda_norms=[-6, -3], widths=None),
    "quick": dict(log2_lr=-7, log2_lambda_norms=list(range(-9, -1)), widths=None),
    "gpu": dict(log2_lr=-7, log2_lambda_norms=list(range(-9, -1)), widths=(256, 4096)),
    "full": dict(log2_lr=-7, log2_lambda_norms=list(range(-9, -1)), widths=None),
}


def mlp_decay_runs(profile):
    """Part 3's runs: per muP width (DECAY_SETTINGS') and seed of Part 1, Part 1's run at DECAY_SETTINGS' rate
    (no decay) and the same run with SGDW at each decay of the grid."""
    from lrlab.experiments.weight_decay import lambda_from_normalized
    s, d = MLP_SETTINGS[profile], DECAY_SETTINGS[profile]
    at_rate = [c for c in mlp_runs(profile) if c.parameterization == "mup" and c.lr == 2.0 ** d["log2_lr"]
               and (d["widths"] is None or c.width in d["widths"])]
    n_train = train_images(s["per_class"])
    return [decayed for c in at_rate
            for decayed in [c] + [c.replace(optimizer="sgdw", weight_decay=lambda_from_normalized(
                2.0 ** j, c.batch_size, n_train, c.epochs)) for j in d["log2_lambda_norms"]]]


# what the gpu profile changes from `full` (the chapter prints it beside the results)
GPU_CHANGES = ("the MLP trains 10 epochs, not 20, over 11 LRs 2^-13..2^-3 instead of 13",
               "the GPT's LR grid is 2^-14..2^-4 (11 rates) instead of 2^-14..2^-2",
               "the weight-decay sweep (Part 3) runs widths 256 and 4096, not every width from 256 to 8192")
FIRST_MLP_WIDTHS = (256, 1024, 4096, 8192)   # gpu: the widths of the first MLP chunk (odd octaves)


def chunks(profile):
    mlp, gpt = mlp_runs(profile), gpt_runs(profile)
    mlp_claim = "SP's optimal LR moves with width, muP's stays (the paper's Fig. 3)"
    gpt_claim = "the optimal LR transfers across width under muP, not under SP (character GPT)"
    decay = Chunk("mlp_decay", 2, "whether muP's best weight decay (SGDW, one rate) moves with width: the MLP",
                  mlp_decay_runs(profile))
    if profile != "gpu":
        return [Chunk("mlp", 1, mlp_claim, mlp), Chunk("gpt", 1, gpt_claim, gpt), decay]
    widest = max(c.width for c in gpt)
    return [Chunk("mlp_coarse", 1, mlp_claim + ", on the odd octaves at widths 256 to 8192",
                  [c for c in mlp if c.width in FIRST_MLP_WIDTHS and round(math.log2(c.lr)) % 2]),
            Chunk("gpt", 1, gpt_claim + f", widths up to {widest // 2}", [c for c in gpt if c.width < widest]),
            Chunk("mlp_fill", 2, "the MLP's even octaves and widths 512 and 2048", mlp),
            Chunk("gpt_widest", 2, f"the GPT's width {widest}", gpt), decay]


def runs(profile):
    return union_of_chunks(chunks(profile))


PART_TITLES = {"mlp": "the MLP sweep", "gpt": "the GPT sweep", "mlp_decay": "the MLP's weight decay under muP"}


def parts(profile):
    return {"mlp": mlp_runs(profile), "gpt": gpt_runs(profile), "mlp_decay": mlp_decay_runs(profile)}


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
HEADLINES = (PaperClaim("mlp_shift", "the best LR moves with width under SP and stays under muP: an MLP on CIFAR-10, "
                        "widths 256 to 8192", "about 3.3 octaves (10x) under SP; stable under muP",
                        "Yang et al., Fig. 3"),
             PaperClaim("gpt_shift", "the same for a Transformer trained with Adam, widths 128 to 8192",
                        "moves under SP; stable under muP", "Yang et al., Fig. 1"))
COORD_CHECK_WIDTHS = {"smoke": [32, 64], "default": [256, 512, 1024, 2048, 4096]}


def sweep_frame(runs):
    """The runs of one sweep (a `Chapter.runs` frame) with their log2 LR."""
    return runs.assign(log2_lr=np.log2(runs.lr))


def grid_words(frame):
    """The swept rates in words: "log₂ LR -12 to -2, one octave apart and half an octave from -9 to -4"."""
    grid = sorted(frame.log2_lr.unique())
    if len(grid) < 3:
        return "log₂ LR " + " and ".join(f"{k:g}" for k in grid)
    steps = np.diff(grid)
    coarse, fine = steps.max(), steps.min()
    said = f"log₂ LR {grid[0]:g} to {grid[-1]:g}, {_octaves(coarse)} apart"
    if fine < coarse:   # finer where the optima lie
        dense = np.flatnonzero(steps == fine)
        said += f" and {_octaves(fine)} from {grid[dense[0]]:g} to {grid[dense[-1] + 1]:g}"
    return said


def _octaves(step):
    return {1: "one octave", 0.5: "half an octave"}.get(float(step), f"{step:g} octaves")


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
    """Per parameterization swept, how far (in octaves of LR) the optimum moves from the narrowest to the
    widest width."""
    shift = {}
    for p in [p for p in PARAMETERIZATIONS if p in set(optimum.parameterization)]:
        o = optimum[optimum.parameterization == p].sort_values("width")
        shift[p] = float(o.log2_lr_opt.iloc[-1] - o.log2_lr_opt.iloc[0])
    return shift


def optimum_table(optimum):
    """Width against the optimum's log2 LR, one column per parameterization."""
    table = optimum.pivot(index="width", columns="parameterization", values="log2_lr_opt")
    return table.rename(columns=PARAMETERIZATIONS).rename_axis(None, axis=1).reset_index()


BAND_TOL = 0.01   # the shared band: every width within this fraction of its own best loss


def shared_band(frame, metric, tol=BAND_TOL):
    """Per parameterization, the log2 LRs at which every width is within `tol` (relative) of its own
    best loss: a single-seed optimum can hop along a flat valley, a shared band cannot."""
    out = {}
    for p, cp in curves(frame, metric).groupby("parameterization"):
        near = cp[cp["mean"] <= cp.groupby("width")["mean"].transform("min") * (1 + tol)]
        counts = near.groupby("log2_lr").width.nunique()
        out[p] = sorted(counts.index[counts == cp.width.nunique()])
    return out


def transfer_cost(frame, metric):
    """Per parameterization, what one learning rate for every width costs: (cost, log2 LR), the LR whose
    worst width is nearest its own best loss, and how far (relative) that width's loss is above its best.
    `shared_band(tol)` is empty for any tol below the cost; (nan, nan) where no LR trained every width."""
    out = {}
    for p, cp in curves(frame, metric).groupby("parameterization"):
        excess = (cp["mean"] / cp.groupby("width")["mean"].transform("min") - 1).rename("excess")
        table = cp.assign(excess=excess).pivot(index="log2_lr", columns="width", values="excess").dropna()
        worst = table.max(axis=1)
        out[p] = (float(worst.min()), float(worst.idxmin())) if len(worst) else (float("nan"), float("nan"))
    return out


def cost_note(frame, metric, what):
    """`transfer_cost` in a sentence: what the best single learning rate for every width of `what` costs."""
    costs = transfer_cost(frame, metric)

    def say(p):
        cost, k = costs.get(p, (float("nan"), float("nan")))
        if not np.isfinite(cost):
            return f"{PARAMETERIZATIONS[p]}: no rate trained every width"
        return f"{PARAMETERIZATIONS[p]} {100 * cost:.1f}% (at log₂ LR {k:g})"
    return (f"For {what}, the best single rate for every width leaves the worst width this far above its own "
            f"best loss: {say('sp')}; {say('mup')}.")


def band_note(frame, metric, what, tol=BAND_TOL):
    """The shared band (within `tol` of each width's best) in a sentence: a range where it holds every grid
    rate between its ends, else the LRs one by one."""
    bands, grid = shared_band(frame, metric, tol), sorted(frame.log2_lr.unique())

    def say(p):
        b = bands.get(p, [])
        if not b:
            return f"{PARAMETERIZATIONS[p]}: none"
        contiguous = len(b) > 1 and b == [k for k in grid if b[0] <= k <= b[-1]]
        return f"{PARAMETERIZATIONS[p]}: log₂ LR " + (f"{b[0]:g} to {b[-1]:g}" if contiguous
                                                        else ", ".join(f"{x:g}" for x in b))
    return (f"Learning rates at which every width of {what} comes within {100 * tol:g}% of its own best loss "
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


def loss_noise(frame, metric):
    """The seed SD of one run's final metric, pooled over every (parameterization, width, LR) run with
    two seeds or more (diverged runs left out); nan where none was."""
    ok = frame[frame.status == "completed"]
    return pooled_sd(g[metric] for _, g in ok.groupby(["parameterization", "width", "lr"]))[0]


def wider_is_better(frame, metric, tol=None):
    """Per parameterization, (LRs at which the loss does not rise with any step up in width, LRs at
    which every width trained): the paper's "wider is weakly better at every fixed LR". A rise counts
    when it exceeds `tol`, by default NOISE_MULTIPLE x the seed noise of a difference of two runs
    (1e-3 where no seed noise was measured)."""
    if tol is None:
        sd = loss_noise(frame, metric)
        tol = NOISE_MULTIPLE * np.sqrt(2) * sd if np.isfinite(sd) else 1e-3
    c = curves(frame, metric)
    ordered = {}
    for p in ("sp", "mup"):
        table = c[c.parameterization == p].pivot(index="log2_lr", columns="width", values="mean").dropna()
        mono = (table.diff(axis=1).iloc[:, 1:] <= tol).all(axis=1)
        ordered[p] = (int(mono.sum()), len(mono))
    return ordered


MIN_SHIFT = 0.5       # octaves: on a one-octave grid, a smaller move of the optimum is not worth a word
NOISE_MULTIPLE = 2.0  # a shift counts when it is this many times its seed noise (and at least MIN_SHIFT)


def seed_optima(frame, metric):
    """log2 of each seed's own best LR per (parameterization, width, seed), refined as `optima` does."""
    ok = frame.assign(value=frame[metric].where(frame.status == "completed"))
    return (ok.groupby(["parameterization", "width", "seed"])
            .apply(lambda c: refined_minimum(c.log2_lr, c.value)[0], include_groups=False)
            .rename("log2_lr_opt").reset_index())


def optimum_noise(frame, metric):
    """(SD, degrees of freedom): the seed noise of one seed's optimum, in octaves, pooled over every
    (parameterization, width) swept with two seeds or more; (nan, 0) where none was."""
    per_seed = seed_optima(frame, metric).dropna()
    return pooled_sd(g.log2_lr_opt for _, g in per_seed.groupby(["parameterization", "width"]))


def shift_tests(frame, metric, min_shift=None, noise_multiple=None):
    """Per parameterization swept, the optimum's largest move from the narrowest width's, read at every wider
    width against its seed noise: dict(shift, narrowest, width, noise, threshold, moves). At each width
    the noise of the move is the optimum's seed SD x sqrt(1/n0 + 1/n), for the seeds at the two widths
    (their curves are seed means), and the move counts beyond max(min_shift, noise_multiple x noise)
    (by default MIN_SHIFT and NOISE_MULTIPLE): the paper's claim is about every width, and muP's
    optimum can stray between two ends that agree. The width reported is the one whose move comes
    nearest its threshold or furthest past it (`ends`: the move from the narrowest to the `widest`);
    `moves` is None where no seed noise was measured."""
    min_shift = MIN_SHIFT if min_shift is None else min_shift
    noise_multiple = NOISE_MULTIPLE if noise_multiple is None else noise_multiple
    sd, _ = optimum_noise(frame, metric)
    optimum, seeds = optima(frame, metric), frame.groupby(["parameterization", "width"]).seed.nunique()
    ends, tests = octave_shift(optimum), {}
    for p in ends:
        o = optimum[optimum.parameterization == p].set_index("width").log2_lr_opt.sort_index()
        n, w0 = seeds[p], o.index[0]
        moves = []
        for w in o.index[1:]:
            noise = float(sd * np.sqrt(1 / n[w0] + 1 / n[w]))
            threshold = max(min_shift, noise_multiple * noise) if np.isfinite(noise) else float("nan")
            moves.append(dict(shift=float(o[w] - o[w0]), narrowest=int(w0), width=int(w), noise=noise,
                              threshold=threshold, ends=ends[p], widest=int(o.index[-1])))
        if not moves:   # one width: nothing to move from
            moves = [dict(shift=float("nan"), narrowest=int(w0), width=int(w0), noise=float("nan"),
                          threshold=float("nan"), ends=ends[p], widest=int(w0))]
        test = max(reversed(moves), key=_past_threshold)   # ties go to the widest width
        test["moves"] = None if not np.isfinite(test["noise"]) else bool(abs(test["shift"]) > test["threshold"])
        tests[p] = test
    return tests


def seeds_note(frame, metric, tests):
    """Whether every seed makes each move that counts (`shift_tests`): each seed's optimum at the two widths
    the move is read between, in a sentence; "" where no move counts or one of its widths has one seed."""
    per_seed = seed_optima(frame, metric)
    said, overlap = [], []
    for p, t in tests.items():
        at = {w: sorted(per_seed[(per_seed.parameterization == p) & (per_seed.width == w)].log2_lr_opt)
              for w in (t["narrowest"], t["width"])}
        if not t["moves"] or min(len(v) for v in at.values()) < 2:
            continue
        first, moved = at[t["narrowest"]], at[t["width"]]
        if not (max(first) < min(moved) or max(moved) < min(first)):
            overlap.append(PARAMETERIZATIONS[p])
        said.append(f"{PARAMETERIZATIONS[p]} {listed([f'{k:.2f}' for k in first])} at width {t['narrowest']:,}, "
                    f"{listed([f'{k:.2f}' for k in moved])} at width {t['width']:,}")
    if not said:
        return ""
    if not overlap:
        return f"Each seed's own best log₂ LR: {'; '.join(said)}: every seed makes the move."
    return (f"Each seed's own best log₂ LR: {'; '.join(said)}: {listed(overlap)}'s seeds overlap, and "
            f"{'its move rests' if len(overlap) == 1 else 'their moves rest'} on the seed means.")


def _past_threshold(move):
    """A move's size over its threshold (its size where no noise was measured); -inf for an unknown optimum."""
    said = abs(move["shift"]) / move["threshold"] if np.isfinite(move["threshold"]) else abs(move["shift"])
    return said if np.isfinite(said) else -np.inf


def verdict(tests, what, min_shift=None, noise_multiple=None):
    """The paper's claim (SP's optimum moves with width, muP's stays) read from `shift_tests`; `min_shift`
    and `noise_multiple` are the ones `tests` were made with, for the words (MIN_SHIFT, NOISE_MULTIPLE)."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    min_shift = MIN_SHIFT if min_shift is None else min_shift
    noise_multiple = NOISE_MULTIPLE if noise_multiple is None else noise_multiple
    sp, mup = tests["sp"], tests["mup"]
    rule = (f"a move of the optimum from the narrowest width's, at any wider width, counts when it exceeds "
            f"{noise_multiple:g} times its seed noise and {min_shift:g} octave")
    moved = (f"SP's optimum moves by up to {abs(sp['shift']):.2f} octaves from width {sp['narrowest']:,}'s "
             f"(at width {sp['width']:,}) and muP's by up to {abs(mup['shift']):.2f} (at width {mup['width']:,})")
    if sp["moves"] is None or mup["moves"] is None:
        return Verdict(NOT_RESOLVED, f"{what}: {moved}, from one seed each; with no seed noise measured at this "
                       "profile, no verdict.", rule)
    against = f" (a shift counts above {_thresholds(tests, noise_multiple, min_shift)}){_ends_apart(tests)}"
    if sp["moves"] and not mup["moves"]:
        return Verdict(CONFIRMED, f"{what} reproduces the paper's pattern: {moved}{against}.", rule)
    if not sp["moves"] and not mup["moves"]:
        floored = [name for name, t in (("SP", sp), ("muP", mup))
                   if noise_multiple * t["noise"] < abs(t["shift"]) <= t["threshold"]]
        under = (f"; {' and '.join(floored)}'s {'is' if len(floored) == 1 else 'are'} beyond {noise_multiple:g} times "
                 f"the seed noise but under the {min_shift:g}-octave floor" if floored else "")
        return Verdict(NOT_RESOLVED, f"{what} does **not** show SP's drift at this scale: {moved}, neither above the "
                       f"threshold{against}{under}. The paper's shift builds up over a 32-fold range of widths and "
                       "longer training; whether it appears there is the GPU profiles' question.", rule)
    if mup["moves"] and not sp["moves"]:
        return Verdict(CONTRADICTED, f"{what} contradicts the paper: {moved}; muP's optimum moves beyond the threshold "
                       f"and SP's does not{against}.", rule)
    return Verdict(CONTRADICTED, f"{what} does not hold muP's optimum in place: {moved}, both beyond the "
                   f"threshold{against}.", rule)


def _ends_apart(tests):
    """Where a move that counts is read between the ends, how far apart the ends lie: "; muP's optima at
    widths 32 and 128 lie 0.04 octaves apart" ("" where none is)."""
    said = [f"{name}'s optima at widths {t['narrowest']:,} and {t['widest']:,} lie {abs(t['ends']):.2f} octaves apart"
            for name, t in (("SP", tests["sp"]), ("muP", tests["mup"])) if t["moves"] and t["width"] != t["widest"]]
    return f"; {' and '.join(said)}" if said else ""


def _thresholds(tests, noise_multiple, min_shift):
    """The threshold in words, with what sets it: "0.50 octaves, the larger of 2 times the seed noise of
    0.06 octaves and the 0.5-octave floor" (per parameterization where the two differ)."""
    sp, mup = tests["sp"], tests["mup"]
    if np.isclose(sp["noise"], mup["noise"]):
        return (f"{sp['threshold']:.2f} octaves, the larger of {noise_multiple:g} times the seed noise of "
                f"{sp['noise']:.2f} octaves and the {min_shift:g}-octave floor")
    return (f"{sp['threshold']:.2f} octaves for SP and {mup['threshold']:.2f} for muP, the larger of "
            f"{noise_multiple:g} times the seed noise ({sp['noise']:.2f} and {mup['noise']:.2f} octaves) and the "
            f"{min_shift:g}-octave floor")


def shift_number(tests):
    """The headline in octaves with its seed noise: "SP 2.09 ± 0.12, muP 0.04 ± 0.12 octaves; a shift
    counts above 0.50", each parameterization's largest move (`shift_tests`; "(one seed)" and no
    threshold where no seed noise was measured)."""
    sp, mup = tests["sp"], tests["mup"]
    said = f"SP {plus_minus(abs(sp['shift']), sp['noise'])}, muP {plus_minus(abs(mup['shift']), mup['noise'])} octaves"
    threshold = max(sp["threshold"], mup["threshold"])
    return said + (f"; a shift counts above {threshold:.2f}" if np.isfinite(threshold) else "")


def noise_ratio(test):
    """How many seed noises one parameterization's shift is (a `shift_tests` entry); nan without noise."""
    return abs(test["shift"]) / test["noise"] if test["noise"] > 0 else float("nan")


def shift_reading(tests):
    """Which optima a shift rule reads as moving with width (`shift_tests`), in words."""
    moves = bool(tests["sp"]["moves"]), bool(tests["mup"]["moves"])
    return {(True, False): "reads SP's optimum as moving with width and muP's as staying, the paper's pattern",
            (False, True): "reads muP's optimum as moving with width and SP's as staying, the opposite of the paper",
            (True, True): "reads both optima as moving with width",
            (False, False): "reads neither optimum as moving"}[moves]


def verdict_under(frame, metric, subject, **rule):
    """The sweep's verdict with the shift rule changed (`min_shift`, `noise_multiple`; the book's where
    not given)."""
    return verdict(shift_tests(frame, metric, **rule), subject, **rule)


def verdict_change(frame, metric, subject, **rule):
    """Whether the sweep's verdict word changes under a changed shift rule, against the book's rule."""
    book, changed = verdict_under(frame, metric, subject).word, verdict_under(frame, metric, subject, **rule).word
    return f"does not change ({book})" if book == changed else f"changes from {book} to **{changed}**"


def grid_step(frame):
    """The swept grid's coarsest step, in octaves of LR."""
    return float(np.diff(sorted(frame.log2_lr.unique())).max())


def move_reality_words(test, step, noise_multiple=NOISE_MULTIPLE, min_shift=MIN_SHIFT):
    """Whether one parameterization's largest move of the optimum (a `shift_tests` entry) is real, in words: against
    its seed noise and the floor, as a factor in the LR, and against the grid's `step` (octaves)."""
    move = abs(test["shift"])
    if test["moves"] is None:
        noise = "With one seed per width no seed noise is measured to say."
    elif move <= noise_multiple * test["noise"]:
        noise = (f"Not by the seed noise: it is {noise_ratio(test):.1f} times its seed noise, within the "
                 f"{noise_multiple:g} times that counts.")
    elif test["moves"]:
        noise = (f"By the book's rule it is: {noise_ratio(test):.1f} times its seed noise, and beyond the "
                 f"{min_shift:g}-octave floor.")
    else:
        noise = (f"It is beyond the seed noise ({noise_ratio(test):.1f} times it), but under the {min_shift:g}-octave "
                 "floor.")
    size = f"It is a factor of {2 ** move:.2f} in the learning rate"
    if move < step:
        size += (f", a fraction of the grid's step of {_octaves(step)}, and it comes from a parabola through three "
                 "grid points, whose shape error the seed noise does not measure.")
    else:
        size += f", {'more than' if move > step else 'as much as'} the grid's step of {_octaves(step)}."
    return f"{noise} {size}"


def band_cost_words(frame, metric, parameterization, tol=BAND_TOL):
    """What one rate for every width costs `parameterization`, in words: the rates of its shared band (`shared_band`),
    or, where it has none, how far the best single rate leaves the worst width above its own best loss."""
    band = shared_band(frame, metric, tol).get(parameterization, [])
    within = f"within {100 * tol:g}% of its own best loss"
    if band:
        rates = f"log₂ LR {band[0]:g}" if len(band) == 1 else f"log₂ LR {', '.join(f'{k:g}' for k in band)}"
        return (f"{'one rate' if len(band) == 1 else counted(len(band), 'rate')} ({rates}) "
                f"{'serves' if len(band) == 1 else 'serve'} every width {within}.")
    cost, k = transfer_cost(frame, metric).get(parameterization, (float("nan"), float("nan")))
    if not np.isfinite(cost):
        return f"no rate trained every width, so none serves them all {within}."
    return (f"no one rate serves every width {within}; the best single rate, log₂ LR {k:g}, leaves the worst width "
            f"{100 * cost:.1f}% above its own.")


def band_words(frame, metric, parameterization, what, tol=BAND_TOL):
    """`what`'s shared band under one parameterization in a sentence: "Under SP the GPT has none"."""
    band = shared_band(frame, metric, tol).get(parameterization, [])
    said = (f"{PARAMETERIZATIONS[parameterization]} {what} has " +
            ("none" if not band else f"one, log₂ LR {band[0]:g}" if len(band) == 1
             else f"{len(band)}, log₂ LR {band[0]:g} to {band[-1]:g}"))
    return f"Under {said}."


def floor_rests_words(frame, metric, subject, what, min_shift):
    """Whether `subject`'s verdict rests on the shift test's floor: whether it changes with the floor at
    `min_shift`, in words that follow "...not only unlikely to be noise; "."""
    book, lowered = verdict_under(frame, metric, subject).word, verdict_under(frame, metric, subject,
                                                                                min_shift=min_shift).word
    if book != lowered:
        return f"the chapter's \"{book}\" for {what} rests on it."
    return (f"the chapter's \"{book}\" for {what} does not rest on it: with the floor at {min_shift:g} octave it "
            "stays.")


def strict_bound_words(test, min_shift=MIN_SHIFT):
    """How far a stricter noise multiple k lets one parameterization's shift (a `shift_tests` entry) count, in words
    that follow "The threshold max(floor, k x noise) " and precede "move / noise ≈ ratio"."""
    if abs(test["shift"]) > min_shift:
        return "lets SP's shift count as long as *k* stays below"
    return (f"does not count SP's shift at any *k*: it lies under the {min_shift:g}-octave floor. Its move over its "
            "seed noise is")


def strict_margin_words(test, dof, what):
    """Whether SP's counted shift in `what` (its `shift_tests` entry) would survive a 95% test read with Student's t
    for `dof` degrees of freedom, in words that follow "puts that point at t rather than 2,"."""
    from lrlab.stats import t_point
    if test["moves"] is None or not dof:
        return "but with no seed noise measured there is no test to make stricter."
    ratio = noise_ratio(test)
    if not test["moves"]:
        return (f"and SP's move in {what}, {ratio:.1f} times its seed noise, does not count even under the book's "
                "rule: there is no drift for a lenient rule to have made.")
    point = t_point(dof)
    if ratio > 2 * point:
        return f"nowhere near {ratio:.0f}. SP's drift in {what} is no artefact of a lenient rule."
    if ratio > point:
        return (f"still below {ratio:.1f}: SP's drift in {what} survives that stricter test, though by less than a "
                "factor of two.")
    return (f"above {ratio:.1f}: at that test SP's drift in {what} would not count, and the book's multiple is the "
            "lenient side of it.")


def stricter_words(frame, metric, subject, what, noise_multiple):
    """Whether a stricter noise multiple can change `subject`'s verdict: not where no move counts; else the
    multiple beyond which each counted move stops counting and the verdict at `noise_multiple`, in words."""
    tests = shift_tests(frame, metric)
    counted = {PARAMETERIZATIONS[p]: noise_ratio(t) for p, t in tests.items() if t["moves"]}
    if not counted:
        return (f"{what}'s verdict cannot change in this direction: none of its moves counts, and a stricter rule "
                "only makes shifts count less.")
    moves = listed([f"{name}'s largest move is {ratio:.1f} times its seed noise" for name, ratio in counted.items()])
    change = verdict_change(frame, metric, subject, noise_multiple=noise_multiple)
    return (f"{what}'s verdict can change in this direction, as a move of its optimum counts ({moves}); at a "
            f"multiple of {noise_multiple:g} it {change}.")


def drift_words(tests, what):
    """Which of `what`'s optima drift by the shift test (`shift_tests`), in a sentence's opening (no full stop)."""
    if any(t["moves"] is None for t in tests.values()):
        return f"{what} at this scale has no seed noise to tell a drift from noise"
    moving = [PARAMETERIZATIONS[p] for p, t in tests.items() if t["moves"]]
    if not moving:
        return f"{what} at this scale has no drift to pay for under either parameterization"
    if len(moving) == len(tests):
        return f"{what} at this scale drifts under both parameterizations"
    return f"{what} at this scale drifts under {moving[0]} only"


def sp_gap_words(frame, metric, test, what):
    """Where SP's cheapest shared rate (`transfer_cost`) lies between the narrowest width's optimum and the widest's
    (`test`: SP's `shift_tests` entry), in words."""
    o = optima(frame, metric)
    o = o[o.parameterization == "sp"].set_index("width").log2_lr_opt.sort_index()
    first, last = float(o.iloc[0]), float(o.iloc[-1])
    _, k = transfer_cost(frame, metric).get("sp", (float("nan"), float("nan")))
    moved = ("drift" if test["moves"] else "move, with no seed noise measured to test it," if test["moves"] is None
             else "move, within the shift test's threshold,")
    said = (f"Under SP {what}'s optima {moved} by up to {abs(test['shift']):.2f} octaves, so a shared rate must lie "
            "between the optima, and each width pays part of the gap.")
    if not np.isfinite(k):
        return said
    where = (f"the first shared rate, log₂ LR {k:g}, against the narrowest net's optimum at {first:.2f} and the "
             f"widest's at {last:.2f}")
    if test["moves"] and last <= k < first and k - last < first - k:   # a drift down: the shape of the curves decides
        return (f"{said} It does not sit halfway: a loss curve rises gently below its optimum and steeply above it "
                f"(toward divergence), so {where}, lies nearer the widest net's, where the narrow nets are merely "
                "slow.")
    nearer = ("nearer the narrowest net's" if abs(k - first) < abs(k - last) else
              "nearer the widest net's" if abs(k - last) < abs(k - first) else "halfway between")
    return f"{said} Here {where}, lies {nearer}."


def mup_gap_words(frame, metric, tests):
    """What muP buys in the shared band: how close its optima lie against SP's (`shift_tests`) and what one rate for
    every width costs under each (`transfer_cost`), in words."""
    sp, mup = tests["sp"], tests["mup"]
    costs = transfer_cost(frame, metric)
    c_sp, c_mup = (costs.get(p, (float("nan"),))[0] for p in ("sp", "mup"))
    closer = "closer together" if abs(mup["shift"]) < abs(sp["shift"]) else "no closer together"
    said = (f"Under muP the optima lie {closer} (their largest move from the narrowest width's is "
            f"{abs(mup['shift']):.2f} octaves, SP's {abs(sp['shift']):.2f})")
    if not (np.isfinite(c_sp) and np.isfinite(c_mup)):
        return f"{said}; with a width untrained at every rate, the costs cannot be compared."
    numbers = f"{100 * c_mup:.1f}% under muP against {100 * c_sp:.1f}% under SP"
    if c_mup >= c_sp:
        return f"{said}, and one rate for every width costs no less: {numbers}. Here muP buys nothing."
    little = "little" if c_mup <= c_sp / 2 else "less"
    if mup["moves"]:
        return (f"{said}, and where a loss curve is flat near its bottom even a move beyond the shift test's "
                f"threshold costs {little}: {numbers}. That gap is what muP buys.")
    within = ", within the shift test's threshold," if mup["moves"] is not None else ""
    return f"{said}{within} and one rate for every width costs {little}: {numbers}. That gap is what muP buys."


def sweep_summary(frame, metric, subject, what):
    """The verdict (on `subject`, which opens its sentence), the shared band and the edge note (on `what`)
    of one sweep, as the paragraph the page glues."""
    tests = shift_tests(frame, metric)
    said = [verdict(tests, subject).text, seeds_note(frame, metric, tests), band_note(frame, metric, what),
            edge_note(frame, metric, what)]
    return " ".join(part for part in said if part)


# the coordinate check's protocol: SGD at this rate on one fixed batch of COORD_BATCH images, COORD_SEEDS seeds
# (two seeds left muP's initial factor 3.9 of their errors from its prediction; eight put it within noise)
COORD_LR, COORD_BATCH, COORD_SEEDS = 0.1, 64, 8
# the check's last step: t = 1 at initialisation, then one t after each of COORD_STEPS - 1 SGD steps
COORD_STEPS = 3
# a layer's output "grows with width" when it grows faster than width ** this: halfway between muP's flat
# logits (exponent 0) and SP's after an update, whose move is a sum of n terms of one sign (exponent 1)
COORD_GROWTH_EXPONENT = 0.5


def coord_check(profile, parameterization, nsteps=COORD_STEPS):
    """`mup`'s coordinate check of the MLP at the chapter's widths (COORD_SEEDS seeds; t = 1, ..., nsteps: at
    initialisation and after each SGD step at COORD_LR on one batch of COORD_BATCH): mean |output| per layer,
    width and step; the whole network's row ("") dropped, being the readout's."""
    from lrlab.coord_check import mlp_coord_check
    widths = COORD_CHECK_WIDTHS.get(profile, COORD_CHECK_WIDTHS["default"])
    frame = mlp_coord_check(widths, parameterization, lr=COORD_LR, nsteps=nsteps, nseeds=COORD_SEEDS,
                            base_width=MLP_SETTINGS[profile]["base_width"], batch=COORD_BATCH)
    return frame[frame.module != ""]


def readout_growth(coords, t=COORD_STEPS):
    """How much the readout's mean |output| at step `t` (1: at initialisation) grows from the narrowest
    width to the widest; nan where the check has no step `t`."""
    last = coords[(coords.t == t) & (coords.module == "readout")].groupby("width").l1.mean()
    return float(last.iloc[-1] / last.iloc[0]) if len(last) else float("nan")


def readout_growth_error(coords, t=COORD_STEPS):
    """The seed error of `readout_growth`, as a fraction of it: the SD of log |output| between the seeds at a
    width, pooled over the widths, for a ratio of two seed means; nan with one seed."""
    from lrlab.stats import pooled_sd
    readout = coords[(coords.t == t) & (coords.module == "readout")]
    sd, _ = pooled_sd(np.log(g.l1.to_numpy(float)) for _, g in readout.groupby("width"))
    n = readout.groupby("width").size().sort_index()
    return float(sd * np.sqrt(1 / n.iloc[0] + 1 / n.iloc[-1])) if len(n) else float("nan")


def _grows(factor, ratio):
    return factor > ratio ** COORD_GROWTH_EXPONENT


def coord_growth_words(coords, t=COORD_STEPS):
    """What the coordinate check at step `t` says (`coords`: parameterization -> its frame), in words: whose
    logits grow with width (faster than width ** COORD_GROWTH_EXPONENT) and whether muP passes."""
    widths = sorted(coords["sp"].width.unique())
    ratio = widths[-1] / widths[0]
    sp, mup = (_grows(readout_growth(coords[p], t), ratio) for p in ("sp", "mup"))
    faster = ("faster than the width's square root" if COORD_GROWTH_EXPONENT == 0.5
              else f"faster than width^{COORD_GROWTH_EXPONENT:g}")
    if mup:
        also = " as SP's do" if sp else ""
        return (f"muP's logits grow with width ({faster}){also}. The muP model fails the check, and the muP sweep "
                "below cannot be taken at its word.")
    if sp:
        return (f"once training starts, SP's logits grow with width ({faster}) and muP's do not. The muP model "
                "is built right, and the sweep below can be believed.")
    return (f"neither parameterization's logits grow with width ({faster}) at these widths, so the check does not "
            "tell the two apart here; muP's do not grow, the muP model passes, and the sweep below can be believed.")


def coord_init_words(coords, t=1, noise_multiple=NOISE_MULTIPLE):
    """The coordinate check at initialisation against the theory (`coords`: parameterization -> its frame):
    SP's readout the same size at every width, muP's shrinking as 1/sqrt(width); each measured factor within
    `noise_multiple` times its seed error of that, or how many errors off. At another step the theory does not
    hold, and the sentence says so."""
    widths = sorted(coords["sp"].width.unique())
    predicted = {"sp": 1.0, "mup": float(np.sqrt(widths[0] / widths[-1]))}
    measured = {p: readout_growth(coords[p], t) for p in predicted}
    if t != 1:
        return (f"(At t = {t} the check measured {measured['sp']:.2f} under SP and {measured['mup']:.2f} under muP: "
                "these predictions are for initialisation, t = 1.)")
    seeds = int(coords["sp"].groupby(["width", "t", "module"]).size().min())
    errors = {p: readout_growth_error(coords[p], t) for p in predicted}
    factors = f"{measured['sp']:.2f} under SP and {measured['mup']:.2f} under muP"
    if not all(np.isfinite(e) and e > 0 for e in errors.values()):
        return f"The measured factors are {factors}, from one seed, with no seed error to read them against."
    off = {PARAMETERIZATIONS[p]: abs(np.log(measured[p] / predicted[p])) / errors[p] for p in predicted}
    spread = (f"{errors['sp']:.0%} and {errors['mup']:.0%} of each (the spread of {counted(seeds, 'seed')} at each "
              f"width, on one batch of {COORD_BATCH} images)")
    beyond = [name for name, n in off.items() if n > noise_multiple]
    if not beyond:
        return (f"The measured factors, {factors}, differ from these by sampling noise: by less than "
                f"{noise_multiple:g} times their seed errors of {spread}.")
    lies = listed([f"{name}'s lies {off[name]:.1f} seed errors from its prediction" for name in beyond])
    return (f"The measured factors are {factors}, with seed errors of {spread}: {lies}, further than the spread of "
            "the seeds accounts for.")


def coord_updates_words(coords, t=COORD_STEPS):
    """Whether muP's readout factor at step `t` lies between its factor at initialisation and 1, as it must
    when updates of the same size at every width take over from a shrinking initial part; in words."""
    start, now = readout_growth(coords["mup"], 1), readout_growth(coords["mup"], t)
    if min(start, 1.0) <= now <= max(start, 1.0) and abs(np.log(now)) < abs(np.log(start)):
        side = "below" if now < 1 else "above"
        return (f"That is why muP's factor at t = {t}, {now:.2f}, is {side} 1, and nearer 1 than at t = 1, "
                f"{start:.2f}, as the updates take over.")
    return (f"So muP's factor at t = {t} should lie between its value at t = 1, {start:.2f}, and 1; it is {now:.2f}, "
            "which this argument does not explain.")


def claim_words(tests):
    """The verdict word of each of the paper's two claims, read from `shift_tests`: SP's optimum moves
    (not seeing it at small widths leaves it open), muP's stays (seeing it move contradicts it)."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED
    sp, mup = tests["sp"]["moves"], tests["mup"]["moves"]
    return {"sp": NOT_RESOLVED if sp is None or not sp else CONFIRMED,
            "mup": NOT_RESOLVED if mup is None else CONTRADICTED if mup else CONFIRMED}


def wider_word(frame, metric):
    """The paper's "wider is weakly better at every fixed LR" under muP: confirmed when no rise beyond
    seed noise at any LR, contradicted otherwise; not resolved with no seed noise measured."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED
    if not np.isfinite(loss_noise(frame, metric)):
        return NOT_RESOLVED
    kept, of = wider_is_better(frame, metric)["mup"]
    return CONFIRMED if kept == of else CONTRADICTED


def versus(mlp, gpt, mlp_profile, gpt_profile):
    """The paper's claims beside our numbers, each with the verdict of its rule."""
    import pandas as pd
    tests, gtests = shift_tests(mlp, "final_train_loss"), shift_tests(gpt, "final_test_loss")
    words, gwords = claim_words(tests), claim_words(gtests)
    shift = {p: t["shift"] for p, t in tests.items()}
    gshift = {p: t["shift"] for p, t in gtests.items()}
    ordered = wider_is_better(mlp, "final_train_loss")
    mlp_widths = f"{int(mlp.width.min())} to {int(mlp.width.max())}, {mlp_profile}"
    gpt_word = gwords["mup"] if gwords["mup"] != "confirmed" else gwords["sp"]
    return pd.DataFrame([
        {"claim": "SP: optimum moves with width (MLP, 256 to 8192)",
         "paper": "about an order of magnitude (Fig. 3)", "ours": f"{2 ** abs(shift['sp']):.1f}x ({mlp_widths})",
         "verdict": words["sp"]},
        {"claim": "muP: optimum stays put (MLP)",
         "paper": "stable across widths (Fig. 3)", "ours": f"{2 ** abs(shift['mup']):.1f}x ({mlp_widths})",
         "verdict": words["mup"]},
        {"claim": "muP: wider is weakly better at every fixed LR (MLP)",
         "paper": "always (Fig. 3)",
         "ours": f"at {ordered['mup'][0]} of {ordered['mup'][1]} LRs (SP: {ordered['sp'][0]} of {ordered['sp'][1]})",
         "verdict": wider_word(mlp, "final_train_loss")},
        {"claim": "Transformer: SP optimum moves, muP's does not",
         "paper": "Fig. 1 (wikitext-2, d_model 128 to 8192, Adam)",
         "ours": f"SP {2 ** abs(gshift['sp']):.1f}x, muP {2 ** abs(gshift['mup']):.1f}x "
                 f"(char GPT {int(gpt.width.min())} to {int(gpt.width.max())}, {gpt_profile})",
         "verdict": gpt_word},
    ])


def versus_of(chapter):
    """`versus` read from a chapter: both sweeps, each at its own profile."""
    return versus(sweep_frame(chapter.runs("mlp")), sweep_frame(chapter.runs("gpt")), chapter.profile_of("mlp"),
                  chapter.profile_of("gpt"))


def width_exponent(optimum, parameterization, sd=float("nan")):
    """(exponent, standard error): the optimal LR fitted as width**exponent on log-log axes, over the
    widths of one parameterization; the error from the optimum's seed noise `sd` (octaves, one seed
    per point), nan without it; (nan, nan) with fewer than two widths."""
    o = optimum[optimum.parameterization == parameterization].dropna()
    if o.width.nunique() < 2:   # no slope through one width
        return float("nan"), float("nan")
    x, y = np.log2(o.width.to_numpy(float)), o.log2_lr_opt.to_numpy(float)
    slope = float(np.polyfit(x, y, 1)[0])
    return slope, float(sd / np.sqrt(((x - x.mean()) ** 2).sum()))


def exponents_without(optimum, sd, skip):
    """(kept widths, {parameterization: (exponent, standard error)}): `width_exponent` fitted with the
    `skip` narrowest widths left out, to see how much the narrow end sets the slope."""
    kept = sorted(optimum.width.unique())[skip:]
    trimmed = optimum[optimum.width.isin(kept)]
    return kept, {p: width_exponent(trimmed, p, sd) for p in ("sp", "mup")}

def fit_through_words(kept):
    """How a slope through the `kept` widths is read, in words: "the difference of their log₂ η" for two widths an
    octave apart."""
    if len(kept) < 2:
        return "(with one width there is no slope)"
    if len(kept) == 2:
        octaves = np.log2(kept[1] / kept[0])
        return ("(with two widths an octave apart, the difference of their log₂ η)" if octaves == 1 else
                f"(with two widths {octaves:g} octaves apart, the difference of their log₂ η over {octaves:g})")
    return f"(a least-squares slope through {counted(len(kept), 'width')})"


def spread_words(widths, kept):
    """How leaving widths out shrinks the fit's sum of squares in log₂ width, in words: "from 2 to 1/2 here"."""
    from fractions import Fraction

    def spread(ws):
        x = np.log2(np.asarray(ws, float))
        return Fraction(float(((x - x.mean()) ** 2).sum())).limit_denominator(1000)
    return f"from {spread(widths)} to {spread(kept)} here"


def fell_or_rose(shift):
    """The direction of a move of the optimum, as a verb in the past."""
    return "fell" if shift < 0 else "rose" if shift > 0 else "moved"


def slope_verb(slope, se):
    """How the best LR goes with width by a fitted exponent and its standard error: "falls", "rises" (beyond two
    errors; by the sign where no error was measured), or "moves"."""
    reach = 2 * se if np.isfinite(se) else 0.0
    return "falls" if slope + reach < 0 else "rises" if slope - reach > 0 else "moves"


ADAM_EXPONENT = -1.0   # Adam's update does not shrink with the gradient: eta x n per hidden input, held fixed


def exponent_theory_words(slope, se):
    """The opening of the argument for Adam's exponent of -1 against 1/sqrt(width)'s -1/2, as far as SP's fitted
    exponent (`width_exponent`) bears it out; plain text, followed by the argument."""
    if np.isfinite(se) and abs(slope - ADAM_EXPONENT) <= 2 * se < abs(slope - SQRT_EXPONENT):
        return "Why −1 rather than −1/2:"
    if abs(slope - ADAM_EXPONENT) < abs(slope - SQRT_EXPONENT):
        return f"Why nearer −1 than −1/2 (SP's exponent over every width is {slope:+.2f}):"
    return f"SP's exponent over every width, {slope:+.2f}, lies nearer −1/2 than the −1 this argument gives:"


def mup_fit_words(slope, se):
    """muP's width exponent over the widths of a trimmed fit (`exponents_without`), which should be 0, in words."""
    if not np.isfinite(slope):
        return "muP's exponent cannot be fitted over the same widths: too few of them have a best rate."
    if not np.isfinite(se):
        return f"muP's exponent over the same widths is {slope:+.2f}, with no seed error to read it against."
    if abs(slope) > 2 * se:
        return (f"muP's exponent over the same widths, {slope:+.2f}, more than two errors from the 0 muP is built for, "
                "is the warning.")
    return f"muP's exponent over the same widths, {slope:+.2f}, lies within two errors of the 0 muP is built for."


def gpt_head_size():
    """The character GPT's head size (`models.GPT_HEAD_SIZE`, which `build_model` keeps)."""
    from lrlab.models import GPT_HEAD_SIZE
    return GPT_HEAD_SIZE


def gpt3_range_words(widths):
    """Our GPT's range of widths against GPT-3's d_model in Table 2.1, as folds, in words that follow "over"."""
    ours, theirs = max(widths) / min(widths), GPT3_TABLE_2_1[-1][2] / GPT3_TABLE_2_1[0][2]
    said = f"{ours:g}-fold, against GPT-3's {theirs:g}-fold"
    if ours <= theirs / 2:
        return f"its much narrower range of widths ({said})"
    if ours < theirs:
        return f"its narrower range of widths ({said})"
    return f"a range of widths {'as wide' if ours == theirs else 'wider'} in ratio ({said})"


def published_width_exponent():
    """GPT-3's Table 2.1 fitted the same way: its peak LR as d_model**exponent."""
    x = np.log2([row[2] for row in GPT3_TABLE_2_1])
    return float(np.polyfit(x, np.log2([row[3] for row in GPT3_TABLE_2_1]), 1)[0])


# "HPs generally transfer across scale dimensions if some minimum width (e.g. 256), depth (e.g., 4),
# batch size (e.g., 32), sequence length (e.g., 128), and training steps (e.g., 5000) are met"
# (Yang et al. 2022, section 6.1, Transformers)
TRANSFER_MINIMUMS = (("width", 256), ("depth", 4), ("batch size", 32), ("sequence length", 128),
                     ("training steps", 5000))


def minimums_note(gpt):
    """Which of the paper's minimums for transfer our GPT runs fall short of, in a sentence."""
    first = gpt.iloc[0]
    ours = {"width": int(gpt.width.min()), "depth": int(first.depth), "batch size": int(first.batch_size),
            "sequence length": int(first.block_size), "training steps": int(first.epochs * first.steps_per_epoch)}
    short = [f"{name} ({ours[name]:,}; the paper's example {minimum:,})" for name, minimum in TRANSFER_MINIMUMS
             if ours[name] < minimum]
    if not short:
        return "Our GPT runs meet every one of them."
    listed = short[0] if len(short) == 1 else ", ".join(short[:-1]) + " and " + short[-1]
    return ("Our GPT runs fall short of them in " + listed + ": read their numbers as a "
            "demonstration of the method, not a measurement of how well it transfers at scale.")


# -- Part 3: weight decay under muP (the decay swept at one rate; read as the LR's optimum is, along log2 decay)

DECAY_METRIC = "final_test_loss"   # decay is a regulariser: what it buys shows on held-out data


def decay_frame(runs):
    """Part 3's runs (a `Chapter.runs` frame) with `log2_decay`, log2 of the normalised decay lambda_norm
    (lrlab.experiments.weight_decay; NaN for the no-decay runs)."""
    import pandas as pd
    from lrlab.experiments.weight_decay import lambda_from_normalized
    per_unit = [lambda_from_normalized(1.0, b, train_images(None if pd.isna(k) else k), e)
                for b, k, e in zip(runs.batch_size, runs.train_per_class, runs.epochs)]
    decayed = runs.weight_decay > 0
    return runs.assign(log2_decay=np.where(decayed, np.log2(runs.weight_decay.where(decayed, 1) / per_unit), np.nan))


def _along_decay(frame):
    """The decayed runs with `log2_decay` as the swept axis: the shift test reads its axis from `log2_lr`."""
    decayed = frame[frame.weight_decay > 0]
    return decayed.assign(log2_lr=decayed.log2_decay)


def decay_curves(frame, metric=DECAY_METRIC):
    """Mean final metric per (width, log2 decay) over seeds, as `curves` (the no-decay runs left out)."""
    return curves(_along_decay(frame), metric).rename(columns={"log2_lr": "log2_decay"})


def decay_optima(frame, metric=DECAY_METRIC):
    """Per width, log2 of the best normalised decay: the grid minimum of the seed-mean metric refined by a
    parabola, as `optima` reads the best LR (no rows while no decayed run is recorded)."""
    import pandas as pd
    along = _along_decay(frame)
    if along.empty:
        return pd.DataFrame(columns=["parameterization", "width", "log2_decay_opt"])
    return optima(along, metric).rename(columns={"log2_lr_opt": "log2_decay_opt"})


def decay_seed_optima(frame, metric=DECAY_METRIC):
    """Each seed's own best log2 decay per width, as `seed_optima`."""
    import pandas as pd
    along = _along_decay(frame)
    if along.empty:
        return pd.DataFrame(columns=["parameterization", "width", "seed", "log2_decay_opt"])
    return seed_optima(along, metric).rename(columns={"log2_lr_opt": "log2_decay_opt"})


def decay_shift_test(frame, metric=DECAY_METRIC):
    """muP's best decay, its largest move from the narrowest width's against its seed noise (`shift_tests`'s
    entry, in octaves of decay); every number NaN while no decayed run is recorded."""
    along = _along_decay(frame)
    if along.empty:
        nan, w0 = float("nan"), int(frame.width.min())
        return dict(shift=nan, narrowest=w0, width=w0, noise=nan, threshold=nan, ends=nan, widest=w0, moves=None)
    return shift_tests(along, metric)["mup"]


def decay_rate_words(mlp, decay):
    """Where Part 3's one rate sits in Part 1 (`mlp`: its `sweep_frame`): "the best training-loss rate of every
    muP width in Part 1", or which widths it is best for and where the others do best."""
    k = float(np.log2(decay.lr.iloc[0]))
    c = curves(mlp[(mlp.parameterization == "mup") & mlp.width.isin(decay.width.unique())], "final_train_loss")
    best = {int(w): float(cw.log2_lr[cw["mean"].idxmin()]) for w, cw in c.dropna(subset=["mean"]).groupby("width")}
    if not best:
        return "a rate Part 1 has not yet run"
    if all(b == k for b in best.values()):
        return "the best training-loss rate of every muP width in Part 1"
    others = listed([f"width {w:,} at log₂ {b:g}" for w, b in best.items() if b != k])
    at = [w for w, b in best.items() if b == k]
    where = f"the best training-loss rate of muP width{'s' * (len(at) > 1)} {listed([f'{w:,}' for w in at])}" if at \
        else "not the best training-loss rate of any muP width"
    return f"{where} in Part 1 ({others})"


def decay_grid_words(frame):
    """The decays swept, in words: "8 normalised decays, log₂ λ_norm -9 to -2, one octave apart"."""
    grid = sorted(frame.log2_decay.dropna().unique())
    if not grid:
        return "no decay yet (only the runs without decay are recorded)"
    if len(grid) == 1:
        return f"one normalised decay, log₂ λ_norm {grid[0]:g}"
    steps = set(np.round(np.diff(grid), 6))
    spacing = f", {_octaves(steps.pop())} apart" if len(steps) == 1 else ""
    return f"{len(grid)} normalised decays, log₂ λ_norm {grid[0]:g} to {grid[-1]:g}{spacing}"


def decay_best_words(frame, paper, metric=DECAY_METRIC):
    """Where the widths' best normalised decays lie, beside Loshchilov & Hutter's best (`paper`: low, high);
    "" while none is measured."""
    best = decay_optima(frame, metric).log2_decay_opt.astype(float).dropna()
    if best.empty:
        return ""
    lo, hi = 2 ** best.min(), 2 ** best.max()
    where = f"lies between {lo:.3f} and {hi:.3f}" if len(best) > 1 else f"is {lo:.3f}"
    return (f"The best normalised decay {where} across the widths; Loshchilov & Hutter's best, for ResNets on "
            f"CIFAR-10, lay at {paper[0]:g} to {paper[1]:g} (their Appendix B.1).")


def decay_noise(frame, metric=DECAY_METRIC):
    """(SD, dof): one run's seed noise in `metric`, pooled over every (width, decay) with two seeds or more."""
    ok = frame[frame.status == "completed"]
    return pooled_sd(g[metric] for _, g in ok.groupby(["width", "weight_decay"]))


def decay_gains(frame, metric=DECAY_METRIC):
    """Per width, what the best decay buys against none: rows of width, best (the seed-mean metric at the grid's
    best decay), none (without decay), gap (best - none), margin and sign (`best_gap`: the best of the grid's
    decays against the one no-decay cell, each a mean over the width's seeds)."""
    import pandas as pd
    from lrlab.stats import best_gap
    sd, _ = decay_noise(frame, metric)
    ok = frame.assign(value=frame[metric].where(frame.status == "completed"))
    rows = []
    for w, at in ok.groupby("width"):
        means = at.groupby("weight_decay").value.mean()
        decayed, seeds = means[means.index > 0].dropna(), at.seed.nunique()
        if 0.0 not in means.index or not len(decayed):
            continue
        gap, margin, sign = best_gap(decayed.min(), len(decayed), means[0.0], 1, sd / np.sqrt(seeds))
        rows.append(dict(width=int(w), best=float(decayed.min()), none=float(means[0.0]), gap=float(gap),
                         margin=float(margin), sign=int(sign), seeds=int(seeds)))
    return pd.DataFrame(rows, columns=["width", "best", "none", "gap", "margin", "sign", "seeds"])


def decay_edges(frame, metric=DECAY_METRIC):
    """The widths whose best seed-mean decay is the grid's smallest or largest: there the optimum may lie
    beyond the grid."""
    c = decay_curves(frame, metric).dropna(subset=["mean"])
    return [int(w) for w, cw in c.groupby("width")
            if cw.log2_decay[cw["mean"].idxmin()] in (c.log2_decay.min(), c.log2_decay.max())]


def decay_table(frame, metric=DECAY_METRIC):
    """Per width: the best decay (log2 and lambda_norm, parabola-refined), the seed-mean test loss at the grid's
    best decay and without decay, and the difference."""
    import pandas as pd
    best, gains = decay_optima(frame, metric), decay_gains(frame, metric)
    table = best.merge(gains, on="width")
    return pd.DataFrame({"width": table.width, "best log₂ λ_norm": table.log2_decay_opt,
                         "best λ_norm": 2.0 ** table.log2_decay_opt, "test loss, best decay": table.best,
                         "no decay": table.none, "difference": table.gap})


def decay_gain_words(gains):
    """What the best decay buys at each width, in a sentence (`decay_gains`)."""
    if not len(gains):
        return ""
    beyond = int((gains.sign < 0).sum())
    said = (f"the grid's best decay lowers the test loss by {-gains.gap.max():.3f} to {-gains.gap.min():.3f} against "
            f"no decay" if (gains.gap < 0).all() else
            f"the grid's best decay changes the test loss by {gains.gap.min():+.3f} to {gains.gap.max():+.3f} against "
            "no decay")
    if not np.isfinite(gains.margin).all():
        return f"Width by width, {said}; no seed noise is measured to weigh the difference against."
    seeds = int(gains.seeds.min())
    margins = sorted(set(np.round(gains.margin, 3)))
    margin = f"{margins[0]:.3f}" if len(margins) == 1 else f"{margins[0]:.3f} to {margins[-1]:.3f}"
    where = ("at every width" if beyond == len(gains) else "at no width" if not beyond
             else f"at {beyond} of {len(gains)} widths")
    return (f"Width by width, {said}; the difference lies beyond seed noise {where} (a margin of {margin}: "
            f"2√2 seed SDs of a {seeds}-seed mean, plus what picking the best of the grid's decays gains by chance "
            "alone).")


DECAY_RULE = (f"muP's best decay (the parabola-refined minimum of the seed-mean test loss over log₂ of the normalised "
              f"decay) moves from the narrowest width's, at some wider width, by more than {NOISE_MULTIPLE:g} times "
              f"its seed noise and {MIN_SHIFT:g} octave: confirmed (the decay does not transfer); within that at every "
              "width: contradicted; not resolved without seed noise, where decay beats no decay beyond seed noise at "
              "no width, or where a width's best decay is the grid's edge")


def decay_transfer_verdict(frame, metric=DECAY_METRIC):
    """The seed claim "weight decay [does] not transfer under muP", read off Part 3 by DECAY_RULE."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    if not (frame.weight_decay > 0).any():
        return Verdict(NOT_RESOLVED, "No run with weight decay is recorded yet at this profile.", DECAY_RULE)
    test, gains, edges = decay_shift_test(frame, metric), decay_gains(frame, metric), decay_edges(frame, metric)
    moved = (f"muP's best decay moves by up to {abs(test['shift']):.2f} octaves from width {test['narrowest']:,}'s "
             f"(at width {test['width']:,})")
    number = f"{plus_minus(abs(test['shift']), test['noise'])} octaves"
    if np.isfinite(test["threshold"]):
        number += f"; a shift counts above {test['threshold']:.2f}"
        moved += (f", against a threshold of {test['threshold']:.2f} octaves (the larger of {NOISE_MULTIPLE:g} times "
                  f"the move's seed noise, {test['noise']:.2f} octaves, and the {MIN_SHIFT:g}-octave floor)")
    only = " Weight decay only: our models have no dropout."
    if test["moves"] is None:
        return Verdict(NOT_RESOLVED, f"{moved}, from one seed each: no seed noise measured, no verdict.{only}",
                       DECAY_RULE, number)
    if not len(gains) or not (gains.sign < 0).any():
        return Verdict(NOT_RESOLVED, f"No decay lowers the test loss beyond seed noise at any width, so there is no "
                       f"best decay to transfer; {moved}.{only}", DECAY_RULE, number)
    if edges:
        return Verdict(NOT_RESOLVED, f"The best decay is the grid's edge at width{'s' * (len(edges) > 1)} "
                       f"{listed([f'{w:,}' for w in edges])}, so the optimum may lie beyond it; {moved}.{only}",
                       DECAY_RULE, number)
    if test["moves"]:
        return Verdict(CONFIRMED, f"Under muP the best weight decay does not stay put: {moved}.{only}",
                       DECAY_RULE, number)
    return Verdict(CONTRADICTED, f"Here the best weight decay transfers under muP: {moved}, within the threshold at "
                   f"every width.{only}", DECAY_RULE, number)


# -- the seed articles' claims this chapter answers (the claims scorecard reads `verdicts` and `bands`)

SQRT_EXPONENT = -0.5   # "peak eta tracks 1 / sqrt(model_width)"


def exponent_verdicts(slope, se):
    """Two claims on SP's fitted width exponent of the best LR (`width_exponent`): larger models want a
    smaller LR (the exponent below 0 by two standard errors), and the LR tracks 1/sqrt(width) (-0.5
    within two standard errors). Returns (smaller, sqrt) Verdicts; not resolved without seed noise."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    number = f"exponent {with_error(slope, se)}"
    if not np.isfinite(se):
        v = Verdict(NOT_RESOLVED, f"SP's best LR goes as width^{slope:+.2f}; no seed noise measured.",
                    "no seed noise measured", number)
        return v, v
    smaller = Verdict(CONFIRMED if slope + 2 * se < 0 else CONTRADICTED if slope - 2 * se > 0 else NOT_RESOLVED,
                      f"SP's best LR goes as width^({slope:+.2f} ± {se:.2f}).",
                      "the fitted exponent lies below 0 by more than two standard errors: confirmed; above: contradicted",
                      number)
    sqrt = Verdict(CONFIRMED if abs(slope - SQRT_EXPONENT) <= 2 * se else CONTRADICTED,
                   f"SP's best LR goes as width^({slope:+.2f} ± {se:.2f}); 1/sqrt(width) would be "
                   f"{SQRT_EXPONENT:+.1f}. GPT-3's table fits {published_width_exponent():+.2f}.",
                   "-0.5 lies within two standard errors of the fitted exponent: confirmed; outside: contradicted", number)
    return smaller, sqrt


def factor_two_effects(frame):
    """For each SP width w with a width 2w beside it: at w's best rate (the grid's best seed-mean test
    accuracy), how much a factor of 2 in the rate changes the accuracy (the mean of the two neighbours'
    absolute changes, in points) and how much doubling the width at that rate does."""
    import pandas as pd
    ok = frame.assign(acc=100 * frame.final_test_acc.where(frame.status == "completed"))
    table = ok[ok.parameterization == "sp"].groupby(["width", "log2_lr"]).acc.mean().unstack(0)
    rows = []
    for w in table.columns:
        if 2 * w not in table.columns or table[w].isna().all():
            continue
        k = table[w].idxmax()
        sides = [abs(table[w][k] - table[w][k + d]) for d in (-1, 1) if k + d in table.index]
        sides = [x for x in sides if np.isfinite(x)] or [float("nan")]
        rows.append(dict(width=int(w), log2_lr=float(k), lr_effect=float(np.mean(sides)),
                         width_effect=float(abs(table[2 * w][k] - table[w][k]))))
    return pd.DataFrame(rows)


def factor_two_verdict(effects, seed_sd):
    """"Varying the step size by a factor of two often changes final accuracy more than ... doubling the model
    size": over the SP width pairs of `factor_two_effects` (one table or several, concatenated), a pair counts
    for the claim when the rate's effect exceeds the width's by more than 2 sqrt 2 seed SDs, against it when
    the width's exceeds the rate's by as much. Confirmed when at least half the pairs count for it,
    contradicted when more than half count against it."""
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict
    rule = ("per SP width pair, a factor 2 in the rate (mean of both neighbours) against doubling the width at the "
            "narrower net's best rate, a difference counting beyond 2 sqrt 2 seed SDs; at least half the pairs for "
            "the claim: confirmed; more than half against: contradicted")
    if not len(effects) or not np.isfinite(seed_sd):
        return Verdict(NOT_RESOLVED, "No width pair with seed noise measured.", rule)
    margin = 2 * np.sqrt(2) * seed_sd
    d = effects.lr_effect - effects.width_effect
    more, less, n = int((d > margin).sum()), int((d < -margin).sum()), len(effects)
    number = (f"rate matters more in {more} of {n} pairs, width in {less} (median {effects.lr_effect.median():.1f} "
              f"against {effects.width_effect.median():.1f} points)")
    said = (f"Over {n} pairs of SP widths, a factor of 2 in the rate around the best changes test accuracy by "
            f"{effects.lr_effect.median():.1f} points (median), doubling the width at that rate by "
            f"{effects.width_effect.median():.1f}; beyond the noise margin of {margin:.1f} points the rate matters "
            f"more in {more} pairs and the width in {less}.")
    word = CONFIRMED if more >= n / 2 else CONTRADICTED if less > n / 2 else NOT_RESOLVED
    return Verdict(word, said, rule, number)


def bands(chapter):
    """The near-optimal LR band (`near_best.Band`) of every (sweep, parameterization, width) curve,
    margin 2 sqrt(2) x one run's seed SD (two single runs); {} where no seed noise was measured."""
    from lrlab.near_best import near_best_band
    out = {}
    for part, metric, label in (("mlp", "final_train_loss", "MLP"), ("gpt", "final_test_loss", "char GPT")):
        if not chapter.has(part):
            continue
        frame = sweep_frame(chapter.runs(part))
        margin = 2 * np.sqrt(2) * loss_noise(frame, metric)
        for (p, w), c in curves(frame, metric).groupby(["parameterization", "width"]):
            band = near_best_band(c.log2_lr, c["mean"], margin, f"{label} {PARAMETERIZATIONS[p]} width {w}",
                                  chapter.profile_of(part))
            if band is not None:
                out[(part, p, int(w))] = band
    return out


def verdicts(chapter):
    """The seed claims this chapter answers, by name (the claims scorecard reads them)."""
    from lrlab.verdict import at_profile
    out = {}
    for part, metric, subject in (("mlp", "final_train_loss", "The MLP"), ("gpt", "final_test_loss", "The character GPT")):
        if chapter.has(part):
            frame = sweep_frame(chapter.runs(part))
            tests = shift_tests(frame, metric)
            v = verdict(tests, subject)
            out[f"{part}_shift"] = replace(v, number=shift_number(tests), profile=chapter.profile_of(part))
    parts = [part for part in ("mlp", "gpt") if chapter.has(part)]
    if parts:
        import pandas as pd
        frames = [sweep_frame(chapter.runs(part)) for part in parts]
        sd = pooled_sd(g.final_test_acc.to_numpy() * 100 for f in frames
                       for _, g in f[f.status == "completed"].groupby(["parameterization", "width", "lr"]))[0]
        effects = pd.concat([factor_two_effects(f) for f in frames], ignore_index=True)
        out["factor_two_vs_width"] = replace(factor_two_verdict(effects, sd),
                                             profile=" + ".join(dict.fromkeys(chapter.profile_of(p) for p in parts)))
    if chapter.has("mlp_decay"):
        decay = decay_frame(chapter.runs("mlp_decay"))
        out["decay_transfer"] = replace(decay_transfer_verdict(decay), profile=chapter.profile_of("mlp_decay"))
    if chapter.has("gpt"):
        gpt = sweep_frame(chapter.runs("gpt"))
        slope, se = width_exponent(optima(gpt, "final_test_loss"), "sp", optimum_noise(gpt, "final_test_loss")[0])
        smaller, sqrt = exponent_verdicts(slope, se)
        out.update(at_profile({"smaller_when_larger": smaller, "inverse_sqrt_width": sqrt}, chapter.profile_of("gpt")))
    return out
