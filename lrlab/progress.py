"""Which declared runs the store holds: what the sweep trains next, what `lrlab status` counts and
what a chapter may show. Reading only; `lrlab.sweep` trains.
"""
from lrlab import experiments
from lrlab.errors import LrlabError
from lrlab.names import PROFILES
from lrlab.results import Store


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
