"""Train what an experiment declares and the store lacks; skip the done; resume the partial.

With jobs > 1, that many runs train at once in worker processes (spawned, so CUDA is safe), each
with its share of the CPU threads; the parent alone writes records, each as its run finishes.
Small runs leave a GPU (or a CPU) mostly idle between kernels; several at once fill it. A run that
fails is reported and the others go on; the sweep then exits non-zero naming it.
"""
import sys

from lrlab import experiments
from lrlab.errors import LrlabError, check_positive
from lrlab.results import PROFILES, Store


def declared_records(name, profile, store):
    """(config, state, record) for each declared run; state is done | diverged | missing | corrupt, and
    record is None unless the run is done or diverged."""
    rows = []
    for config in experiments.runs(name, profile):
        try:
            record = store.load(profile, name, config)
        except LrlabError:
            rows.append((config, "corrupt", None))
            continue
        rows.append((config, "missing" if record is None else
                     "diverged" if record["status"] == "diverged" else "done", record))
    return rows


def plan(name, profile, store):
    """(config, state) for each declared run; state is done | diverged | missing | corrupt."""
    return [(config, state) for config, state, _ in declared_records(name, profile, store)]


def sweep(name, profile, results=None, device="cpu", data_root=None, compile=False, progress=True,
          log=print, jobs=1, stack="auto"):
    """Run every missing (or corrupt) run of `name` at `profile`, `jobs` at a time; returns the
    number trained. Failed runs raise one LrlabError at the end, after every other run is saved.
    `stack`: "auto" (runs stack as this device's bench says pays), None (never), or a StackSizes."""
    from lrlab.runner import train_runs
    check_positive("jobs", jobs)
    store = Store(results)
    if stack == "auto":
        from lrlab.env import device_name
        from lrlab.stacking import StackSizes
        stack = StackSizes.measured(store.root, device_name(device))
    todo = [(c, s) for c, s in plan(name, profile, store) if s in ("missing", "corrupt")]
    total = len(experiments.runs(name, profile))
    log(f"{name}/{profile}: {total - len(todo)} of {total} runs done, {len(todo)} to train on {device}"
        + (f", {jobs} at a time" if jobs > 1 else ""))
    for config, state in todo:
        if state == "corrupt":
            log(f"redoing corrupt record {store.path(profile, name, config.id)}")
    outcomes = train_runs([(name, profile, c) for c, _ in todo], store, device, data_root, compile, jobs,
                          progress, log=log, stacking=stack)
    failed = [o for o in outcomes if o.state == "failed"]
    if failed:
        raise LrlabError(f"{len(failed)} of {len(todo)} runs failed, the others are saved (first: run "
                         f"{failed[0].config.id}: {failed[0].error}); rerun to retry them")
    return len(todo)


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
