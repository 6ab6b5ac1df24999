"""The reproduction-cost page's analysis: what the committed runs cost, how fast the loop trains per
model (the bench records), what running many at once buys and what the GPU queue still needs (the
book's cost goals against the records are `cost_goals`). Read through the store, like every page."""
import re

import pandas as pd

from lrlab.compiling import COMPILE_MIN
from lrlab.names import PROFILES
from lrlab.results import Store
from lrlab.stacking import LONE_STACK_MIN, is_fused_row, latest_stack_rows, stack_path_changes
from lrlab.stats import listed

# Shown with spaces where a cell may wrap (model @ batch; torch and date), so the 11 facts fit the text column.
BENCH_COLUMNS = {"device": "device", "model_batch": "model @ batch", "mode": "mode", "per_s": "speed",
                 "epoch_s": "s / CIFAR epoch", "gflop": "train GFLOP / example", "peak": "of peak",
                 "compile": "compile s (cold / disk cache / same process)", "provenance": "torch, measured"}


# smoke runs are the tests' own and never committed (results/smoke is git-ignored): not counted here
COMMITTED_PROFILES = tuple(p for p in PROFILES if p != "smoke")


def profile_span_words(results, profile="quick"):
    """"4 to 100 minutes per chapter, one run at a time, on AMD EPYC (2 cores)": the range of the chapters'
    device time at `profile` from their committed records (the intro's table of profiles quotes it)."""
    runs, _ = run_costs(results)
    runs = runs[runs.profile == profile]
    if runs.empty:
        return f"no {profile} run is recorded yet"
    minutes = runs.groupby("experiment").minutes.sum()
    lo, hi = max(1, round(minutes.min())), max(1, round(minutes.max()))
    span = f"{lo} to {hi} minutes" if lo < hi else f"about {hi} minute{'s' * (hi > 1)}"
    return f"{span} per chapter, one run at a time, on {' and '.join(sorted(runs.device.unique()))}"


def run_costs(results):
    """(one row per committed run: experiment, profile, device, on a GPU, status, stacked, minutes; the
    runs, stacked runs, diverged runs and minutes per experiment, profile and device). Every member of a
    stack of K (`packed_with`) records the stack's wall time, so each counts a K-th of it: the minutes
    add up to the device's time, not K times over. A fine-tuning start's training counts with a run that
    starts from it (`start_seconds`)."""
    store = Store(results)
    records = [r for profile in COMMITTED_PROFILES for r in store.records(profile)]
    runs = pd.DataFrame([dict(experiment=r["experiment"], profile=r["profile"], device=r["env"]["device"],
                              gpu=r["env"]["device_type"] == "cuda", status=r["status"],
                              stacked=(r.get("packed_with") or 1) > 1,
                              minutes=(r["wall_s"] / (r.get("packed_with") or 1) + start_s) / 60)
                         for r, start_s in zip(records, start_seconds(records))],
                        columns=["experiment", "profile", "device", "gpu", "status", "stacked", "minutes"])
    cost = (runs.groupby(["experiment", "profile", "device"])
            .agg(runs=("status", "size"), stacked=("stacked", "sum"),
                 diverged=("status", lambda s: int((s == "diverged").sum())), minutes=("minutes", "sum"))
            .reset_index())
    return runs, cost


def start_seconds(records):
    """Per record, the seconds of fine-tuning-start training the cost counts with it: a start's training
    with each run that trained it (`trained_here`), and a start no run says it trained (one file per
    profile, device type and torch, `lrlab.pretrained`) once, with its first run: a job killed after
    the start was saved and before that run's record leaves the next job's runs loading it, yet the
    device spent its time."""
    def start_key(record):
        start, env = record.get("started_from"), record["env"]
        return start and (record["profile"], env["device_type"], env["torch"], start["id"])

    def trained_here(record):
        return bool((record.get("started_from") or {}).get("trained_here"))

    trained = {start_key(r) for r in records if trained_here(r)}
    seconds, counted = [], set()
    for record in records:
        key = start_key(record)
        once = key and key not in trained and key not in counted
        counted.add(key)
        seconds.append(record["started_from"]["wall_s"] if trained_here(record) or once else 0.0)
    return seconds


def gpu_note(runs):
    n = int(runs.gpu.sum())
    return (f"{n} of the committed runs were made on a GPU." if n else
            "No committed run was made on a GPU yet: the `gpu` and `full` profiles are pending.")


