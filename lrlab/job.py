"""`lrlab job`: the next pending chunks of the queue, trained until a deadline.

GPU time comes in short windows (ours: one command of at most ~9 minutes on a bare machine). A job
starts no run that is not predicted to finish by its deadline, checkpoints the run in flight when
the deadline comes and exits 0; every finished run is saved at once. A run that raises is logged
as failed (not as a result) and the job goes on; runs that need an optional package this machine
lacks are skipped with one line naming it. The job's log (results/jobs/<start>-<device>.json) is
rewritten after every run, so even a killed job says what it did, and its predicted against
measured seconds recalibrate the queue.
"""
import importlib.util
import time

from lrlab import pretrained, queue as work_queue
from lrlab.bench import slug
from lrlab.env import device_name as name_of_device, run_env
from lrlab.errors import LrlabError, check_positive
from lrlab.results import Store, write_json_atomic
from lrlab.runner import Planner, check_jobs, check_settings, prepare_data, train_runs

FAILED_EXIT = 3     # some runs failed (2 is bad input)
# import name -> what to tell the user; a run needs these beyond torch, numpy, pillow and tqdm
OPTIONAL = {"mup": "mup (muP runs)", "torch_lr_finder": "torch-lr-finder (its range test)",
            "matplotlib": "matplotlib (torch-lr-finder imports it)"}


def needed_packages(config):
    """The optional packages (import names) a run cannot train without."""
    needs = []
    if config.parameterization == "mup":
        needs.append("mup")
    if config.runner == "torch-lr-finder":
        needs += ["torch_lr_finder", "matplotlib"]
    return needs


def importable(package):
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def without_missing_packages(items, log=print, available=importable):
    """`items` less the runs that need a package this machine lacks; one line per missing package."""
    missing = {}
    for item in items:
        for package in needed_packages(item[2]):
            if not available(package):
                missing.setdefault(package, []).append(item[2].id)
    for package, ids in missing.items():
        log(f"skipping {len(ids)} run(s) that need {OPTIONAL[package]}, which cannot be imported here "
            f"(carry its wheel: see `lrlab stage`)")
    skipped = {run_id for ids in missing.values() for run_id in ids}
    return [item for item in items if item[2].id not in skipped], {p: len(ids) for p, ids in missing.items()}


def cost_device(device):
    """The step-time model's name for this device (H100, H200), or None where it has no model."""
    name = name_of_device(device)
    return next((key for key in ("H200", "H100") if key in name), None)


class Predictor:
    """Seconds a run needs: measured in this job for the same shape where it can be (steps x the
    seconds per step of a finished run), else the calibrated step-time model, else unknown. A run
    that compiles: measured for a compiled run of its shape, else the eager prediction scaled by the
    bench's compiled speed (`compiling`, a CompileSpeeds, where the job has one). A fine-tuned run
    whose start has no weights for `device` in `starts_dir` yet (`lrlab.pretrained`) trains that start
    first: its seconds count too."""

    def __init__(self, device_key, calibration, compiling=None, device="cpu", starts_dir=None):
        self.device_key, self.calibration, self.per_step = device_key, calibration, {}
        self.device, self.starts_dir = device, starts_dir
        self.stack_per_step = {}      # (shape, K) -> seconds a step of a stack of K took
        self.compiled_per_step = {}   # shape -> seconds a compiled step took, its compilation left out
        self.compiling = compiling

    @staticmethod
    def shape(config):
        return (config.model, config.width, config.depth, config.batch_size, config.micro_batch,
                config.block_size, config.runner, config.trace_test)

    def learn(self, record):
        from lrlab import cost
        from lrlab.config import RunConfig
        config = RunConfig.from_dict(record["config"])
        steps, packed_with = record["final"]["steps"], record.get("packed_with")   # None: trained alone
        if config.batch_growth:   # fewer, larger steps: count the batches they joined, as cost.run_steps does
            steps = cost.run_steps(config) if record["status"] == "completed" else 0
        if steps and record["wall_s"] > 0:
            shape = self.shape(config)
            if packed_with:   # a stack of one too: its graphed steps are not a lone run's
                self.stack_per_step[(shape, packed_with)] = record["wall_s"] / steps
            elif record.get("env", {}).get("compile") is True:   # the next run of the shape reuses the compilation
                self.compiled_per_step[shape] = max(0.0, record["wall_s"] - record.get("compile_s", 0.0)) / steps
            else:
                self.per_step[shape] = record["wall_s"] / steps

    def stack(self, configs, speedup):
        """Seconds a stack of `configs` needs: measured in this job for a stack of that shape and size,
        else the runs' own predictions over the bench's speed-up, else unknown."""
        from lrlab import cost
        rate = self.stack_per_step.get((self.shape(configs[0]), len(configs)))
        if rate is not None:
            return rate * max(cost.run_steps(c) for c in configs)
        singles = [self(c) for c in configs]
        return None if None in singles else sum(singles) / speedup

    def __call__(self, config, compiled=False):
        seconds = self._run(config, compiled)
        if seconds is None or not config.init_from:
            return seconds
        start = pretrained.start_config(config)
        if pretrained.start_path(start, self.device, self.starts_dir).exists():
            return seconds
        start_seconds = self._run(start, compiled=False)   # the start trains eager, inside the run
        return None if start_seconds is None else seconds + start_seconds

    def _run(self, config, compiled):
        from lrlab import cost
        if compiled and self.shape(config) in self.compiled_per_step:
            return self.compiled_per_step[self.shape(config)] * cost.run_steps(config)
        rate = self.per_step.get(self.shape(config))
        if rate is not None:
            eager = rate * cost.run_steps(config)
        elif self.device_key is None:
            return None
        else:
            eager = cost.run_seconds(config, device=self.device_key, calibration=self.calibration)
        return self.compiling.compiled_seconds(config, eager) if compiled and self.compiling else eager


