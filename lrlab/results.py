"""The results store: one JSON record per run at results/<profile>/<experiment>/<id>.json.

Records are written atomically (temp file + rename), so a killed sweep never leaves half a
record. A record that does not parse, lacks a field, or whose config no longer hashes to its id
is corrupt: the sweep redoes it and readers refuse it; nothing ever reads it as a result.
"""
import json
import os
import pathlib

from lrlab.config import RunConfig
from lrlab.errors import LrlabError, check_choice
from lrlab.files import write_atomically
from lrlab.names import PROFILES

STATUSES = ("completed", "diverged")
RECORD_KEYS = ("id", "experiment", "profile", "config", "status", "history", "final", "env", "wall_s")
HISTORY_KEYS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")
TRACE_KEYS = ("step", "lr", "train_loss")   # optional per-k-steps rows of a range test
NOISE_KEYS = ("epoch", "step", "b_simple", "grad_sq", "trace_sigma")   # optional noise-scale rows


def default_root():
    return pathlib.Path(os.environ.get("LRLAB_RESULTS", "results"))


def write_json_atomic(path, obj):
    write_atomically(path, lambda f: f.write(json.dumps(obj, indent=1, allow_nan=False).encode()))


def validate_record(record, path=""):
    """Raise LrlabError (one line) if `record` is not a whole, self-consistent run record."""
    if not isinstance(record, dict):
        raise LrlabError(f"corrupt record {path}: not a JSON object")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise LrlabError(f"corrupt record {path}: missing {', '.join(missing)}")
    if record["status"] not in STATUSES:
        raise LrlabError(f"corrupt record {path}: status {record['status']!r}; valid: {', '.join(STATUSES)}")
    config = RunConfig.from_dict(record["config"])
    if config.id != record["id"]:
        raise LrlabError(f"corrupt record {path}: its config hashes to {config.id}, not {record['id']}")
    for row in record["history"]:
        if any(k not in row for k in HISTORY_KEYS):
            raise LrlabError(f"corrupt record {path}: a history row lacks one of {', '.join(HISTORY_KEYS)}")
    for row in record.get("trace", []):
        if any(k not in row for k in TRACE_KEYS):
            raise LrlabError(f"corrupt record {path}: a trace row lacks one of {', '.join(TRACE_KEYS)}")
    for row in record.get("noise_scale", []):
        if any(k not in row for k in NOISE_KEYS):
            raise LrlabError(f"corrupt record {path}: a noise-scale row lacks one of {', '.join(NOISE_KEYS)}")
    return record


BENCH_KINDS = {"bench": "rows", "calibration": "rows", "bench-sweep": "sweeps", "bench-commands": "commands"}
BENCH_ENV_KEYS = ("device", "device_type", "torch")


def validate_bench_record(record, path=""):
    """Raise LrlabError (one line) unless `record` is a whole bench record: a known kind, its env, when
    it was made, and its rows (objects) under the kind's key."""
    if not isinstance(record, dict):
        raise LrlabError(f"corrupt bench record {path}: not a JSON object")
    kind = record.get("kind")
    if kind not in BENCH_KINDS:
        raise LrlabError(f"corrupt bench record {path}: kind {kind!r}; valid: {', '.join(BENCH_KINDS)}")
    env = record.get("env")
    if not isinstance(env, dict) or any(not isinstance(env.get(k), str) for k in BENCH_ENV_KEYS):
        raise LrlabError(f"corrupt bench record {path}: env lacks one of {', '.join(BENCH_ENV_KEYS)}")
    if not isinstance(record.get("created"), str):
        raise LrlabError(f"corrupt bench record {path}: no 'created' time")
    rows = record.get(BENCH_KINDS[kind])
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise LrlabError(f"corrupt bench record {path}: {BENCH_KINDS[kind]!r} is not a list of objects")
    return record


class Store:
    def __init__(self, root=None):
        self.root = pathlib.Path(root) if root is not None else default_root()

    def path(self, profile, experiment, run_id):
        return self.root / profile / experiment / f"{run_id}.json"

    def checkpoint_path(self, profile, experiment, run_id):
        # git-ignored; holds a long run's partial state so a kill loses at most a few epochs
        return self.root / ".checkpoints" / profile / experiment / f"{run_id}.pt"

    def read(self, path):
        """The record at `path`; LrlabError if it is corrupt."""
        try:
            record = json.loads(pathlib.Path(path).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LrlabError(f"corrupt record {path}: {type(e).__name__} (truncated or not JSON)") from None
        return validate_record(record, path)

    def load(self, profile, experiment, config):
        """The finished record of `config`, or None when it is missing. Raises on a corrupt one."""
        path = self.path(profile, experiment, config.id)
        return self.read(path) if path.exists() else None

    def save(self, record):
        validate_record(record)
        write_json_atomic(self.path(record["profile"], record["experiment"], record["id"]), record)

    def paths(self, profile=None, experiment=None):
        pattern = f"{profile or '*'}/{experiment or '*'}/*.json"
        return sorted(p for p in self.root.glob(pattern) if not p.name.startswith("."))

    def records(self, profile=None, experiment=None):
        if profile is not None:
            check_choice("profile", profile, PROFILES)
        return [self.read(p) for p in self.paths(profile, experiment)]

    def bench_paths(self):
        return sorted(p for p in (self.root / "bench").glob("*.json") if not p.name.startswith("."))

    def bench_records(self, kinds=tuple(BENCH_KINDS)):
        """Every valid bench record of `kinds` under <root>/bench (`lrlab bench`, `lrlab calibrate`). A
        broken file is skipped, not raised: it costs its rows, never a plan or a page."""
        records = []
        for path in self.bench_paths():
            try:
                record = validate_bench_record(json.loads(path.read_text()), path)
            except (LrlabError, ValueError, OSError):
                continue
            if record["kind"] in kinds:
                records.append(record)
        return records

    # -- queries as pandas DataFrames (pandas is imported here only: sweeps do not need it)
    def runs(self, experiment, profile):
        """One row per run: config fields, status, final metrics, wall time, device."""
        return runs_frame(self.records(profile, experiment))

    def noise_scale(self, experiment, profile):
        """One row per (run, noise-scale measurement), with the run's config fields beside it."""
        return noise_scale_frame(self.records(profile, experiment))

    def history(self, experiment, profile):
        """One row per (run, epoch), with the run's config fields beside the metrics."""
        return history_frame(self.records(profile, experiment))


def runs_frame(records):
    """One row per record: its profile, config fields, status, final metrics, wall time, device."""
    import pandas as pd
    rows = []
    for r in records:
        row = {"id": r["id"], "profile": r["profile"], "status": r["status"], **r["config"]}
        row.update({f"final_{k}": v for k, v in r["final"].items()})
        row.update(wall_s=r["wall_s"], device=r["env"].get("device"), diverged_at_step=r.get("diverged_at_step"))
        rows.append(row)
    return pd.DataFrame(rows)


def noise_scale_frame(records):
    import pandas as pd
    return pd.DataFrame([{"id": r["id"], "profile": r["profile"], "status": r["status"], **r["config"], **point}
                         for r in records for point in r.get("noise_scale", [])])


def history_frame(records):
    import pandas as pd
    return pd.DataFrame([{"id": r["id"], "profile": r["profile"], "status": r["status"], **r["config"], **h}
                         for r in records for h in r["history"]])