def bench_rows(results):
    """(bench rows, sweep-timing rows, command-timing rows) of every bench record, each stamped with its
    device, torch and date. Bench rows that carry an error (a stack that did not fit) are left out: the
    stacking note says so."""
    bench, sweeps, commands = [], [], []
    for record in Store(results).bench_records():
        stamp = dict(torch=record["env"]["torch"], measured=record["created"][:10], created=record["created"],
                     device=record["env"]["device"],
                     gpu=record["env"]["device_type"] == "cuda")
        bench += [{**row, **stamp} for row in record.get("rows", [])]
        sweeps += [{**row, **stamp} for row in record.get("sweeps", [])]
        commands += [{**row, "device": stamp["device"]} for row in record.get("commands", [])]
    bench = pd.DataFrame(bench)
    if "error" in bench:
        bench = bench[bench.per_s.notna()]
    return _attention_counted(bench), pd.DataFrame(sweeps), commands


def _attention_counted(bench):
    """The GPT rows' FLOPs, TFLOP/s and share of peak as `lrlab bench` counts them now, attention
    included. Rows measured before 2026-11-28 stored a count without attention (torch's counter does
    not see the CPU's fused attention kernel), a quarter too few at width 64. The measured speed is
    the record's; only the FLOPs it is multiplied by are counted again."""
    if "unit" not in bench or not (bench.unit == "tokens").any():
        return bench
    from lrlab.bench import bench_config, train_flops_per_example
    gpt = bench.unit == "tokens"
    bench = bench.copy()
    counted = bench.loc[gpt, "model"].map(lambda spec: train_flops_per_example(bench_config(spec, 1, 1)))
    ratio = counted / bench.loc[gpt, "train_flops_per_example"]
    bench.loc[gpt, "train_flops_per_example"] = counted
    for column in ("achieved_tflops", "peak_fraction"):
        bench.loc[gpt, column] = bench.loc[gpt, column] * ratio
    return bench


def bench_table(bench):
    """Speed per model and mode, as the page shows it."""
    missing = pd.Series(index=bench.index, dtype=float)
    compiled, cached, reuse = (bench.get(k, missing) for k in ("compile_s", "compile_cached_s", "compile_reuse_s"))
    table = bench.assign(
        device=bench.device.map(short_device),   # the full names are in the caption; the table must fit the column
        model_batch=bench.model + " @ " + bench.batch_size.astype(str),
        provenance=bench.torch.astype(str) + " " + bench.measured.astype(str),
        mode=bench["mode"].str.replace("+", " + ", regex=False),   # spaces: a long mode may wrap
        per_s=bench.per_s.map("{:,.0f}".format) + " " + bench.unit + "/s",
        epoch_s=bench.epoch_s.map(lambda v: "-" if pd.isna(v) else f"{v:.1f}"),
        gflop=(bench.train_flops_per_example / 1e9).map("{:.3f}".format),
        peak=bench.peak_fraction.map(lambda v: "-" if pd.isna(v) else f"{100 * v:.1f}%"),
        compile=[("-" if pd.isna(c) else f"{c:.1f} / {d:.1f} / {r:.2f}") for c, d, r in zip(compiled, cached, reuse)],
    )[list(BENCH_COLUMNS)]
    table.columns = list(BENCH_COLUMNS.values())
    return table


def single_run_rows(bench):
    """The bench rows of one run at a time (not the stacked or many-models rows)."""
    return bench[~bench["mode"].str.contains("stack of|models")]


def bench_overview(bench):
    """One row per model and batch, one column per device: the fastest single-run mode's speed, with its
    share of the device's peak where known. The page's summary of `bench_table`'s many rows."""
    single = single_run_rows(bench)
    best = single.loc[single.groupby(["model", "batch_size", "device"]).per_s.idxmax()]
    cell = best.per_s.map("{:,.0f}".format) + best.peak_fraction.map(_peak_words)
    table = (best.assign(cell=cell, row=best.model + " @ " + best.batch_size.astype(str) + " (" + best.unit + "/s)")
             .pivot(index="row", columns="device", values="cell").fillna("-"))
    order = sorted(table.index, key=lambda r: (re.match(r"[a-z]+", r).group(), _size_of(r)))
    return table.loc[order].rename_axis(index="model @ batch", columns=None).reset_index()