def run_job(deadline_minutes, names=(), profile="gpu", results=None, device="cpu", data_root=None,
            compile="auto", jobs="auto", progress=False, log=print, started=None, stack="auto"):
    """Run the named chunks (default: every pending one, in queue order) until the deadline.
    `stack`: "auto" (stack runs as this device's bench says pays), None (never), or a StackSizes.
    `compile`: "auto" (on a GPU, a run alone compiles where this device's bench, measured first if
    the runs could repay it, says it pays: `lrlab.compiling`), True or False.
    Returns the job's log record; its "failed" count decides the exit status."""
    check_positive("deadline (minutes)", deadline_minutes)
    jobs = check_jobs(jobs, device)
    check_settings()   # before the job's log is written
    started = started or time.time()
    stop_at = started + 60 * deadline_minutes
    store = Store(results)
    device_key = cost_device(device)
    rows = work_queue.queue(profile, store.root, device_name=device_key or "H100")
    chosen = work_queue.find(rows, names) if names else [r for r in rows if r.state != "done"]
    calibration, _ = work_queue.calibrated(store, device_key or "H100")
    env = run_env(device)
    log_path = store.root / "jobs" / f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(started))}-{slug(env['device'])}.json"
    record = dict(kind="job", status="running", env=env, profile=profile, deadline_minutes=deadline_minutes,
                  started=_iso(started), finished=None, chunks=[r.name for r in chosen], skipped_packages={},
                  runs=[], counts={})

    def save_log():
        record["counts"] = _counts(record["runs"])
        # a job that dies before it finishes (a crash, its machine taken away) is counted to here
        record["updated"] = _iso(time.time())
        write_json_atomic(log_path, record)

    items, calibrate_first = [], False
    for row in chosen:
        if row.experiment != work_queue.CALIBRATE:
            items += [(row.experiment, profile, config) for config in row.missing]
        elif names or device_key:   # unasked, only on the GPUs the queue plans for
            calibrate_first = True
    items, record["skipped_packages"] = without_missing_packages(items, log)
    # bad data, then an unusable results folder, fail before the log's first write
    data = prepare_data([config for _, _, config in items], data_root, {profile})
    store.prepare((profile, experiment) for experiment, profile, _ in items)
    log(f"job: {len(items)} run(s) of {len(chosen)} chunk(s) on {env['device']}, deadline in "
        f"{(stop_at - time.time()) / 60:.1f} min")
    save_log()
    if calibrate_first:
        from lrlab.calibrate import calibrate
        calibration_record = calibrate(device, store.root, data_root, stop_at=stop_at, log=log)
        record["calibration"] = dict(complete=calibration_record["complete"],
                                     failed=[p["name"] for p in calibration_record["paths"] if not p["ok"]])
        calibration, _ = work_queue.calibrated(store, device_key or "H100")
        save_log()
    predictor = Predictor(device_key, calibration, device=device, starts_dir=store.starts_dir(profile))
    if stack == "auto":   # after the calibration: it measures the stacks
        from lrlab.stack_step import graph_families, graph_family
        from lrlab.stacking import StackSizes, stack_key
        # before anything stacks (or is benched stacked) with them: the families this job may stack
        stacking_families = {graph_family(config.model) for _, _, config in items if stack_key(config) is not None}
        families = [family for family in graph_families(device) if family in stacking_families]
        if families:
            from lrlab.calibrate import check_cuda_graphs
            record["cuda_graphs"] = check_cuda_graphs(device, log, families=families)
            save_log()
        if device_key:   # on the GPUs the queue plans for: shapes no calibration has measured stacked yet
            from lrlab.calibrate import bench_unmeasured_stacks
            bench_unmeasured_stacks([config for _, _, config in items], device, store.root, stop_at, log)
        stack = StackSizes.measured(store.root, env["device"])
        if device_key:   # then, for the shapes it stacks for minutes: with the optimizer's update compiled
            from lrlab.calibrate import bench_unmeasured_fused_updates
            if bench_unmeasured_fused_updates([config for _, _, config in items], device, store.root, stop_at, log,
                                              predictor, stack, device_key):
                stack = StackSizes.measured(store.root, env["device"])
    if compile == "auto":   # after the stacks: only a run that trains alone compiles
        compile = _compiling(items, device, device_key, store, stack, stop_at, predictor, log)

    def on_outcome(outcome):
        if outcome.record is not None:
            predictor.learn(outcome.record)
        record["runs"].append(outcome.row())
        if outcome.state != "not started":   # hundreds of these at a deadline: the final save has them
            save_log()

    train_runs(items, store, device, data_root, compile, jobs, progress,
               planner=Planner(stop_at, predictor, job_s=60 * work_queue.JOB_MINUTES), log=log, on_outcome=on_outcome,
               stacking=stack, data=data)
    record.update(status="completed", finished=_iso(time.time()))
    save_log()
    log(summary(record))
    log(f"wrote {log_path}")
    return record


