"""Train what an experiment declares and the store lacks; skip the done; resume the partial.

With jobs > 1, that many runs train at once in worker processes (spawned, so CUDA is safe), each
with its share of the CPU threads; the parent alone writes records, each as its run finishes.
Small runs leave a GPU (or a CPU) mostly idle between kernels; several at once fill it.
"""
import concurrent.futures
import multiprocessing
import os
import sys

from lrlab import experiments
from lrlab.errors import LrlabError, check_positive
from lrlab.results import PROFILES, Store
from lrlab.train import load_task_data, train


def plan(name, profile, store):
    """(config, state) for each declared run; state is done | diverged | missing | corrupt."""
    rows = []
    for config in experiments.runs(name, profile):
        try:
            record = store.load(profile, name, config)
        except LrlabError:
            rows.append((config, "corrupt"))
            continue
        rows.append((config, "missing" if record is None else
                     "diverged" if record["status"] == "diverged" else "done"))
    return rows


def sweep(name, profile, results=None, device="cpu", data_root=None, compile=False, progress=True,
          log=print, jobs=1):
    """Run every missing (or corrupt) run of `name` at `profile`, `jobs` at a time; returns the
    number trained."""
    check_positive("jobs", jobs)
    store = Store(results)
    todo = [(c, s) for c, s in plan(name, profile, store) if s in ("missing", "corrupt")]
    total = len(experiments.runs(name, profile))
    log(f"{name}/{profile}: {total - len(todo)} of {total} runs done, {len(todo)} to train on {device}"
        + (f", {jobs} at a time" if jobs > 1 else ""))
    for config, state in todo:
        if state == "corrupt":
            log(f"redoing corrupt record {store.path(profile, name, config.id)}")

    def finished(i, record):
        record.update(experiment=name, profile=profile)
        store.save(record)
        log(f"[{i}/{len(todo)}] {record['id']} {record['status']} test_acc={record['final']['test_acc']:.4f} "
            f"({record['wall_s']:.1f} s)")

    if jobs > 1 and len(todo) > 1:
        _sweep_in_workers(name, profile, store, [c for c, _ in todo], device, data_root, compile, jobs, finished)
        return len(todo)
    data_by_task = {}
    for i, (config, _) in enumerate(todo, 1):
        if config.task not in data_by_task:   # decode once per sweep, not per run
            data_by_task[config.task] = load_task_data(config, data_root)
        finished(i, train(config, device=device, data=data_by_task[config.task], compile=compile,
                          checkpoint_path=store.checkpoint_path(profile, name, config.id), progress=progress))
    return len(todo)


_WORKER_DATA = {}


def _worker_train(config, device, data_root, compile, checkpoint_path, threads):
    """One run in a worker process; the data is decoded (from the shared cache) once per worker."""
    import torch
    torch.set_num_threads(threads)
    if config.task not in _WORKER_DATA:
        _WORKER_DATA[config.task] = load_task_data(config, data_root)
    return train(config, device=device, data=_WORKER_DATA[config.task], compile=compile,
                 checkpoint_path=checkpoint_path, progress=False)


def _sweep_in_workers(name, profile, store, configs, device, data_root, compile, jobs, finished):
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(configs)), mp_context=context) as pool:
        futures = [pool.submit(_worker_train, c, device, data_root, compile,
                               store.checkpoint_path(profile, name, c.id), threads) for c in configs]
        try:
            for i, future in enumerate(concurrent.futures.as_completed(futures), 1):
                finished(i, future.result())
        except BaseException:   # an error or Ctrl-C: start nothing new (running runs keep their checkpoints)
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def status(results=None, names=None, profiles=PROFILES):
    """Rows of (experiment, profile, declared, done, diverged, missing, corrupt)."""
    store = Store(results)
    table = []
    for name in names or experiments.EXPERIMENTS:
        for profile in profiles:
            states = [s for _, s in plan(name, profile, store)]
            table.append(dict(experiment=name, profile=profile, declared=len(states),
                              **{s: states.count(s) for s in ("done", "diverged", "missing", "corrupt")}))
    return table


def ensure_runs(name, profile, results=None, allow_training=False, device="cpu", data_root=None):
    """What a chapter calls first: the records must exist, or it may train them (tests, users)."""
    store = Store(results)
    states = plan(name, profile, store)
    missing = [s for _, s in states if s in ("missing", "corrupt")]
    if missing and not allow_training:
        raise LrlabError(f"{len(missing)} of {len(states)} runs of {name!r} at profile {profile!r} are "
                         f"missing in {store.root}; run `lrlab sweep {name} --profile {profile}` first")
    if missing:
        sweep(name, profile, results, device, data_root, progress=False, log=lambda m: print(m, file=sys.stderr))
    return store


def resolve_profile(name, profile, results=None):
    """'auto' picks `full` when all of its runs are recorded, else `quick`: the book shows the best."""
    if profile != "auto":
        return profile
    states = [s for _, s in plan(name, "full", Store(results))]
    return "full" if states and all(s in ("done", "diverged") for s in states) else "quick"