def _peak_words(fraction):
    return "" if pd.isna(fraction) else " (<0.1%)" if fraction < 0.0005 else f" ({100 * fraction:.1f}%)"


def _size_of(row):
    """'mlp-1024 @ 64 (images/s)' -> (1024, 64), for ordering rows by model size then batch."""
    name, batch = row.split(" @ ")
    size = name.rsplit("-", 1)[-1] if "-" in name else name.lstrip("resnet")
    return int(size) if size.isdigit() else 0, int(batch.split(" ")[0])


def bench_summary(bench):
    """What the speed section says of the bench records: (numbers, {name: Markdown}): the devices benched,
    the fastest mode's speed-up over the classic recipe, one ResNet-20 epoch's FLOPs at an H100's bf16
    peak against the input pipeline, and which rows are from a GPU; each sentence says what is missing
    rather than print a NaN."""
    from lrlab.bench import PEAK_FLOPS
    from lrlab.experiments import CIFAR10_TRAIN_IMAGES
    if not len(bench):
        return (dict(bench_devices="no device yet", bench_batches="Batches benched: none yet"),
                dict(speed_words="No bench record yet, so the modes' speeds are not compared here: "
                                 "`lrlab bench --out results/bench` measures them.",
                     bench_gpu_note="The GPU measurements are pending."))
    classic = bench[bench["mode"].str.startswith("classic")]
    r20 = bench[bench.model == "resnet20"].train_flops_per_example
    gpu = bench[bench.peak_fraction.notna()]
    speed = (f"On these devices the fastest mode trains up to {classic.ours_over_classic.max():.1f} times as many "
             "images per second as the classic recipe." if len(classic) else
             "No classic-recipe row is benched yet, so the speed-up over it is not measured.")
    if len(r20):   # what the GPU's input pipeline has to keep up with
        epoch_ms = r20.iloc[0] * CIFAR10_TRAIN_IMAGES / dict(PEAK_FLOPS)["H100"]["bf16"] * 1e3
        speed += (" The device-resident loader was built for the GPU: at an H100's datasheet bf16 peak, one "
                  f"epoch of ResNet-20's training FLOPs (as counted above) takes {epoch_ms:.0f} ms, far less than "
                  f"workers need to decode and augment {CIFAR10_TRAIN_IMAGES:,} PIL images, so there the input "
                  "pipeline is the expected bottleneck.")
    note = (f"{len(gpu)} of the rows were measured on a GPU." if len(gpu) else
            "Every bench record so far is from a CPU: the GPU measurements, and the fraction of the "
            "device's peak that needs them, are pending.")
    batches = bench.groupby("device").batch_size.agg(lambda b: listed([f"{x:,}" for x in sorted(set(b))]))
    return (dict(bench_devices=", ".join(sorted(bench.device.unique())),
                 bench_batches="Batches benched: " + "; ".join(f"{d}, {b}" for d, b in batches.items())),
            dict(speed_words=speed, bench_gpu_note=note))


def sweep_table(sweeps):
    """Whole-sweep timings at each number of runs at once, as the page shows them."""
    table = sweeps.assign(
        elapsed=(sweeps.elapsed_s / 60).map("{:.1f}".format),
        runs_min=(sweeps.runs_wall_s / 60).map("{:.1f}".format),
        speedup=sweeps.speedup.map("{:.2f}x".format),
        # timed before runs had a fixed thread count (2026-11-27), a run alone had every core
        threads=sweeps.get("threads_per_run", pd.Series(index=sweeps.index, dtype=object)).map(
            lambda n: "cores / at once" if pd.isna(n) else f"{int(n)}"),
    )[["device", "experiment", "profile", "runs", "jobs", "threads", "elapsed", "runs_min", "speedup", "measured"]]
    table.columns = ["device", "experiment", "profile", "runs", "at once", "threads each", "elapsed (min)",
                     "sum of run times (min)", "speed over 1 at a time", "measured"]
    best = sweeps.loc[sweeps.speedup.idxmax()]
    return table, (f"On {best.device}, {best.jobs} at a time finished the {best.experiment} {best.profile} sweep "
                   f"{best.speedup:.2f} times as fast as one at a time.")


