"""Faults: kills at bad moments. A killed sweep leaves no process behind, loses no finished run and
no more of a running one than the epochs since its checkpoint, and leaves no stray file."""
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import torch

from lrlab import experiments
from lrlab.files import remove_stale_temporaries, write_atomically
from lrlab.results import Store


def processes():
    """(pid, the fields of /proc/<pid>/stat after the name: state, ppid, pgrp, session, ...) of each process."""
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            yield int(stat.parent.name), stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue


def children(pid):
    """The pids whose parent is `pid` (Linux /proc)."""
    return [child for child, fields in processes() if int(fields[1]) == pid]


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = pathlib.Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().rsplit(")", 1)[1].split()[0] == "Z")   # a zombie is gone


@pytest.mark.skipif(not pathlib.Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_the_workers_of_a_killed_sweep_die_with_it(tmp_path, data_root):
    proc = subprocess.Popen([sys.executable, "-m", "lrlab", "sweep", "basics", "--profile", "smoke", "--jobs", "2",
                             "--results", str(tmp_path), "--data", str(data_root), "--no-progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers, deadline = [], time.time() + 120
    while len(workers) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        # the pool's workers (the resource tracker is a child too: it ends with its pipe)
        workers = [pid for pid in children(proc.pid)
                   if b"spawn_main" in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert proc.poll() is None and len(workers) == 2, "the kill must land while workers train"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15
    while any(alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    survivors = [pid for pid in workers if alive(pid)]
    for pid in survivors:   # do not leave them to the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert not survivors


def test_a_kill_between_training_and_saving_keeps_the_checkpoint(tmp_path, data_root, monkeypatch):
    """The checkpoint goes only after the record is on disk: a kill in between costs the epochs since it."""
    from lrlab.runner import train_runs
    from lrlab.train import DeadlineReached, train
    config = experiments.runs("basics", "smoke")[0].replace(epochs=3)
    store = Store(tmp_path)
    ckpt = store.checkpoint_path("smoke", "basics", config.id)
    with pytest.raises(DeadlineReached):   # a first job checkpoints it after an epoch
        train(config, data_root=data_root, progress=False, checkpoint_path=ckpt, stop_at=time.time())
    assert ckpt.exists()

    def killed(record):
        raise KeyboardInterrupt("killed before the record was written")
    monkeypatch.setattr(store, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        train_runs([("basics", "smoke", config)], store, data_root=data_root, log=lambda m: None)
    assert ckpt.exists() and not store.path("smoke", "basics", config.id).exists()

    monkeypatch.undo()
    train_runs([("basics", "smoke", config)], store, data_root=data_root, log=lambda m: None)
    assert store.load("smoke", "basics", config) is not None and not ckpt.exists()


def test_a_killed_writers_temporary_files_go_on_start_a_live_ones_stay(tmp_path):
    folder = tmp_path / "smoke" / "basics"
    folder.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    stale = folder / f".abc.json.{dead_pid}.x1y2.tmp"        # what a kill mid-write leaves
    live = folder / f".def.json.{os.getpid()}.z3w4.tmp"       # a writer at work now
    older = folder / ".ghi.json.k9k9k9.tmp"                   # the name before pids were in it
    for path in (stale, live, older):
        path.write_text("half")
    assert remove_stale_temporaries(tmp_path) == 2
    assert sorted(p.name for p in folder.iterdir()) == [live.name]


def test_a_sweep_cleans_a_killed_writers_temporary_files(tmp_path, data_root):
    from lrlab.sweep import sweep
    config = experiments.runs("basics", "smoke")[0]
    store = Store(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftovers = [store.path("smoke", "basics", config.id).with_name(f".{config.id}.json.{int(dead.stdout)}.ab.tmp"),
                 store.checkpoint_path("smoke", "basics", config.id).with_name(f".{config.id}.pt.{int(dead.stdout)}.cd.tmp")]
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
    sweep("basics", "smoke", tmp_path, data_root=data_root, progress=False, log=lambda m: None)
    assert not any(path.exists() for path in leftovers)
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_temporary_files_name_their_writer(tmp_path):
    seen = []
    write_atomically(tmp_path / "r.json", lambda f: seen.extend(p.name for p in tmp_path.iterdir()))
    assert f".r.json.{os.getpid()}." in seen[0] and seen[0].endswith(".tmp")


def test_a_runs_numbers_do_not_depend_on_how_many_run_at_once(tmp_path, data_root):
    """--jobs 1 trained in this process with every core, --jobs 2 in workers with half each: up to 6
    points of test accuracy apart for the same id. Now each run has the same threads either way."""
    from lrlab.sweep import sweep

    def numbers(root):
        return {r["id"]: (r["status"], r["final"], [{k: v for k, v in row.items() if k != "seconds"}
                                                    for row in r["history"]], r["env"]["threads"])
                for r in Store(root).records("smoke", "basics")}
    for jobs in (1, 2):
        sweep("basics", "smoke", tmp_path / str(jobs), data_root=data_root, progress=False, log=lambda m: None,
              jobs=jobs, stack=None)
    alone, together = numbers(tmp_path / "1"), numbers(tmp_path / "2")
    assert len(alone) == len(experiments.runs("basics", "smoke")) and alone == together


def test_jobs_and_threads_are_checked(monkeypatch):
    from lrlab.errors import LrlabError
    from lrlab.runner import auto_jobs, check_jobs, run_threads
    monkeypatch.delenv("LRLAB_JOBS", raising=False)
    assert check_jobs("3", "cpu") == 3 and check_jobs("auto", "cuda") == 1 and auto_jobs("cpu") >= 1
    monkeypatch.setenv("LRLAB_JOBS", "2")
    assert check_jobs("auto", "cpu") == 2
    for bad in ("many", "0", -1, 1.5):
        with pytest.raises(LrlabError, match="jobs"):
            check_jobs(bad, "cpu")
    monkeypatch.setenv("LRLAB_THREADS", "two")
    with pytest.raises(LrlabError, match="LRLAB_THREADS"):
        run_threads()


# Loaded into every process of a stormed sweep (parent and spawned workers) through PYTHONPATH: with
# STORM_KILL_AT="<suffix>:<n>", the n-th time this process renames a finished temporary file onto a
# file ending in <suffix>, it SIGKILLs its whole process group instead: the temp file is fully
# written, the real one not yet replaced, which is the worst moment of a record or checkpoint write.
KILL_IN_A_WRITE = '''
import os, signal
_at = os.environ.get("STORM_KILL_AT")
if _at:
    _suffix, _n = _at.rsplit(":", 1)
    _seen, _replace = [0], os.replace
    def _replace_or_die(src, dst, *args, **kwargs):
        if str(src).endswith(".tmp") and str(dst).endswith(_suffix):
            _seen[0] += 1
            if _seen[0] == int(_n):
                with open(os.environ["STORM_LOG"], "a") as log:
                    log.write(str(dst) + "\\n")
                os.killpg(0, signal.SIGKILL)
        return _replace(src, dst, *args, **kwargs)
    os.replace = _replace_or_die
'''
STORM = "rules_of_thumb"   # 24 smoke runs of 2 and 4 epochs, images and text: each writes checkpoints, then a record
KILLS = 14   # each of the 7 kinds of kill below, once in workers (--jobs 2) and once in the sweep's own process


def session(sid):
    """The live pids of session `sid` (a stormed sweep and every process it started)."""
    return [pid for pid, fields in processes() if int(fields[3]) == sid and fields[0] != "Z"]


def comparable(root):
    """Each record of the storm experiment without what a clock decides (wall time, epoch seconds, and for a
    fine-tuned run its start's time and whether it trained that start: the first to need it does)."""
    def strip(record):
        record = dict(record, wall_s=None)
        if "started_from" in record:
            record["started_from"] = dict(record["started_from"], wall_s=None, trained_here=None)
        record["history"] = [{k: v for k, v in row.items() if k != "seconds"} for row in record["history"]]
        return record
    return {r["id"]: strip(r) for r in Store(root).records("smoke", STORM)}


@pytest.mark.skipif(not pathlib.Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_storm_of_kills_loses_no_run_leaves_nothing_and_changes_no_number(tmp_path, data_root):
    """14 SIGKILLs of a smoke sweep, every other one at `--jobs 2`: at random times early in it (the sweep
    alone, or its whole process group) and inside record and checkpoint writes. After each: every process of the sweep gone, every
    record written before still there byte for byte. At the end: no temporary file, no checkpoint, and
    the records of an uninterrupted sweep, number for number."""
    import random
    rng = random.Random(18)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(KILL_IN_A_WRITE)
    stormed, log = tmp_path / "stormed", tmp_path / "kills.log"
    env = dict(os.environ, LRLAB_CHECKPOINT_EVERY_S="0", STORM_LOG=str(log),
               PYTHONPATH=os.pathsep.join([str(hooks)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    command = [sys.executable, "-m", "lrlab", "sweep", STORM, "--profile", "smoke", "--stack", "off",
               "--results", str(stormed), "--data", str(data_root), "--no-progress"]
    calm = tmp_path / "calm"   # first the uninterrupted sweep: its records, and how long this machine takes
    started = time.time()
    subprocess.run([*command[:command.index("--results") + 1], str(calm), *command[command.index("--results") + 2:],
                    "--jobs", "2"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    calm_s = time.time() - started
    kinds = ["sweep at a random time", ".pt:1", ".json:1", "group at a random time", ".pt:2", ".json:2", ".pt:3"]
    kept, landed = {}, []
    for round_ in range(KILLS):
        kind = kinds[round_ % len(kinds)]
        at = {"STORM_KILL_AT": kind} if kind.startswith(".") else {}
        jobs = ["--jobs", "2" if round_ % 2 == 0 else "1"]   # in workers, and in the sweep's own process
        proc = subprocess.Popen(command + jobs, env=dict(env, **at), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not at:
            try:
                # early in a sweep, in proportion to this machine's speed: every kill must land before it ends
                proc.wait(timeout=rng.uniform(0.03, 0.2) * calm_s)
            except subprocess.TimeoutExpired:
                (os.kill if kind.startswith("sweep") else os.killpg)(proc.pid, signal.SIGKILL)
        proc.wait(timeout=300)
        if proc.returncode == -signal.SIGKILL:
            landed.append(kind)
        deadline = time.time() + 15   # a worker notices its sweep is gone within PARENT_POLL_S
        while session(proc.pid) and time.time() < deadline:
            time.sleep(0.1)
        orphans = session(proc.pid)
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)
        assert not orphans, f"round {round_} ({kind}) left {len(orphans)} process(es)"
        now = {p: p.read_bytes() for p in stormed.rglob("*.json") if p.parent.name == STORM}
        lost = [p.name for p, data in kept.items() if now.get(p) != data]
        assert not lost, f"round {round_} ({kind}) lost or changed finished records {lost}"
        kept = now
    assert len(landed) == KILLS, f"only {len(landed)} of {KILLS} kills landed before the sweep finished: {landed}"
    written = log.read_text().split()
    assert any(p.endswith(".json") for p in written) and any(p.endswith(".pt") for p in written)

    subprocess.run(command + ["--jobs", "2"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # no temp file and no checkpoint left; the start the fine-tuned runs share stays, whole, for a rerun to reuse
    assert not list(stormed.rglob("*.tmp")) and not [p for p in stormed.rglob("*.pt") if p.parent.name != "starts"]
    [start] = Store(stormed).starts_dir("smoke").glob("*.pt")
    assert torch.load(start, weights_only=True)["model"]
    uninterrupted = comparable(calm)
    assert len(uninterrupted) == len(experiments.runs(STORM, "smoke")) and comparable(stormed) == uninterrupted
