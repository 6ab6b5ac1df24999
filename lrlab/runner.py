"""Train a list of runs, in this process or in N worker processes, saving each record as it finishes.

What `lrlab sweep` and `lrlab job` share. One run's failure (an exception, CUDA out of memory, a
worker that dies) never costs another run: it is reported and the rest go on. The data is decoded
in the parent before any worker starts, so N workers do not decode the same JPEGs N times.

With a deadline (`stop_at`, a time.time() value), a run starts only when it is predicted to finish
in time, or when it can never fit one job (it then trains to the deadline and checkpoints, to go on
in the next job); the run in flight checkpoints at the deadline.

With `stacking` (a StackSizes), runs that can share a stack train K at a time as one (`lrlab.stacked`),
in this process, before the rest; K comes from the bench of this device. Members checkpointed at
different epochs go in different stacks; a stack that runs out of device memory is split in two, and
one that fails otherwise trains its runs alone.

`compile`: True (every run alone compiles), False, or a CompileSpeeds (`lrlab.compiling`): the runs
alone of the shapes its bench rows say pay compile, the others do not.
"""
import concurrent.futures
import multiprocessing
import os
import sys
import time
import traceback
from dataclasses import dataclass

from lrlab.errors import LrlabError, check_int, error_line
from lrlab.tasks import load_task_data
from lrlab.train import DeadlineReached, train

MIN_START_S = 5.0      # never start a run with less time than this left
RUN_THREADS = 1        # CPU threads per run, however many run at once (LRLAB_THREADS overrides)
WORKER_MEMORY_GB = 1.5  # what one worker process holds (torch, the decoded data, a small model)
CHECKPOINT_EVERY_S = 60.0   # a run checkpoints at the first epoch end this long after its last save


def run_threads():
    """The CPU threads each run trains with: fixed, never a share of the machine that depends on --jobs,
    since the order of float sums (and so the result of a run on the edge of divergence) depends on it.
    Each record names it (env.threads)."""
    text = os.environ.get("LRLAB_THREADS", str(RUN_THREADS))
    try:
        return check_int("LRLAB_THREADS", int(text))
    except ValueError:
        raise LrlabError(f"LRLAB_THREADS must be a whole number >= 1, got {text!r}") from None


def checkpoint_every():
    """Seconds between a run's checkpoints (taken at epoch ends): the most training a kill can cost.
    LRLAB_CHECKPOINT_EVERY_S overrides the minute; 0 checkpoints every epoch."""
    text = os.environ.get("LRLAB_CHECKPOINT_EVERY_S", str(CHECKPOINT_EVERY_S))
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise LrlabError(f"LRLAB_CHECKPOINT_EVERY_S must be a number of seconds >= 0, got {text!r}")
    return seconds


def check_settings():
    """(threads per run, seconds between checkpoints) from the environment: a bad value is one line."""
    return run_threads(), checkpoint_every()