def stacked_rows(bench):
    """The bench's "stack of K" rows: of each device and shape, those of its latest measurement (the
    rule the sweep's choice of K follows, `lrlab.stacking.latest_stack_rows`)."""
    if not len(bench):
        return bench
    stacks = bench[bench["mode"].str.startswith("stack of")]
    if "created" not in stacks:
        return stacks
    return pd.DataFrame(latest_stack_rows(stacks.to_dict("records")), columns=stacks.columns)


def stacked_table(bench):
    """One row per device, model and batch; one column per K: the stack's speed over the same K runs one
    after another, and in brackets its share of the device's bf16 peak."""
    stacks = stacked_rows(bench)
    stacks = stacks.assign(fused=[is_fused_row(row) for row in stacks.to_dict("records")])
    rows = []
    for (device, model, batch, fused), group in stacks.groupby(["device", "model", "batch_size", "fused"]):
        shape = f"{model} @ {batch}" + (" (update compiled)" if fused else "")
        row = {"device": short_device(device), "model @ batch": shape}
        for r in group.sort_values("members").itertuples():
            row[f"K = {int(r.members)}"] = f"{r.stacked_over_sequential:.2f}x" + _peak_words(r.peak_fraction)
        rows.append(row)
    rows.sort(key=lambda r: (r["device"], re.match(r"[a-z]+", r["model @ batch"]).group(), _size_of(r["model @ batch"])))
    return pd.DataFrame(rows).fillna("-")


def stacked_note(bench):
    """What the stack bench says, in words: the range of speed-ups at each shape's best K, and the
    shapes that no K speeds up (they train alone)."""
    stacks = stacked_rows(bench)
    if not len(stacks):
        return ("**Stacked training** (K runs of one shape as one computation) is not measured on any device yet "
                "(`lrlab bench mlp-1024 resnet20 --stack 1,4,16,64`).")
    # K = 1 is one run on the stacked path, no stack: a shape measured at K = 1 alone gains nothing
    speedup = stacks.stacked_over_sequential.where(stacks.members > 1, 0.0)
    best = speedup.groupby([stacks.device, stacks.model, stacks.batch_size]).max()
    by_device = {}
    for (device, model, batch), v in best.items():
        if v <= 1:
            by_device.setdefault(short_device(device), []).append(f"{model} @ {batch}")
    losers = "; ".join(f"{', '.join(shapes)} on the {device}" for device, shapes in sorted(by_device.items()))
    gains = best[best > 1]
    gained = (f"Against the same K runs one after another, a stack at its best K trains {gains.min():.2f}x to "
              f"{gains.max():.2f}x as fast" if len(gains) else "No stack trains faster than its runs one after another")
    return ("**Stacked training.** K runs of one model shape (a grid's learning rates, seeds, weight decays) "
            "train as one computation (`lrlab.stacked`), each member still its own run with its own record; "
            "on a GPU each step is replayed from a CUDA graph (`lrlab.stack_step`). "
            f"{gained} (the table below; K = 1 is the stacked code path for one run). "
            + (f"No K speeds up {losers}: there such a shape trains alone. " if losers else "")
            + "`lrlab sweep` and `lrlab job` stack a shape at its best measured K, and only where that beats "
            "training alone; a run left without a partner trains as a stack of one where K = 1, replayed "
            f"from a graph, measured at least {LONE_STACK_MIN:g}x as fast as the run alone."
            + _fused_words(stacks) + _older_stack_paths(stacks))


def _fused_words(stacks):
    """A sentence on the rows timed with the optimizer's update compiled, where there are any."""
    if not any(is_fused_row(row) for row in stacks.to_dict("records")):
        return ""
    return (" Rows marked (update compiled) time the stack with its optimizer's update compiled "
            "(`lrlab.stacked_optim.FusedUpdate`: a kernel or two per parameter instead of up to eight); a stack "
            "uses it where that, its compilation included, measured at least "
            f"{COMPILE_MIN:g}x as fast as the update written out.")


def _older_stack_paths(stacks):
    """A sentence on the stack rows that time an older, slower stacked path (stacking.stack_path_changes),
    if any: by change, which devices and days."""
    if "created" not in stacks:
        return ""
    found = {}   # what the path did before -> (devices, days)
    for row in stacks.itertuples():
        for since, before in stack_path_changes(row.model, gpu=bool(getattr(row, "gpu", False))):
            if row.created < since:
                devices, days = found.setdefault(before, (set(), set()))
                devices.add(short_device(row.device))
                days.add(row.measured)
    if not found:
        return ""
    parts = [f"on the {' and '.join(sorted(devices))} ({', '.join(sorted(days))}) {before}"
             for before, (devices, days) in found.items()]
    return (" Some rows time the stacked path as it was then, slower than today's, so they understate what "
            f"stacking gains there until they are measured again: {'; '.join(parts)}.")


