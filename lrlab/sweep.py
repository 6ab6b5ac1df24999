"""Train what an experiment declares and the store lacks; skip the done; resume the partial."""
import sys

from lrlab import experiments
from lrlab.errors import LrlabError
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
          log=print):
    """Run every missing (or corrupt) run of `name` at `profile`; returns the number trained."""
    store = Store(results)
    todo = [(c, s) for c, s in plan(name, profile, store) if s in ("missing", "corrupt")]
    total = len(experiments.runs(name, profile))
    log(f"{name}/{profile}: {total - len(todo)} of {total} runs done, {len(todo)} to train on {device}")
    data_by_task = {}
    for i, (config, state) in enumerate(todo, 1):
        if state == "corrupt":
            log(f"redoing corrupt record {store.path(profile, name, config.id)}")
        if config.task not in data_by_task:   # decode once per sweep, not per run
            data_by_task[config.task] = load_task_data(config, data_root)
        record = train(config, device=device, data=data_by_task[config.task], compile=compile,
                       checkpoint_path=store.checkpoint_path(profile, name, config.id),
                       progress=progress)
        record.update(experiment=name, profile=profile)
        store.save(record)
        acc = record["final"]["test_acc"]
        log(f"[{i}/{len(todo)}] {config.id} {record['status']} test_acc={acc:.4f} "
            f"({record['wall_s']:.1f} s)")
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


def resolve_profile(name, profile, results=None):
    """'auto' picks `full` when all of its runs are recorded, else `quick`: the book shows the best."""
    if profile != "auto":
        return profile
    states = [s for _, s in plan(name, "full", Store(results))]
    return "full" if states and all(s in ("done", "diverged") for s in states) else "quick"
