"""The results store: one JSON record per run at results/<profile>/<experiment>/<id>.json.

Records are written atomically (temp file + rename), so a killed sweep never leaves half a
record. A record that does not parse, lacks a field, or whose config no longer hashes to its id
is corrupt: the sweep redoes it and readers refuse it; nothing ever reads it as a result.
"""
import json
import os
import pathlib
import tempfile

from lrlab.config import RunConfig
from lrlab.errors import LrlabError, check_choice, one_line
from lrlab.files import TEMP_SUFFIX, remove_stale_temporaries, write_atomically
from lrlab.names import PROFILES

STARTS = "starts"   # .checkpoints/<profile>/starts/: the weights fine-tuned runs start from

STATUSES = ("completed", "diverged")
RECORD_KEYS = ("id", "experiment", "profile", "config", "status", "diverged_at_step", "history", "final", "env",
               "wall_s")
HISTORY_KEYS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc", "seconds")
TRACE_KEYS = ("step", "lr", "train_loss")   # optional per-k-steps rows of a range test
NOISE_KEYS = ("epoch", "step", "b_simple", "grad_sq", "trace_sigma")   # optional noise-scale rows


def default_root():
    return pathlib.Path(os.environ.get("LRLAB_RESULTS", "results"))


def write_json_atomic(path, obj):
    write_atomically(path, lambda f: f.write(json.dumps(obj, indent=1, allow_nan=False).encode()))


ENV_KEYS = ("device", "device_type", "torch", "python", "lrlab", "git")   # where and with what a run trained
FINAL_FROM_HISTORY = ("test_acc", "test_loss", "train_loss")              # `final` repeats the last epoch's


def _number(value, none_ok=False):
    return (value is None and none_ok) or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


# each history row's fields and whether a value may be null (a loss that overflowed is recorded as null)
HISTORY_TYPES = {"epoch": _whole, "lr": _number, "seconds": _number, "test_acc": _number,
                 "train_loss": lambda v: _number(v, True), "train_acc": lambda v: _number(v, True),
                 "test_loss": lambda v: _number(v, True)}


