"""`lrlab queue`: every chunk of GPU work in the book, in the one order a GPU should run them.

A chunk is a chapter's named set of runs that answers one question (lrlab.experiments.Chunk). The
queue puts calibration first (it measures the device, and its bench records replace the step-time
model's guesses), then tier 1 (a first GPU-scale verdict on each chapter's main claims), then tier 2
(completeness). Each
row has its state in the store (done / partial / pending) and the minutes its missing runs need,
from the step-time model of lrlab.cost, calibrated by the bench records of the same device, with
runs that stack counted as their stack (the stack bench's speed-up: `lrlab.stacking`).
"""
from dataclasses import dataclass, field

from lrlab import experiments
from lrlab.errors import LrlabError, check_choice
from lrlab.names import PROFILES
from lrlab.pretrained import start_config
from lrlab.results import Store
from lrlab.compiling import COMPILE_MIN, CompileSpeeds, compiled_positions
from lrlab.stacking import StackSizes, bench_shape, stack_groups

CALIBRATE = "calibrate"
CALIBRATE_MINUTES = 4.5     # smoke runs of every CUDA path (~1.5 min) and the bench of each model (~3 min)
JOB_MINUTES = 8.0           # one job's budget for chunks: a ~9.5-minute command less setup and packing
JOB_MINUTES_AT_MOST = 9.0   # a whole job, start to finish: a 10-minute command, less starting the machine
# Within a tier, chunks run in this order (the audit's, shared/reference/gpu-plan.md); others follow
# in chapter order. Cheap verdicts first; the ResNet-56 chunks last, as they need the most minutes.
PRIORITY = (
    ("basics", "momentum_shift"),
    ("super_convergence", "range_tests"),
    ("super_convergence", "resnet20_headline"),
    ("linear_scaling", "elbow_and_rules"),
    ("weight_decay", "coarse"),
    ("lr_vs_width", "mlp_coarse"),
    ("lr_vs_width", "gpt"),
    ("rules_of_thumb", "warmup"),
    ("rules_of_thumb", "batch"),
    ("rules_of_thumb", "clipping"),
    ("rules_of_thumb", "lion"),
    ("rules_of_thumb", "adamw_decay"),
    ("lr_vs_width", "mlp_decay"),
    ("super_convergence", "resnet56_headline"),
    ("super_convergence", "resnet56_baseline"),
    ("linear_scaling", "seeds_and_warmups"),
    ("lr_vs_width", "gpt_widest"),
    ("lr_vs_width", "mlp_fill"),
    ("weight_decay", "fill_adam"),
    ("weight_decay", "fill_adamw"),
    ("weight_decay", "fill_sgd"),
    ("weight_decay", "fill_sgdw"),
    ("weight_decay", "headline_seeds"),
    ("super_convergence", "resnet20_sweeps"),
    ("super_convergence", "resnet56_budget"),
    ("super_convergence", "modern"),
    ("rules_of_thumb", "schedules"),
    ("rules_of_thumb", "fine_tuning"),
)


@dataclass
class Row:
    """One chunk in the queue, with what the store holds of it."""
    experiment: str
    chunk: str
    tier: int
    settles: str
    configs: tuple = ()
    done: int = 0
    minutes: float = 0.0        # estimated for the runs still missing
    minutes_all: float = 0.0    # estimated for all its runs
    missing: list = field(default_factory=list)
    run_minutes: list = field(default_factory=list)       # each stack's or lone run's estimate, of the missing runs
    run_minutes_all: list = field(default_factory=list)   # the same, of all its runs
    spent_s: dict = field(default_factory=dict)   # device -> seconds its jobs spent on it (device_seconds)

    @property
    def name(self):
        return self.chunk if self.experiment == CALIBRATE else f"{self.experiment}/{self.chunk}"

    @property
    def runs(self):
        return len(self.configs) if self.experiment != CALIBRATE else 1

    @property
    def state(self):
        return "done" if self.done >= self.runs else "partial" if self.done else "pending"