def _compiling(items, device, device_key, store, stack, stop_at, predictor, log):
    """What compiles in this job (`lrlab.compiling.resolve`), once the GPUs the queue plans for have
    benched eager and compiled each shape of runs alone long enough to repay a compilation."""
    from lrlab import compiling
    if device_key:
        from lrlab.calibrate import bench_unmeasured_compiles
        from lrlab.stacking import StackSizes, stack_groups
        configs = [config for _, _, config in items]
        _, lone_configs, speedups = compiling.runs_without_partner(configs, stack_groups(configs, stack or StackSizes()))
        bench_unmeasured_compiles(lone_configs, device, store.root, stop_at, log, predictor, speedups)
    compile = compiling.resolve("auto", device, store.root)
    if compile:   # a CompileSpeeds: the predictor scales a compiled run's eager prediction by it
        predictor.compiling = compile
    return compile


def _counts(rows):
    counts = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts


def summary(record):
    """What the job did, a line per state, then each failure."""
    counts = record["counts"]
    lines = ["job summary: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) if counts
             else "job summary: no run was due"]
    lines += [f"  failed {r['experiment']} {r['id']}: {r['error']}" for r in record["runs"] if r["state"] == "failed"]
    lines += [f"  skipped {n} run(s) needing {p}" for p, n in record["skipped_packages"].items()]
    if record.get("cuda_graphs"):
        lines.append("  CUDA graphs: " + "; ".join(_graph_words(family, verdict)
                                                   for family, verdict in record["cuda_graphs"].items()))
    if "calibration" in record:
        c = record["calibration"]
        lines.append(f"  calibration {'complete' if c['complete'] else 'incomplete'}"
                     + (f"; failed paths: {', '.join(c['failed'])}" if c["failed"] else "; every path worked"))
    return "\n".join(lines)


def _graph_words(family, verdict):
    if verdict["ok"]:
        return f"{family} on"
    return f"{family} off ({verdict['error'] or 'replayed losses differed by %.1e' % verdict['worst']})"


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def exit_status(record):
    return FAILED_EXIT if record["counts"].get("failed") else 0


def check_deadline(value):
    """A positive number of minutes, or a one-line error."""
    try:
        minutes = float(value)
    except (TypeError, ValueError):
        raise LrlabError(f"deadline {value!r} is not a number of minutes, e.g. 7.5") from None
    return check_positive("deadline (minutes)", minutes)