def validate_record(record, path=""):
    """Raise LrlabError (one line) if `record` is not a whole, self-consistent run record: every field of
    the schema there with its type, a config that hashes to the id, `final` equal to the last epoch, a
    diverged run (and only it) saying at which step, and the env that says where it ran."""
    def corrupt(why):
        return LrlabError(f"corrupt record {path}: {why}")

    if not isinstance(record, dict):
        raise corrupt("not a JSON object")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise corrupt(f"missing {', '.join(missing)}")
    for key in ("id", "experiment", "profile"):
        if not isinstance(record[key], str):
            raise corrupt(f"{key} is {record[key]!r}, not a string")
    if record["profile"] not in PROFILES:
        raise corrupt(f"profile {record['profile']!r}; valid: {', '.join(PROFILES)}")
    if record["status"] not in STATUSES:
        raise corrupt(f"status {record['status']!r}; valid: {', '.join(STATUSES)}")
    if not isinstance(record["config"], dict):
        raise corrupt(f"config is {type(record['config']).__name__}, not an object")
    try:
        config = RunConfig.from_dict(record["config"])
    except LrlabError as e:
        raise corrupt(f"its config is invalid: {e}") from None
    except (TypeError, ValueError) as e:
        raise corrupt(f"its config is invalid: {one_line(e)}") from None
    if config.id != record["id"]:
        raise corrupt(f"its config hashes to {config.id}, not {record['id']}")
    history = record["history"]
    if not isinstance(history, list) or not history:
        raise corrupt("history is not a non-empty list of epochs")
    for row in history:
        if not isinstance(row, dict) or any(k not in row for k in HISTORY_KEYS):
            raise corrupt(f"a history row is not an object with {', '.join(HISTORY_KEYS)}")
        bad = [k for k, ok in HISTORY_TYPES.items() if not ok(row[k])]
        if bad:
            raise corrupt(f"history row {row['epoch']!r} has a non-number {bad[0]} ({row[bad[0]]!r})")
    final = record["final"]
    if not isinstance(final, dict) or not _whole(final.get("steps")):
        raise corrupt("final is not an object with a whole number of steps")
    differ = [k for k in FINAL_FROM_HISTORY if final.get(k) != history[-1][k]]
    if differ:
        raise corrupt(f"final {differ[0]} {final.get(differ[0])!r} is not the last epoch's {history[-1][differ[0]]!r}")
    diverged_at = record["diverged_at_step"]
    if not (_whole(diverged_at) if record["status"] == "diverged" else diverged_at is None):
        raise corrupt(f"status {record['status']} with diverged_at_step {diverged_at!r} (a step when, and only when, diverged)")
    env = record["env"]
    if not isinstance(env, dict) or any(not isinstance(env.get(k), str) for k in ENV_KEYS):
        raise corrupt(f"env lacks one of {', '.join(ENV_KEYS)}")
    if not _number(record["wall_s"]) or record["wall_s"] < 0:
        raise corrupt(f"wall_s is {record['wall_s']!r}, not a number of seconds")
    if "packed_with" in record and (not _whole(record["packed_with"]) or record["packed_with"] < 1):
        raise corrupt(f"packed_with is {record['packed_with']!r}, not a stack size >= 1 (a stack of one is a "
                      "lone run replayed as a stack)")
    for name, keys in (("trace", TRACE_KEYS), ("noise_scale", NOISE_KEYS)):
        rows = record.get(name, [])
        if not isinstance(rows, list) or any(not isinstance(row, dict) or any(k not in row for k in keys)
                                             for row in rows):
            raise corrupt(f"{name} is not a list of objects with {', '.join(keys)}")
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
        if self.root.exists() and not self.root.is_dir():   # no reader or writer can use it
            raise LrlabError(f"results folder {self.root} is a file, not a folder; give --results a folder")

    def path(self, profile, experiment, run_id):
        return self.root / profile / experiment / f"{run_id}.json"

    def checkpoint_path(self, profile, experiment, run_id):
        # git-ignored; holds a long run's partial state so a kill loses at most a few epochs
        return self.root / ".checkpoints" / profile / experiment / f"{run_id}.pt"

    def starts_dir(self, profile):
        """Where the starts of a profile's fine-tuned runs keep their weights (`lrlab.pretrained`): beside
        its checkpoints, so a GPU job packs them with those and the next job, carrying them, reuses them."""
        return self.root / ".checkpoints" / profile / STARTS

    def prepare(self, places):
        """Before the first run of a sweep or job trains: check that a record and a checkpoint can be
        written for each (profile, experiment) of `places` (else a one-line LrlabError now, not a lost
        run later), and delete the temp files a killed writer left there."""
        folders = [self.root] + [folder for profile, experiment in sorted(set(places))
                                 for folder in (self.path(profile, experiment, "x").parent,
                                                self.checkpoint_path(profile, experiment, "x").parent,
                                                self.starts_dir(profile))]
        for folder in folders:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                fd, probe = tempfile.mkstemp(dir=folder, prefix=f".write-check.{os.getpid()}.", suffix=TEMP_SUFFIX)
                os.close(fd)
                os.unlink(probe)
            except OSError as e:
                raise LrlabError(f"results folder {self.root} is not writable ({e.strerror}: {folder}); "
                                 "give --results a folder you can write") from None
            if folder != self.root:
                remove_stale_temporaries(folder)

    def read(self, path):
        """The record at `path` (<profile>/<experiment>/<id>.json); LrlabError if it is corrupt, or the
        record of another run than its path names (a copy under the wrong name must not pass as done)."""
        path = pathlib.Path(path)
        try:
            record = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LrlabError(f"corrupt record {path}: {type(e).__name__} (truncated or not JSON)") from None
        validate_record(record, path)
        said = (record["profile"], record["experiment"], record["id"])
        named = (path.parent.parent.name, path.parent.name, path.stem)
        if said != named:
            raise LrlabError(f"corrupt record {path}: it holds run {'/'.join(said)}, not the "
                             f"{'/'.join(named)} its path names")
        return record

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

    def job_logs(self):
        """Every readable job log under <root>/jobs (`lrlab job`), oldest first. A broken file is skipped:
        it costs the cost page its minutes, never a plan."""
        logs = []
        for path in sorted((self.root / "jobs").glob("*.json")):
            try:
                log = json.loads(path.read_text())
            except (ValueError, OSError):
                continue
            if isinstance(log, dict) and log.get("kind") == "job" and isinstance(log.get("runs"), list):
                logs.append(log)
        return logs

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
        row.update(wall_s=r["wall_s"], device=r["env"].get("device"), diverged_at_step=r.get("diverged_at_step"),
                   # records from before lrlab.divergence's rule 3 (a collapse to chance) were held to 2
                   divergence_rules=r["env"].get("divergence_rules", 2))
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