def ordered_chunks(profile):
    """[(experiment, Chunk)] across the book: tier, then PRIORITY, then chapter order."""
    check_choice("profile", profile, PROFILES)
    rank = {key: i for i, key in enumerate(PRIORITY)}
    names = list(experiments.EXPERIMENTS)
    found = [(experiment, i, chunk) for experiment in names
             for i, chunk in enumerate(experiments.chunks(experiment, profile))]
    found.sort(key=lambda e: (e[2].tier, rank.get((e[0], e[2].name), len(rank)), names.index(e[0]), e[1]))
    return [(experiment, chunk) for experiment, _, chunk in found]


def calibrated(store, device_name):
    """The bench calibration of `device_name` from results/bench, and whether a whole calibration
    of that device is recorded (which marks the queue's first chunk done)."""
    from lrlab import cost
    records = [r for r in store.bench_records() if device_name.lower() in r["env"]["device"].lower()]
    whole = any(r.get("kind") == "calibration" and r.get("complete") for r in records)
    return cost.calibration_from_bench(records, device_name), whole


def _unit_minutes(configs, alone, sizes, compiling=None, start_minutes=None):
    """The minutes of each stack or lone run `configs` train as (`alone`: id -> minutes alone); a run
    that compiles (`compiling`, a CompileSpeeds) at its compiled speed, the first of its shape with a
    cold compilation. The first fine-tuned run of each start (`init_from`) also trains that start
    (`start_minutes(start)`: its minutes), as a job on a bare machine does."""
    configs = list(configs)
    groups = stack_groups(configs, sizes)
    minutes = _group_minutes(configs, groups, alone, compiling)
    started = set()
    for i, group in enumerate(groups):
        for start in (start_config(configs[p]) for p in group.positions if configs[p].init_from):
            if start_minutes and start.id not in started:
                started.add(start.id)
                minutes[i] += start_minutes(start)
    return minutes


def _group_minutes(configs, groups, alone, compiling):
    compiled, compiled_shapes, minutes = compiled_positions(configs, groups, compiling), set(), []
    for group in groups:
        first = group.positions[0]
        if first in compiled:
            shape = bench_shape(configs[first])
            minutes.append(compiling.compiled_seconds(configs[first], 60 * alone[configs[first].id],
                                                      first=shape not in compiled_shapes) / 60)
            compiled_shapes.add(shape)
        else:
            minutes.append(sum(alone[configs[i].id] for i in group.positions) / group.speedup)
    return minutes


def stacking_note(results=None, device_name="H100"):
    """Where the queue's stack speed-ups come from, in a sentence: each GPU and the shapes it gave."""
    sizes = StackSizes.for_planning(Store(results).root, device_name)
    by_device = {}
    for spec, batch in sorted(sizes.best):
        by_device.setdefault(sizes.measured_on[(spec, batch)], []).append(f"{spec} @ {batch}")
    if not by_device:
        return "No stack has been measured on a GPU yet: every run counts alone." + compile_note(results, device_name)
    return ("Runs that stack count as their stack (their minutes alone over its measured speed-up), as "
            "measured on " + "; on ".join(f"{device} for {', '.join(shapes)}" for device, shapes in by_device.items())
            + "; every other run counts alone." + compile_note(results, device_name))


def compile_note(results=None, device_name="H100"):
    """A sentence to follow the stacking note: each shape a GPU timed eager and compiled, with the speed
    ratio and cold compilation it measured; empty where none has (`lrlab.compiling`)."""
    speeds = CompileSpeeds.for_planning(Store(results).root, device_name).speeds
    if not speeds:
        return ""
    return (" Timed eager and compiled on a GPU (compiled over eager speed, cold compilation): "
            + ", ".join(f"{spec} @ {batch} {s.compiled_per_s / s.eager_per_s:.2f}x, {s.compile_s:.0f} s"
                        for (spec, batch), s in sorted(speeds.items()))
            + f"; a shape's runs alone count compiled where that is {COMPILE_MIN:g}x as fast as eager, "
              "compilation included.")


