"""The book's cost goals against the records: each goal, its target, what was measured (on which
device, when) and the verdict: met, missed, or pending where the records that would settle it are
not there yet. The goals are the issues' own: the GPU-jobs issue's (a job of at most about 9 minutes),
the stacked-training issue's (stacks never lose on the CPU; a ResNet-20 grid at 10% of an H100's
bf16 peak; MLP grids 8x their runs one after another; Tier 1 and 2 of the queue in 16 minutes at
measured speed), the ResNet-56 loop's, and the CPU's (the quick profile, `make book`, `make test`)."""
import pandas as pd

from lrlab.book.reproduction_cost import short_device, stacked_rows
from lrlab.queue import JOB_MINUTES_AT_MOST
from lrlab.results import Store
from lrlab.stacking import CUDA_GRAPHS_SINCE, ONE_GATHER_SINCE, SIDE_BY_SIDE_SINCE, is_fused_row

STACK_CPU_K = 8


def goals(bench, runs, commands, results, queue_rows=None):
    """One row per goal: goal, target, measured, verdict. `queue_rows`: lrlab.queue.queue("gpu", results),
    where the caller has them already (building the queue takes seconds)."""
    from lrlab import queue
    rows = _resnet56_goals(bench)
    rows += _stack_goals(bench)
    rows += _gpu_work_goals(queue.queue("gpu", results) if queue_rows is None else queue_rows,
                            Store(results).job_logs())
    rows += _cpu_goals(runs, commands)
    return pd.DataFrame(rows, columns=["goal", "target", "measured", "verdict"])


def _goal(goal, target, measured, verdict):
    return dict(goal=goal, target=target, measured=measured, verdict=verdict)


def _resnet56_goals(bench):
    rows = bench[bench.model == "resnet56"].to_dict("records") if len(bench) else []
    classic = [r for r in rows if r["mode"].startswith("classic")]
    on_gpu = [r for r in classic if r["gpu"]]
    peak = [r for r in rows if r["mode"].startswith("bf16") and pd.notna(r["peak_fraction"])]
    best = max(peak, key=lambda r: r["peak_fraction"]) if peak else None
    return [_goal("ResNet-56: our images/s over the classic recipe, same GPU", "at least 10x",
                  "; ".join(f"{r['ours_over_classic']:.1f}x on {short_device(r['device'])}"
                            for r in (on_gpu or classic)) or "-",
                  ("met" if max(r["ours_over_classic"] for r in on_gpu) >= 10 else "missed") if on_gpu
                  else "GPU pending"),
            _goal("ResNet-56: fraction of the GPU's bf16 peak", "at least 5%",
                  f"{100 * best['peak_fraction']:.1f}% on {short_device(best['device'])}" if best else "-",
                  ("met" if best["peak_fraction"] >= 0.05 else "missed") if best else "GPU pending")]