def auto_jobs(device):
    """Runs at once when --jobs is "auto": on a CPU, one per core this process may use (each run has
    run_threads()), as many as memory holds; on a GPU, one (stacks fill it: `lrlab.stacking`)."""
    if not str(device).startswith("cpu"):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        memory_gb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2 ** 30
    except (ValueError, OSError, AttributeError):
        memory_gb = WORKER_MEMORY_GB
    return max(1, min(cores // run_threads(), int(memory_gb / WORKER_MEMORY_GB)))


def check_jobs(jobs, device):
    """`jobs` as a number of runs at once: a whole number >= 1, or "auto": $LRLAB_JOBS where set (the
    test suite sets 1: its sweeps are too small to repay starting workers), else auto_jobs(device)."""
    if jobs == "auto":
        jobs = os.environ.get("LRLAB_JOBS", "auto")
    if jobs == "auto":
        return auto_jobs(device)
    if isinstance(jobs, str):
        try:
            jobs = int(jobs)
        except ValueError:
            raise LrlabError(f"jobs must be 'auto' or a whole number >= 1, got {jobs!r}") from None
    return check_int("jobs", jobs)


def run_one(config, **kwargs):
    """Train one run with the runner its config names: lrlab's own loop, or torch-lr-finder for the
    range test the book compares with (imported only for such a run: a bare GPU box lacks it)."""
    if config.runner == "torch-lr-finder":
        from lrlab import torch_lr_finder
        return torch_lr_finder.run(config, **kwargs)
    return train(config, **kwargs)


@dataclass
class Outcome:
    """What became of one run: completed | diverged | failed | checkpointed | stopped | not started."""
    experiment: str
    profile: str
    config: object
    state: str
    seconds: float = 0.0
    predicted_s: float | None = None
    error: str | None = None
    record: dict | None = None
    stack: str | None = None   # the first member's id, for a run trained in a stack (`seconds` is the stack's)

    def row(self):
        """The job log's line for this run (no record body: that is in the store)."""
        row = dict(experiment=self.experiment, profile=self.profile, id=self.config.id, state=self.state,
                   seconds=round(self.seconds, 3), predicted_s=None if self.predicted_s is None
                   else round(self.predicted_s, 3), error=self.error)
        if self.stack:
            row["stack"] = self.stack
        return row


# The whole data set. A run's id hashes its config, not its data, so a record of the profiles the
# book commits must come from the whole set: a subset (10 classes, fewer images) would pass as it.
# (Tiny Shakespeare needs no such check: its loader refuses any text but the one by its sha256.)
WHOLE_DATA = {"cifar10": ("50,000 train / 10,000 test images", lambda d: (len(d.train_images), len(d.test_images)),
                          (50_000, 10_000))}
ANY_DATA_PROFILES = ("smoke",)   # tests and first tries: any data of the right shape


def prepare_data(configs, data_root=None, profiles=ANY_DATA_PROFILES):
    """Decode each task's data once, here, before any run or worker starts (bad data fails here, in
    one line, before any training). For `profiles` other than smoke the data must be the whole set."""
    data = {}
    for config in configs:
        if config.task not in data:
            data[config.task] = load_task_data(config, data_root)
    strict = sorted(set(profiles) - set(ANY_DATA_PROFILES))
    for task, loaded in data.items():
        if not strict or task not in WHOLE_DATA:
            continue
        words, size, whole = WHOLE_DATA[task]
        if size(loaded) != whole:
            raise LrlabError(f"{task} data from {loaded.source} holds {size(loaded)} where the whole set has {words}; "
                             f"the {', '.join(strict)} profile(s) train on the whole set only (smoke takes any)")
    return data


class Planner:
    """Decides, against a deadline, whether a run may start: it must be predicted to finish in time,
    or be longer than a whole job (then it checkpoints at the deadline and goes on next job)."""

    def __init__(self, stop_at=None, predict=None, job_s=None):
        self.stop_at, self.predict, self.job_s = stop_at, predict, job_s

    def check(self, config, compiled=False):
        """(may it start, predicted seconds, why not); `compiled`: it trains with torch.compile."""
        if not self.predict:
            return self._check(None)
        return self._check(self.predict(config, compiled=True) if compiled else self.predict(config))

    def check_stack(self, configs, speedup):
        """The same for K runs trained as one stack that measured `speedup` over one after another."""
        predicted = getattr(self.predict, "stack", None)
        if predicted is not None:
            return self._check(predicted(configs, speedup))
        singles = [self.predict(c) for c in configs] if self.predict else [None]
        return self._check(None if None in singles else sum(singles) / speedup)

    def _check(self, predicted):
        if self.stop_at is None:
            return True, predicted, None
        left = self.stop_at - time.time()
        if left < MIN_START_S:
            return False, predicted, f"{left:.0f} s left"
        if predicted is None or predicted <= left:
            return True, predicted, None
        if self.job_s and predicted > self.job_s:   # it can never fit a job: go as far as it can
            return True, predicted, None
        return False, predicted, f"needs {predicted:.0f} s, {left:.0f} s left"


def train_runs(items, store, device="cpu", data_root=None, compile=False, jobs=1, progress=False,
               planner=None, log=print, on_outcome=None, stacking=None, data=None):
    """Train each (experiment, profile, config) of `items` whose record is missing; returns Outcomes.

    Each finished record is saved at once. `on_outcome(outcome)` is called after each (a job keeps
    its log up to date with it, so a killed job still says what it did). `data`: what prepare_data
    returned for these items, if the caller has it already."""
    import torch
    planner = planner or Planner()
    threads, every = check_settings()   # bad settings, then bad data, fail before any folder is made
    if data is None:
        data = prepare_data([c for _, _, c in items], data_root, {profile for _, profile, _ in items})
    if items:
        store.prepare((profile, experiment) for experiment, profile, _ in items)
    outcomes, done, total = [], [0], len(items)
    compiling = compile if hasattr(compile, "choose") else None
    stacks, items, compiled_ids = plan_stacks(items, stacking, store, compiling)
    if compiling is None:
        compiled_ids = {config.id for _, _, config in items} if compile else set()
    elif compiled_ids:
        log(f"torch.compile for {len(compiled_ids)} run(s): this device's bench measured it faster for their shapes")
    fused = sum(group.fused_update for _, group in stacks)
    if fused:
        log(f"the optimizer update compiled for {fused} stack(s): this device's bench measured it faster "
            f"for their shapes")

    def compiles(config):
        return config.id in compiled_ids

    def report(outcome):
        outcomes.append(outcome)
        if outcome.record is not None:
            outcome.record.update(experiment=outcome.experiment, profile=outcome.profile)
            store.save(outcome.record)
            # only now that the record is safe: a kill before this line costs the epochs since the checkpoint
            store.checkpoint_path(outcome.profile, outcome.experiment, outcome.config.id).unlink(missing_ok=True)
            done[0] += 1
            r = outcome.record
            log(f"[{done[0]}/{total}] {r['id']} {r['status']} test_acc={r['final']['test_acc']:.4f} "
                f"({r['wall_s']:.1f} s)")
        elif outcome.state == "failed":
            log(f"FAILED {outcome.experiment} {outcome.config.id}: {outcome.error}")
        elif outcome.state in ("checkpointed", "stopped"):
            log(f"deadline: {outcome.error}")
        if on_outcome:
            on_outcome(outcome)

    threads_before = torch.get_num_threads()
    if _on_cpu(device):   # here as in a worker: the same thread count, so the same numbers
        torch.set_num_threads(threads)
    try:
        for i, (members, group) in enumerate(stacks):
            if not _train_stack(members, group.speedup, store, device, data, progress, planner, report, every,
                                group.fused_update):
                for rest in [item for later, _ in stacks[i + 1:] for item in later] + items:
                    report(Outcome(*rest, "not started", error="the deadline came"))
                return outcomes
        if jobs > 1 and len(items) > 1:
            _in_workers(items, store, device, data_root, compiles, jobs, planner, report, threads, every)
        else:
            _in_process(items, store, device, data, compiles, progress, planner, report, every)
    finally:
        torch.set_num_threads(threads_before)
    return outcomes


def _on_cpu(device):
    return str(device).startswith("cpu")


def plan_stacks(items, stacking=None, store=None, compiling=None):
    """([(stack items, its lrlab.stacking.Group)], items that train alone, ids of runs that compile): runs that
    share a stack key, the epoch they resume from and the stack size K chosen for them (`stacking`, a
    StackSizes), in stacks of at most K; a run left without a partner is a stack of one where that
    measured faster (`lrlab.stacking.stack_groups`), unless `compiling` (a CompileSpeeds) finds its
    shape faster compiled: it then trains alone, compiled."""
    from lrlab.compiling import compiled_positions
    from lrlab.stacking import StackSizes, stack_groups
    items, stacking = list(items), stacking or StackSizes()
    configs = [config for _, _, config in items]
    epochs = {id(config): _checkpoint_epoch(store.checkpoint_path(profile, experiment, config.id), config)
              for experiment, profile, config in items if stacking.choose(config)[0] > 1}
    groups = stack_groups(configs, stacking, lambda config: epochs.get(id(config)))
    compiled = compiled_positions(configs, groups, compiling)
    stacks = [([items[i] for i in group.positions], group) for group in groups
              if group.stacked and group.positions[0] not in compiled]
    alone = [items[group.positions[0]] for group in groups if not group.stacked or group.positions[0] in compiled]
    return stacks, alone, {configs[i].id for i in compiled}


def _checkpoint_epoch(path, config):
    """The epoch a run's checkpoint resumes from (0: none, or one of another config)."""
    import torch
    if not path.exists():
        return 0
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:   # noqa: BLE001 - a broken checkpoint: `train` starts that run afresh too
        return 0
    return state.get("epoch", 0) if state.get("config_id") == config.id else 0


def _train_stack(members, speedup, store, device, data, progress, planner, report, every, fused_update=False):
    """Train `members` as one stack (halves of it if it does not fit the device), its optimizer update
    compiled where `fused_update`; False once the deadline has come."""
    import torch

    from lrlab.stacked import train_stacked
    configs = [config for _, _, config in members]
    ok, predicted, why = planner.check_stack(configs, speedup)
    if not ok:
        for item in members:
            report(Outcome(*item, "not started", predicted_s=predicted, error=why))
        return True
    started = time.time()
    try:
        results = train_stacked(configs, device=device, data=data[configs[0].task], progress=progress,
                                checkpoint_paths=[store.checkpoint_path(p, e, c.id) for e, p, c in members],
                                checkpoint_every_s=every, stop_at=planner.stop_at, fused_update=fused_update)
    except torch.OutOfMemoryError:
        _free_device_memory(device)
        if len(members) == 1:   # nothing left to split: it trains alone, as it would without stacking
            return _alone(members, store, device, data, progress, planner, report, every)
        half = len(members) // 2
        return all(_train_stack(part, speedup, store, device, data, progress, planner, report, every, fused_update)
                   for part in (members[:half], members[half:]))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:   # noqa: BLE001 - a failed stack must not cost its runs: they train alone
        traceback.print_exc()
        _free_device_memory(device)
        print(f"the stack of {len(members)} ({configs[0].model_spec}) failed: {error_line(exc)}; "
              f"its runs train alone", file=sys.stderr)
        return _alone(members, store, device, data, progress, planner, report, every)
    elapsed, going_on, stack = time.time() - started, True, configs[0].id
    for item, result in zip(members, results):
        if isinstance(result, DeadlineReached):
            going_on = False
            report(Outcome(*item, "checkpointed" if result.checkpointed else "stopped", elapsed, predicted,
                           str(result), stack=stack))
        else:
            report(Outcome(*item, result["status"], elapsed, predicted, record=result, stack=stack))
    return going_on


def _alone(members, store, device, data, progress, planner, report, every):
    """Train a stack's members one by one, as without stacking (from their checkpoints, if the stack
    left any); False once the deadline has come."""
    stopped = []

    def note(outcome):
        stopped.append(outcome.state in ("checkpointed", "stopped"))
        report(outcome)
    _in_process(members, store, device, data, lambda config: False, progress, planner, note, every)
    return not any(stopped)


def _finish(item, started, predicted, call):
    """Run `call()` (a training) and turn what happened into an Outcome."""
    experiment, profile, config = item
    try:
        record = call()
    except DeadlineReached as stop:
        return Outcome(experiment, profile, config, "checkpointed" if stop.checkpointed else "stopped",
                       time.time() - started, predicted, str(stop))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:   # noqa: BLE001 - one run's failure must not end the others
        return Outcome(experiment, profile, config, "failed", time.time() - started, predicted, error_line(exc))
    return Outcome(experiment, profile, config, record["status"], time.time() - started, predicted,
                   record=record)


def _in_process(items, store, device, data, compiles, progress, planner, report, every):
    """Train `items` one after another here; `compiles(config)`: whether that run uses torch.compile."""
    for i, item in enumerate(items):
        experiment, profile, config = item
        ok, predicted, why = planner.check(config, compiles(config))
        if not ok:
            report(Outcome(experiment, profile, config, "not started", predicted_s=predicted, error=why))
            continue
        started = time.time()
        outcome = _finish(item, started, predicted, lambda: run_one(
            config, device=device, data=data[config.task], compile=compiles(config), progress=progress,
            checkpoint_path=store.checkpoint_path(profile, experiment, config.id), checkpoint_every_s=every,
            stop_at=planner.stop_at, starts_dir=store.starts_dir(profile)))
        if outcome.state == "failed":
            traceback.print_exc()   # the whole story on stderr; the log keeps one line
            _free_device_memory(device)
        report(outcome)
        if outcome.state in ("checkpointed", "stopped"):   # the deadline has come: nothing else starts
            for rest in items[i + 1:]:
                report(Outcome(*rest, "not started", error="the deadline came"))
            return


_WORKER_DATA = {}
PARENT_POLL_S = 1.0   # how often a worker checks that its sweep still lives


def _die_with_parent(parent_pid):
    """A worker's first act: a thread that ends the worker once the sweep that started it is gone. A
    SIGKILL runs no cleanup in the parent, and a pool's workers would otherwise train on forever, each
    holding its memory (on a GPU machine, GPU memory)."""
    import threading

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)
    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _worker_train(config, device, data_root, compile, checkpoint_path, threads, every, stop_at, starts_dir):
    """One run in a worker process; the data comes from the cache the parent filled, once per worker."""
    import torch
    if _on_cpu(device):
        torch.set_num_threads(threads)
    if config.task not in _WORKER_DATA:
        _WORKER_DATA[config.task] = load_task_data(config, data_root)
    return run_one(config, device=device, data=_WORKER_DATA[config.task], compile=compile,
                   checkpoint_path=checkpoint_path, checkpoint_every_s=every, progress=False, stop_at=stop_at,
                   starts_dir=starts_dir)


def _in_workers(items, store, device, data_root, compiles, jobs, planner, report, threads, every):
    """Keep `jobs` runs in flight, each with `threads` CPU threads; each new run is planned when a worker frees up."""
    context = multiprocessing.get_context("spawn")   # CUDA cannot be forked
    pending, in_flight, deadline_hit = list(items), {}, False
    def new_pool(workers):
        return concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                                      initializer=_die_with_parent, initargs=(os.getpid(),))
    pool = new_pool(min(jobs, len(items)))
    try:
        while pending or in_flight:
            while pending and len(in_flight) < jobs and not deadline_hit:
                item = pending.pop(0)
                experiment, profile, config = item
                ok, predicted, why = planner.check(config, compiles(config))
                if not ok:
                    report(Outcome(experiment, profile, config, "not started", predicted_s=predicted, error=why))
                    continue
                future = pool.submit(_worker_train, config, device, data_root, compiles(config),
                                     store.checkpoint_path(profile, experiment, config.id), threads, every,
                                     planner.stop_at, store.starts_dir(profile))
                in_flight[future] = (item, time.time(), predicted)
            if not in_flight:
                break
            finished, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
            broken = False
            for future in finished:
                item, started, predicted = in_flight.pop(future)
                outcome = _finish(item, started, predicted, future.result)
                broken |= isinstance(future.exception(), concurrent.futures.process.BrokenProcessPool)
                deadline_hit |= outcome.state in ("checkpointed", "stopped")
                report(outcome)
            if broken:   # a worker died (killed, out of host memory): the others' runs go on in a new pool
                pool.shutdown(wait=True, cancel_futures=True)
                for future, (item, started, predicted) in list(in_flight.items()):
                    report(_finish(item, started, predicted, future.result))
                in_flight.clear()
                pool = new_pool(jobs)
            for item in (pending if deadline_hit else []):
                report(Outcome(item[0], item[1], item[2], "not started", error="the deadline came"))
            if deadline_hit:
                pending = []
    except BaseException:   # Ctrl-C: start nothing new; finished runs are saved, running ones keep checkpoints
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _free_device_memory(device):
    import torch
    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()