def queue(profile="gpu", results=None, device_name="H100", scenario="central", stacked=True):
    """The rows of the queue, calibration first. The minutes are the step-time model's for each run
    alone, calibrated by `device_name`'s bench; with `stacked`, runs that stack (`lrlab.stacking`, at
    the speed-ups `StackSizes.for_planning` finds) count as their stack; runs alone that would compile
    (`lrlab.compiling`) count compiled."""
    from lrlab import cost
    store = Store(results)
    calibration, calibrated_here = calibrated(store, device_name)
    rows = [Row(CALIBRATE, CALIBRATE, 1, f"the step-time model against the {device_name}; every CUDA path "
                "at smoke size", done=int(calibrated_here), minutes=0.0 if calibrated_here else CALIBRATE_MINUTES,
                minutes_all=CALIBRATE_MINUTES, run_minutes=[] if calibrated_here else [CALIBRATE_MINUTES],
                run_minutes_all=[CALIBRATE_MINUTES])]
    sizes = StackSizes.for_planning(store.root, device_name) if stacked else StackSizes()
    compiling = CompileSpeeds.for_planning(store.root, device_name)

    def start_minutes(start):
        return cost.run_seconds(start, device=device_name, scenario=scenario, calibration=calibration) / 60

    for experiment, chunk in ordered_chunks(profile):
        row = Row(experiment, chunk.name, chunk.tier, chunk.settles, chunk.runs)
        alone = {}
        for config in chunk.runs:
            try:
                record = store.load(profile, experiment, config)
            except LrlabError:
                record = None   # corrupt: redone, so still to do
            alone[config.id] = cost.run_seconds(config, device=device_name, scenario=scenario,
                                                calibration=calibration) / 60
            if record is None:
                row.missing.append(config)
            else:
                row.done += 1
        # what `lrlab job` trains as one stack costs its runs' minutes over the stack's measured speed-up
        row.run_minutes_all = _unit_minutes(chunk.runs, alone, sizes, compiling, start_minutes)
        row.run_minutes = _unit_minutes(row.missing, alone, sizes, compiling, start_minutes)
        row.minutes_all, row.minutes = sum(row.run_minutes_all), sum(row.run_minutes)
        rows.append(row)
    spent = device_seconds(store.job_logs(), profile)
    for row in rows:
        for config in row.configs if row.experiment != CALIBRATE else ():
            for device, seconds in spent.get((row.experiment, config.id), {}).items():
                row.spent_s[device] = row.spent_s.get(device, 0.0) + seconds
    return rows


def device_seconds(job_logs, profile):
    """{(experiment, run id): {device: seconds}}: what each run cost the jobs of `profile` that trained
    it, from their logs. Every try counts: a run cut at a deadline, resumed, failed or diverged early.
    A stack's time is shared equally among its members (its log lines carry the same `stack`; logs
    written before that field mark a stack only by its members' equal seconds)."""
    spent = {}
    for log in job_logs:
        if log.get("profile") != profile:
            continue
        device = log["env"]["device"]
        tried = [run for run in log["runs"] if run["state"] != "not started" and run["seconds"] > 0]
        members = {}
        for run in tried:
            members[_stack_of(run)] = members.get(_stack_of(run), 0) + 1
        for run in tried:
            share = run["seconds"] / members[_stack_of(run)]
            by_device = spent.setdefault((run["experiment"], run["id"]), {})
            by_device[device] = by_device.get(device, 0.0) + share
    return spent


def _stack_of(run):
    """What a job log line's seconds belong to: its stack, or (a log from before the `stack` field) the
    seconds themselves, which a stack's members share to the millisecond."""
    return run.get("stack") or ("seconds", run["seconds"])