def queue_summary(results, rows=None):
    """(the GPU queue's chunks as a table, what each settles as a Markdown list, the tiers' totals).
    `rows`: lrlab.queue.queue("gpu", results), where the caller has them already."""
    from lrlab import queue
    rows = queue.queue("gpu", results) if rows is None else rows
    table = pd.DataFrame([{"tier": r.tier, "chunk": r.name, "state": r.state, "runs done": f"{r.done} of {r.runs}",
                           "minutes left": r.minutes, "minutes spent": spent_words(r.spent_s)} for r in rows])
    settles = "\n".join(f"- `{r.name}`: {r.settles}" for r in rows)
    tiers = {tier: queue.tier_totals(rows, tier) for tier in (1, 2)}
    note = " ".join(f"Tier {tier}: {left:.1f} minutes left in {jobs} jobs of {queue.JOB_MINUTES:g} minutes' "
                    f"training ({whole:.1f} minutes, {whole_jobs} jobs, from scratch)."
                    for tier, (left, jobs, whole, whole_jobs) in tiers.items())
    note += (f" A job spends at most {queue.JOB_MINUTES:g} minutes training; with its setup and packing it stays "
             f"within the goal of {queue.JOB_MINUTES_AT_MOST:g} minutes (below).")
    in_chunks = sum(sum(r.spent_s.values()) for r in rows) / 60
    logs = Store(results).job_logs()
    return table, settles, " ".join((note, queue.stacking_note(results),
                                     jobs_words(queue.job_minutes(logs), in_chunks, queue.unfinished_jobs(logs))))


def jobs_words(totals, in_chunks, unfinished=0):
    """The GPU jobs so far, from their logs: "The 8 GPU jobs so far took 40.8 minutes ... (33.4 on H200 in 7,
    7.5 on H100 in 1): 31.7 of them trained the chunks' runs ..., 1.1 trained runs that no chunk declares
    now ..., and the rest ...". `totals`: lrlab.queue.job_minutes; `in_chunks`: the minutes spent summed
    over the queue's rows; `unfinished`: how many of the jobs ended without finishing (lrlab.queue.unfinished_jobs)."""
    if not totals:
        return "No GPU job has run yet."
    jobs = sum(n for n, _, _ in totals.values())
    whole = sum(w for _, w, _ in totals.values())
    orphans = sum(r for _, _, r in totals.values()) - in_chunks
    by_device = ", ".join(f"{w:.1f} on {short_device(d)} in {n}" for d, (n, w, _) in
                          sorted(totals.items(), key=lambda item: -item[1][1]))
    return (f"The {jobs} GPU job{'s' if jobs != 1 else ''} so far took {whole:.1f} minutes from start to finish "
            f"({by_device}): {in_chunks:.1f} of them trained the chunks' runs (their minutes spent above)"
            + (f", {orphans:.1f} trained runs that no chunk declares now (their configs have changed since)"
               if orphans >= 0.05 else "")
            + ", and the rest was each job's own work: loading the data, calibrating, measuring stacks."
            + (f" {unfinished} of the jobs ended before {'it' if unfinished == 1 else 'they'} finished (a crash, "
               "or the machine taken away): each counts to the last time it saved its log, and the rest includes "
               "the run it was training then." if unfinished else ""))


def short_device(device):
    """'NVIDIA H100 80GB HBM3' -> 'H100': a GPU by the name the cost model knows it by; any other device
    (a CPU) by its full name."""
    from lrlab.cost import DEVICES
    return next((name for name in DEVICES if name in device), device)


def spent_words(spent_s):
    """A chunk's recorded device time, by device, most first: "4.1 on H200 + 2.0 on H100" (or "-"). GPUs go
    by the short names the cost model knows them by; any other device by its full name."""
    return " + ".join(f"{seconds / 60:.1f} on {short_device(device)}" for device, seconds in
                      sorted(spent_s.items(), key=lambda item: -item[1])) or "-"