def _stack_goals(bench):
    stacks = stacked_rows(bench)
    if not len(stacks):
        stacks = pd.DataFrame(columns=["model", "batch_size", "members", "device", "gpu", "measured", "created",
                                       "stacked_over_sequential", "peak_fraction"])
    cpu = stacks[(stacks.gpu == False) & (stacks.members == STACK_CPU_K)]   # noqa: E712 - a column, not a bool
    # of a shape timed with its update as written and compiled, the faster (a stack may use either)
    cpu = cpu.assign(fused=[is_fused_row(row) for row in cpu.to_dict("records")])
    cpu = cpu.loc[cpu.groupby(["model", "batch_size"]).stacked_over_sequential.idxmax()] if len(cpu) else cpu
    cpu_words = "; ".join(f"{r.stacked_over_sequential:.2f}x {r.model} @ {r.batch_size}"
                          + (" (update compiled)" if r.fused else "")
                          for r in cpu.sort_values("stacked_over_sequential").itertuples())
    losers = cpu[cpu.stacked_over_sequential < 1]
    rows = [_goal(f"on the CPU, a stack of {STACK_CPU_K} trains at least as fast per run as one run alone",
                  "at least 1x, every shape",
                  (cpu_words + (" (a stack forms only at a K where the bench measured a gain: shapes "
                                "below 1x at every K train alone)" if len(losers) else "")) if len(cpu) else "-",
                  ("met" if not len(losers) else "missed") if len(cpu) else "pending")]

    gpu = stacks[stacks.gpu == True]   # noqa: E712
    r20 = gpu[(gpu.model == "resnet20") & (gpu.batch_size == 128) & gpu.peak_fraction.notna()]
    best = r20.loc[r20.groupby("device").peak_fraction.idxmax()] if len(r20) else r20
    rows.append(_goal("a ResNet-20 grid at batch 128, stacked, on one GPU: share of its bf16 peak",
                      "at least 10% (an H100)",
                      "; ".join(f"{100 * r['peak_fraction']:.1f}% at K = {int(r['members'])} on "
                                f"{short_device(r['device'])} ({_when(r)})" for r in best.to_dict("records")) or "-",
                      ("met" if best.peak_fraction.min() >= 0.10 else "missed") if len(best) else "GPU pending"))

    mlp = gpu[gpu.model.str.startswith("mlp")]
    at_best = mlp.groupby(["device", "model", "batch_size"]).stacked_over_sequential.max().reset_index()
    words = []
    for device, shapes in at_best.groupby("device"):
        low, high = shapes.loc[shapes.stacked_over_sequential.idxmin()], shapes.loc[shapes.stacked_over_sequential.idxmax()]
        latest = mlp[mlp.device == device].sort_values("created").iloc[-1]
        words.append(f"{low.stacked_over_sequential:.1f}x ({low.model}) to {high.stacked_over_sequential:.1f}x "
                     f"({high.model}) on {short_device(device)} ({_when(latest)})")
    rows.append(_goal("MLP grids at batch 64, stacked at their best K: speed over their runs one after another",
                      "at least 8x, every width", "; ".join(words) or "-",
                      ("met" if at_best.stacked_over_sequential.min() >= 8 else "missed") if len(at_best)
                      else "GPU pending"))
    return rows


def _when(row):
    """When a GPU stack row was measured, and what the stacked path lacked then (stacking's changes)."""
    changes = [(ONE_GATHER_SINCE, "batches drawn member by member"), (CUDA_GRAPHS_SINCE, "no CUDA graphs")]
    if str(row.get("model", "")).startswith("resnet"):
        changes.append((SIDE_BY_SIDE_SINCE, "under vmap"))
    lacked = [words for since, words in changes if row["created"] < since]
    return ", ".join([row["measured"]] + lacked)


def _gpu_work_goals(queue_rows, job_logs):
    from lrlab import queue
    tiers = {tier: queue.tier_totals(queue_rows, tier) for tier in (1, 2)}
    whole = sum(t[2] for t in tiers.values())
    spans = queue.job_spans(job_logs)
    longest = max(spans, key=lambda pair: pair[1]) if spans else None
    return [
        _goal("Tier 1 and Tier 2 of the GPU queue (every chapter at GPU scale), from scratch", "at most 16 min",
              f"{whole:.0f} min (Tier 1 {tiers[1][2]:.0f}, Tier 2 {tiers[2][2]:.0f}) on an H100 by the step-time "
              f"model and the measured stack speed-ups, as lrlab queue estimates",
              "met" if whole <= 16 else "missed"),
        _goal("each GPU job, from its start to its last record", f"at most {JOB_MINUTES_AT_MOST:g} min",
              f"at most {longest[1]:.1f} min over {len(spans)} jobs (the longest on "
              f"{short_device(longest[0]['env']['device'])}, {longest[0]['started'][:10]})" if longest else "-",
              ("met" if longest[1] <= JOB_MINUTES_AT_MOST else "missed") if longest else "GPU pending"),
    ]


def _cpu_goals(runs, commands):
    quick = runs[runs.profile == "quick"]
    rows = [_goal("the whole quick profile on the 2-core CPU", "under 45 min",
                  f"{quick.minutes.sum():.0f} min, one run at a time, on {', '.join(sorted(quick.device.unique()))}",
                  "met" if quick.minutes.sum() < 45 else "missed")]
    for label, minutes_goal in (("make book", 3), ("make test", 10)):
        timed = [c for c in commands if c["label"].startswith(label)]
        rows.append(_goal(f"{label} on the 2-core CPU", f"under {minutes_goal} min",
                          "; ".join(f"{c['elapsed_s'] / 60:.1f} min ({c['label']}, {c['device']}, "
                                    f"{c['created'][:10]})" for c in timed) or "not timed yet",
                          ("met" if all(c["elapsed_s"] < 60 * minutes_goal for c in timed) else "missed")
                          if timed else "pending"))
    return rows