def job_minutes(job_logs, profile="gpu"):
    """{device: (jobs, minutes from start to finish, minutes in runs)} over the logs of `profile`. The
    difference is each job's own work: starting, loading the data, calibrating, measuring stacks."""
    totals = {}
    for log, minutes in job_spans(job_logs, profile):
        jobs, whole, in_runs = totals.get(log["env"]["device"], (0, 0.0, 0.0))
        stacks = {_stack_of(run): run["seconds"] for run in log["runs"] if run["state"] != "not started"}
        totals[log["env"]["device"]] = (jobs + 1, whole + minutes, in_runs + sum(stacks.values()) / 60)
    return totals


def job_spans(job_logs, profile="gpu"):
    """[(log, minutes from its start to its finish)] for each job of `profile`. A job that ended without
    finishing (it crashed, or its machine was taken away) counts to its log's last save, `updated`; a
    log from before that field, unfinished, is left out."""
    spans = []
    for log in job_logs:
        end = log.get("finished") or log.get("updated")
        if log.get("profile") == profile and end:
            spans.append((log, (_seconds(end) - _seconds(log["started"])) / 60))
    return spans


def unfinished_jobs(job_logs, profile="gpu"):
    """How many of `job_spans`' jobs ended without finishing (counted to their log's last save)."""
    return sum(1 for log, _ in job_spans(job_logs, profile) if not log.get("finished"))


def _seconds(iso):
    from datetime import datetime
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def find(rows, names):
    """The rows named `experiment/chunk` (or a chunk name no other experiment uses), in queue order."""
    by_name = {row.name: row for row in rows}
    short = {}
    for row in rows:
        short.setdefault(row.chunk, []).append(row)
    chosen = []
    for name in names:
        if name in by_name:
            chosen.append(by_name[name])
        elif len(short.get(name, [])) == 1:
            chosen.append(short[name][0])
        else:
            raise LrlabError(f"unknown chunk {name!r}; valid: {', '.join(by_name)}")
    return [row for row in rows if row in chosen]


def jobs_needed(run_minutes, job_minutes=JOB_MINUTES):
    """How many jobs of `job_minutes` train these runs, packed as `lrlab job` packs them: in order,
    each job taking every next run that still fits it (a run that does not waits for the next
    job), and a run longer than any job going on from job to job through its checkpoint."""
    pending, jobs = [m for m in run_minutes if m > 0], 0
    while pending:
        jobs, room, later = jobs + 1, job_minutes, []
        for m in pending:
            if m <= room:
                room -= m
            elif m > job_minutes:            # it never fits: it trains to each deadline and resumes
                m -= room
                whole = -(-m // job_minutes)
                jobs, room = jobs + int(whole), whole * job_minutes - m
            else:
                later.append(m)
        pending = later
    return jobs


def tier_totals(rows, tier, job_minutes=JOB_MINUTES):
    """(minutes left, jobs left, minutes from scratch, jobs from scratch) of one tier."""
    tier_rows = [r for r in rows if r.tier == tier]
    left = [m for r in tier_rows for m in r.run_minutes]
    whole = [m for r in tier_rows for m in r.run_minutes_all]
    return sum(left), jobs_needed(left, job_minutes), sum(whole), jobs_needed(whole, job_minutes)


def table(rows, job_minutes=JOB_MINUTES):
    """The queue as text: a line per chunk, then each tier's minutes and jobs."""
    width = max(len(r.name) for r in rows)
    lines = [f"{'#':>2}  {'tier':>4}  {'chunk':<{width}}  {'state':<7}  {'runs':>9}  {'min left':>8}  {'min all':>7}"]
    for i, r in enumerate(rows):
        lines.append(f"{i:>2}  {r.tier:>4}  {r.name:<{width}}  {r.state:<7}  {r.done:>4}/{r.runs:<4}  "
                     f"{r.minutes:>8.1f}  {r.minutes_all:>7.1f}")
    for tier in (1, 2):
        left, jobs_left, whole, jobs_whole = tier_totals(rows, tier, job_minutes)
        lines.append(f"tier {tier}: {left:.1f} min left, {jobs_left} jobs of {job_minutes:g} min "
                     f"(from scratch: {whole:.1f} min, {jobs_whole} jobs)")
    return "\n".join(lines)
