"""GPU jobs on the CPU: deadlines, failures that cost no other run, missing packages, kill and resume."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lrlab import experiments, job, queue, runner
from lrlab.config import RunConfig
from lrlab.results import Store
from lrlab.train import DeadlineReached, train


def lrlab(*args, env=None, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "lrlab", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, **kw)


def comparable(record):
    """What must not change when a run is interrupted and resumed: its id, history and final numbers."""
    history = [{k: v for k, v in row.items() if k != "seconds"} for row in record["history"]]
    return record["id"], history, record["final"], record["status"]


SHORT = RunConfig(task="cifar10", model="mlp", width=32, batch_size=64, epochs=3, augment="none",
                  train_per_class=20, test_per_class=5, lr=0.05)   # 3 steps an epoch: no mid-epoch check


def test_a_run_at_its_deadline_checkpoints_and_resumes_to_the_same_record(tmp_path, data_root):
    whole = train(SHORT, data_root=data_root, progress=False)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(DeadlineReached) as stop:
        train(SHORT, data_root=data_root, progress=False, checkpoint_path=ckpt, stop_at=time.time())
    assert stop.value.checkpointed and stop.value.epoch == 1 and ckpt.exists()
    resumed = train(SHORT, data_root=data_root, progress=False, checkpoint_path=ckpt)
    assert comparable(resumed) == comparable(whole)


def test_a_checkpoint_is_read_onto_the_cpu_whatever_device_wrote_it(tmp_path, data_root, monkeypatch):
    """On the H200 (2026-11-27) checkpoints were loaded onto the GPU, and torch.set_rng_state refused the
    CUDA copy of the RNG state: every resume failed there. The CPU alone cannot write a CUDA checkpoint,
    so this checks where it is read; the resumed record must still equal the uninterrupted one."""
    import torch
    whole = train(SHORT, data_root=data_root, progress=False)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(DeadlineReached):
        train(SHORT, data_root=data_root, progress=False, checkpoint_path=ckpt, stop_at=time.time())
    real_load, places = torch.load, []

    def load(f, map_location=None, **kw):
        places.append(map_location)
        return real_load(f, map_location=map_location, **kw)
    monkeypatch.setattr(torch, "load", load)
    resumed = train(SHORT, data_root=data_root, progress=False, checkpoint_path=ckpt)
    assert places == ["cpu"] and comparable(resumed) == comparable(whole)


def test_the_planner_starts_only_what_fits_or_what_can_never_fit_a_job():
    now = time.time()
    planner = runner.Planner(stop_at=now + 60, predict=lambda c: c.epochs, job_s=480)
    assert planner.check(SHORT.replace(epochs=30))[0]          # 30 s of 60 left
    assert not planner.check(SHORT.replace(epochs=100))[0]     # 100 s: would not finish, would fit a job
    assert planner.check(SHORT.replace(epochs=1000))[0]        # longer than any job: goes, checkpoints
    assert not runner.Planner(stop_at=now + 1, predict=lambda c: 0.1).check(SHORT)[0]   # too little left
    assert runner.Planner().check(SHORT)[0]                    # no deadline: everything goes


def test_a_failing_run_costs_no_other_run_in_workers(tmp_path, data_root):
    good = [SHORT.replace(epochs=1, seed=k) for k in range(2)]
    bad = SHORT.replace(epochs=1, batch_size=4096)   # larger than the 200 training images: raises in train
    items = [("basics", "smoke", c) for c in (good[0], bad, good[1])]
    outcomes = runner.train_runs(items, Store(tmp_path), data_root=data_root, jobs=2, log=lambda m: None)
    states = {o.config.id: o.state for o in outcomes}
    assert states[bad.id] == "failed" and "batch_size 4096" in next(o.error for o in outcomes if o.config == bad)
    assert all(states[c.id] == "completed" for c in good)
    assert {r["id"] for r in Store(tmp_path).records("smoke", "basics")} == {c.id for c in good}


def test_a_job_logs_a_failure_goes_on_and_exits_non_zero(tmp_path, data_root, monkeypatch):
    chunk = experiments.chunks("basics", "smoke")[0]
    victim = chunk.runs[1]
    real_train = runner.train

    def flaky(config, **kw):
        if config.id == victim.id:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_train(config, **kw)
    monkeypatch.setattr(runner, "train", flaky)
    lines = []
    record = job.run_job(5, ["basics/momentum_shift"], "smoke", tmp_path, data_root=data_root, log=lines.append,
                         jobs=1)   # in this process, where the flaky train is
    assert record["counts"]["failed"] == 1 and sum(record["counts"].values()) == len(chunk.runs)
    assert job.exit_status(record) == job.FAILED_EXIT
    assert any("FAILED" in line and victim.id in line and "out of memory" in line for line in lines)
    saved = {r["id"] for r in Store(tmp_path).records("smoke", "basics")}
    assert victim.id not in saved and len(saved) == len(chunk.runs) - 1   # a failure is not a result
    log = json.loads(next((tmp_path / "jobs").glob("*.json")).read_text())
    assert log["status"] == "completed" and [r["state"] for r in log["runs"]].count("failed") == 1


def test_a_job_starts_no_run_predicted_to_miss_the_deadline(tmp_path, data_root, monkeypatch):
    monkeypatch.setattr(job.Predictor, "__call__", lambda self, config: 100.0)   # each run 100 s, 60 s left
    record = job.run_job(1, ["basics/momentum_shift"], "smoke", tmp_path, data_root=data_root, log=lambda m: None)
    assert set(record["counts"]) == {"not started"} and job.exit_status(record) == 0
    assert Store(tmp_path).records("smoke", "basics") == []


def test_a_job_without_mup_skips_those_runs_with_one_line_and_finishes_the_rest(tmp_path, data_root):
    code = ("import sys\nsys.modules['mup'] = None\nfrom lrlab.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    out = subprocess.run([sys.executable, "-c", code, "job", "lr_vs_width/mlp", "--profile", "smoke", "--deadline",
                          "5", "--results", str(tmp_path), "--data", str(data_root), "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    skipped = [line for line in out.stdout.splitlines() if line.startswith("skipping")]
    assert len(skipped) == 1 and "mup" in skipped[0]
    mlp = experiments.chunks("lr_vs_width", "smoke")[0].runs
    saved = {r["id"] for r in Store(tmp_path).records("smoke", "lr_vs_width")}
    assert saved == {c.id for c in mlp if c.parameterization == "sp"}


def test_a_killed_job_resumed_packed_and_unpacked_equals_an_uninterrupted_one(tmp_path, data_root):
    from lrlab.pack import pack, unpack
    chunk = "super_convergence/headline"
    args = ["job", chunk, "--profile", "smoke", "--deadline", "10", "--data", str(data_root), "--no-progress"]
    clean = tmp_path / "clean"
    assert lrlab(*args, "--results", str(clean)).returncode == 0

    box = tmp_path / "box"   # the GPU machine's checkout: killed mid-job, then run again
    proc = subprocess.Popen([sys.executable, "-m", "lrlab", *args, "--results", str(box)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not Store(box).paths("smoke", "super_convergence") and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_runs = len(next(c for c in experiments.chunks("super_convergence", "smoke") if c.name == "headline").runs)
    assert 0 < len(Store(box).paths("smoke", "super_convergence")) < n_runs, "the kill must land mid-job"
    [killed] = Store(box).job_logs()   # the killed job's log counts to its last save (lrlab.queue.job_spans)
    assert killed["finished"] is None and killed["updated"] >= killed["started"]
    assert [minutes for _, minutes in queue.job_spans([killed], "smoke")] == [pytest.approx(
        (queue._seconds(killed["updated"]) - queue._seconds(killed["started"])) / 60)]
    out = lrlab(*args, "--results", str(box))
    assert out.returncode == 0, out.stderr

    packs = pack(box, tmp_path / "out", log=lambda m: None)
    fresh = tmp_path / "fresh"
    unpack(packs, fresh, log=lambda m: None)
    got = {r["id"]: comparable(r) for r in Store(fresh).records("smoke", "super_convergence")}
    want = {r["id"]: comparable(r) for r in Store(clean).records("smoke", "super_convergence")}
    assert got == want and len(got) == n_runs


def test_calibration_runs_each_path_benches_each_shape_and_marks_the_chunk_done(tmp_path, data_root, monkeypatch):
    from lrlab import calibrate
    monkeypatch.setattr(calibrate, "SMOKE_CHUNKS", (("basics", "momentum_shift"), ("lr_vs_width", "gpt")))
    monkeypatch.setattr(calibrate, "_compile_configs", lambda: [])   # inductor on 2 CPU cores: too slow here
    smoke_configs = [c for c in experiments.runs("lr_vs_width", "smoke") if c.parameterization == "mup"][:1]
    monkeypatch.setattr(calibrate, "_stacked_configs", lambda: smoke_configs)
    lines = []
    record = calibrate.calibrate("cpu", tmp_path, data_root, shapes=[("mlp-32", 8), ("chargpt-32", 4)], steps=2,
                                 log=lines.append, stacked_shapes=[("mlp-32", 8)], stack_sizes=(1, 2))
    assert record["complete"] and [p["name"] for p in record["paths"]] == [
        "smoke basics/momentum_shift", "smoke lr_vs_width/gpt", "2 runs at once (spawned workers)",
        "stacked training (ResNet, muP MLP, muP GPT)"]
    assert all(p.get("runs", 1) > 0 for p in record["paths"])
    assert all(p["ok"] for p in record["paths"]), record["paths"]
    assert [(r["model"], r.get("members")) for r in record["rows"]] == [
        ("mlp-32", None), ("chargpt-32", None), ("mlp-32", 1), ("mlp-32", 2)]
    assert record["rows"][3]["stacked_over_sequential"] > 0 and record["stacked_skipped"] == []
    saved = json.loads(next((tmp_path / "bench").glob("*calibration*.json")).read_text())
    assert saved["kind"] == "calibration" and saved["rows"] == json.loads(json.dumps(record["rows"]))
    cpu = record["env"]["device"]
    rows = queue.queue("smoke", tmp_path, device_name="H100")
    assert rows[0].chunk == "calibrate" and rows[0].state == "pending"   # a CPU calibration is not the H100's
    assert queue.calibrated(Store(tmp_path), cpu.split(" (")[0])[1]


def test_the_gpu_profile_meets_the_job_budget_and_every_chunk_is_queued():
    rows = queue.queue("gpu", "/nonexistent-results")
    assert rows[0].chunk == "calibrate" and all(r.state == "pending" for r in rows)
    declared = {(e, c.name) for e in experiments.EXPERIMENTS for c in experiments.chunks(e, "gpu")}
    assert {(r.experiment, r.chunk) for r in rows[1:]} == declared
    assert set(queue.PRIORITY) == declared   # the gpu profile's order is written down, chunk by chunk
    assert [r.tier for r in rows] == sorted(r.tier for r in rows)
    minutes1, jobs1, _, _ = queue.tier_totals(rows, 1)
    minutes2, jobs2, _, _ = queue.tier_totals(rows, 2)
    # the audit's plan (gpu-plan.md): 6 jobs for tier 1, about 15 for tier 2, before stacking shortens them
    assert jobs1 <= 6 and jobs2 <= 15, (minutes1, jobs1, minutes2, jobs2)
    # the claims the issue names come first: ResNet-20's pair, and width 8192 in the first muP chunk
    first = {r.name: r for r in rows if r.tier == 1}
    assert {c.model for c in first["super_convergence/resnet20_headline"].configs} == {"resnet20"}
    assert 8192 in {c.width for c in first["lr_vs_width/mlp_coarse"].configs}


def test_jobs_needed_packs_runs_like_the_job_does():
    from lrlab.queue import jobs_needed
    assert jobs_needed([5, 5, 3], 8) == 2          # 5+3 in the first job, 5 in the second
    assert jobs_needed([12], 8) == 2               # one run longer than a job spans two
    assert jobs_needed([], 8) == 0
    assert jobs_needed([7, 20, 1], 8) == 4         # 7+1, then the long run fills 8+8+4 beyond the first's 1


def test_lrlab_queue_prints_every_chunk_and_each_tiers_jobs(tmp_path):
    out = lrlab("queue", "--results", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "calibrate" in out.stdout and "lr_vs_width/mlp_coarse" in out.stdout
    assert any(line.startswith("tier 1:") and "jobs of 8 min" in line for line in out.stdout.splitlines())
    assert any(line.startswith("tier 2:") for line in out.stdout.splitlines())
    bad = lrlab("queue", "--device-name", "A100", "--results", str(tmp_path))
    assert bad.returncode == 2 and "A100" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_a_job_on_a_gpu_checks_cuda_graphs_before_it_stacks_and_logs_the_verdict(tmp_path, data_root, monkeypatch):
    """The check (lrlab.calibrate.check_cuda_graphs, tested in test_stack_step.py) runs once, before any
    stack, for the families graphs are wanted for that the job's runs stack (this chunk: MLPs only); its
    verdict is in the job's log and summary."""
    from lrlab import calibrate, stack_step
    checked = []
    monkeypatch.setattr(stack_step, "graph_families", lambda device: ["resnet", "mlp", "chargpt"])
    monkeypatch.setattr(calibrate, "check_cuda_graphs", lambda device, log, families: checked.append(families) or dict(
        mlp=dict(ok=False, worst=0.0, error="RuntimeError: operation not permitted when stream is capturing")))
    lines = []
    record = job.run_job(5, ["basics/momentum_shift"], "smoke", tmp_path, data_root=data_root, log=lines.append,
                         jobs=1)
    assert checked == [["mlp"]] and not record["cuda_graphs"]["mlp"]["ok"]
    log = json.loads(next((tmp_path / "jobs").glob("*.json")).read_text())
    assert log["cuda_graphs"]["mlp"]["error"].startswith("RuntimeError")
    assert "CUDA graphs: mlp off (RuntimeError: operation not permitted" in job.summary(record)
    assert "resnet on" in job.summary(dict(record, cuda_graphs=dict(resnet=dict(ok=True, worst=0.0, error=None))))
    checked.clear()   # a job with nothing to stack checks nothing
    monkeypatch.setattr(stack_step, "graph_families", lambda device: ["resnet"])
    job.run_job(5, ["basics/momentum_shift"], "smoke", tmp_path / "again", data_root=data_root, log=lines.append,
                jobs=1)
    assert checked == []


def test_a_job_benches_the_stacks_no_calibration_measured_once(tmp_path):
    """A calibration whose stacked bench failed (on the H100: ResNets and GPTs) leaves those shapes
    unmeasured; the next job measures them before training, then never again."""
    from lrlab.calibrate import bench_unmeasured_stacks
    from lrlab.config import RunConfig
    mlp = RunConfig(model="mlp", width=32, batch_size=8, epochs=1, precision="fp32")
    gpt = RunConfig(task="shakespeare", model="chargpt", width=32, depth=1, block_size=8, batch_size=4,
                    augment="none", precision="fp32")
    configs = [mlp.replace(seed=s) for s in range(4)] + [gpt.replace(seed=s) for s in range(3)]   # 3: too few
    lines = []
    rows = bench_unmeasured_stacks(configs, "cpu", tmp_path, log=lines.append, sizes=(2,))
    assert [(r["model"], r["batch_size"], r["members"]) for r in rows] == [("mlp-32", 8, 2)]
    assert rows[0]["stacked_over_sequential"] > 0 and "stacked mlp-32 @ 8: K=2" in lines[0]
    [saved] = Store(tmp_path).bench_records()
    assert saved["kind"] == "bench" and saved["rows"][0]["members"] == 2
    assert bench_unmeasured_stacks(configs, "cpu", tmp_path, sizes=(2,)) == []
    assert len(Store(tmp_path).bench_records()) == 1


def test_a_job_benches_a_stack_of_one_for_runs_too_few_to_stack_where_graphs_replay(tmp_path, monkeypatch):
    """A headline run has no partner, but on a GPU it may train faster as a graphed stack of one: the
    job measures K = 1 for its shape, and only where the device replays graphs for its family."""
    from lrlab import calibrate, stack_step
    from lrlab.config import RunConfig
    mlp = RunConfig(model="mlp", width=32, batch_size=8, epochs=1, precision="fp32")
    resnet = RunConfig(model="resnet8", batch_size=4, epochs=1, precision="fp32")
    configs = [mlp.replace(seed=s) for s in range(4)] + [mlp.replace(batch_size=6), resnet,
                                                          resnet.replace(batch_size=6, trace_every=2)]
    monkeypatch.setattr(stack_step, "graph_families", lambda device: ["mlp"])
    assert calibrate.lone_shapes(configs, "cuda") == [("mlp-32", 6)]   # not the full stack's, not the ResNet's
    monkeypatch.setattr(stack_step, "graph_families", lambda device: [])
    assert calibrate.lone_shapes(configs, "cpu") == []
    monkeypatch.setattr(calibrate, "lone_shapes", lambda configs, device: [("mlp-32", 6)])
    rows = calibrate.bench_unmeasured_stacks(configs, "cpu", tmp_path, log=lambda line: None, sizes=(2,))
    assert [(r["model"], r["batch_size"], r["members"]) for r in rows] == [("mlp-32", 8, 2), ("mlp-32", 6, 1)]


def test_the_predictor_keeps_a_stack_of_ones_seconds_apart_from_a_lone_runs():
    config = RunConfig(model="mlp", width=32, epochs=1, batch_size=10, train_per_class=10)
    record = dict(config=config.to_dict(), status="completed", wall_s=10.0, final=dict(steps=10), packed_with=1)
    predict = job.Predictor(None, None)
    predict.learn(record)
    assert predict.per_step == {} and list(predict.stack_per_step.values()) == [1.0]


def test_a_growing_batch_run_teaches_the_predictor_seconds_per_batch_not_per_update():
    from lrlab import cost
    config = RunConfig(model="resnet8", epochs=4, batch_size=10, train_per_class=30,
                       batch_growth={"milestones": [0.5, 0.75], "factor": 5})
    record = dict(config=config.to_dict(), status="completed", wall_s=120.0, final=dict(steps=68))
    predict = job.Predictor(None, None)
    predict.learn(record)
    assert cost.run_steps(config) == 120 and predict(config.replace(batch_growth={})) == pytest.approx(120.0)
    predict = job.Predictor(None, None)
    predict.learn({**record, "status": "diverged", "final": dict(steps=40)})
    assert predict.per_step == {}


def test_the_queue_counts_each_chunks_device_time_from_the_job_logs_every_try_and_a_stacks_time_once(tmp_path):
    from lrlab.book.reproduction_cost import jobs_words, spent_words
    from lrlab.results import write_json_atomic
    runs = next(c for c in experiments.chunks("linear_scaling", "gpu") if c.name == "elbow_and_rules").runs
    a, b, c = (config.id for config in runs[:3])

    def job(name, device, started, finished, lines, profile="gpu"):
        write_json_atomic(tmp_path / "jobs" / f"{name}.json", dict(
            kind="job", status="completed", profile=profile, env=dict(device=device), started=started,
            finished=finished, runs=[dict(experiment="linear_scaling", profile=profile, id=i, state=state,
                                          seconds=seconds, **({"stack": stack} if stack else {}))
                                     for i, state, seconds, stack in lines]))
    # H100: a alone, 120 s; b and c as a stack of 2 cut at the deadline after 60 s (both lines carry it)
    job("1", "NVIDIA H100 80GB HBM3", "2026-11-27T08:00:00Z", "2026-11-27T08:05:00Z",
        [(a, "completed", 120.0, None), (b, "checkpointed", 60.0, b), (c, "checkpointed", 60.0, b)])
    # H200: the stack resumed, c diverged at once and b went on: 90 s of the stack's time, shared
    job("2", "NVIDIA H200", "2026-11-27T09:00:00Z", "2026-11-27T09:02:00Z",
        [(b, "completed", 90.0, b), (c, "diverged", 90.0, b), (a, "not started", 0.0, None)])
    # a log from before the `stack` field: two runs with equal seconds were one stack
    job("3", "NVIDIA H200", "2026-11-27T10:00:00Z", "2026-11-27T10:01:00Z",
        [(a, "failed", 30.0, None), (b, "failed", 30.0, None)])
    job("4", "NVIDIA H200", "2026-11-27T11:00:00Z", "2026-11-27T11:09:00Z",
        [(a, "completed", 500.0, None)], profile="quick")   # another profile's job: not the GPU queue's
    (tmp_path / "jobs" / "5.json").write_text("{ cut off")   # a broken log is skipped
    # a job that crashed: no `finished`, counted to its log's last save; one from before `updated`, not at all
    job("6", "NVIDIA H200", "2026-11-27T12:00:00Z", None, [(a, "completed", 60.0, None)])
    log6 = json.loads((tmp_path / "jobs" / "6.json").read_text())
    (tmp_path / "jobs" / "6.json").write_text(json.dumps(dict(log6, status="running", updated="2026-11-27T12:04:00Z")))
    job("7", "NVIDIA H200", "2026-11-27T13:00:00Z", None, [])
    row = next(r for r in queue.queue("gpu", tmp_path) if r.name == "linear_scaling/elbow_and_rules")
    assert row.spent_s == pytest.approx({"NVIDIA H100 80GB HBM3": 180.0, "NVIDIA H200": 180.0})
    assert spent_words(row.spent_s) == "3.0 on H100 + 3.0 on H200"
    assert spent_words({"AMD EPYC (2 cores)": 30.0, "NVIDIA H100 80GB HBM3": 60.0}) == "1.0 on H100 + 0.5 on AMD EPYC (2 cores)"
    assert spent_words({}) == "-"
    logs = Store(tmp_path).job_logs()
    totals = queue.job_minutes(logs)
    assert {device: tuple(round(v, 9) for v in t) for device, t in totals.items()} == {
        "NVIDIA H100 80GB HBM3": (1, 5.0, 3.0), "NVIDIA H200": (3, 7.0, 3.0)}
    assert queue.unfinished_jobs(logs) == 1
    assert jobs_words(totals, 6.0).startswith("The 4 GPU jobs so far took 12.0 minutes from start to finish "
                                              "(7.0 on H200 in 3, 5.0 on H100 in 1): 6.0 of them trained the "
                                              "chunks' runs (their minutes spent above), and the rest")
    assert "ended before" not in jobs_words(totals, 6.0)
    assert "1 of the jobs ended before it finished" in jobs_words(totals, 6.0, unfinished=1)
    assert "0.5 trained runs that no chunk declares now" in jobs_words(totals, 5.5)
    assert jobs_words({}, 0.0) == "No GPU job has run yet."


def _stack_bench(root, device, name, rows):
    """A bench record of stacked rows: (model spec, batch, K, speed-up over one after another)."""
    from lrlab.results import write_json_atomic
    write_json_atomic(root / "bench" / f"{name}.json", dict(
        kind="bench", created="2026-11-27T10:00:00Z",
        env=dict(device=device, device_type="cuda", torch="2.11.0", lrlab="0.1.0", python="3.12", git="x"),
        rows=[dict(model=m, batch_size=b, mode=f"stack of {k} (bf16)", members=k, stacked_over_sequential=s)
              for m, b, k, s in rows]))


def test_the_queue_counts_runs_that_stack_as_their_stack_at_the_measured_speed_up(tmp_path):
    """Five runs of one shape stack four at a time at 2x: the four cost half their minutes alone, the
    fifth (a stack of one) and a range test (never stacked) their own."""
    from lrlab.stacking import StackSizes
    run = SHORT.replace(batch_size=8)
    configs = [run.replace(lr=0.01 * (i + 1)) for i in range(5)] + [run.replace(trace_every=2)]
    alone = {c.id: float(i + 1) for i, c in enumerate(configs)}
    sizes = StackSizes([dict(model="mlp-32", batch_size=8, members=4, stacked_over_sequential=2.0)])
    assert queue._unit_minutes(configs, alone, sizes) == [(1 + 2 + 3 + 4) / 2, 5.0, 6.0]
    assert queue._unit_minutes(configs, alone, StackSizes()) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    # where a graphed stack of one measured 2.5x, the fifth trains as one: its minutes over 2.5
    lone = StackSizes([dict(model="mlp-32", batch_size=8, members=4, stacked_over_sequential=4.0, cuda_graph=True),
                       dict(model="mlp-32", batch_size=8, members=1, stacked_over_sequential=2.5, cuda_graph=True)])
    assert queue._unit_minutes(configs, alone, lone) == [(1 + 2 + 3 + 4) / 4, 5.0 / 2.5, 6.0]


def test_the_queue_plans_with_the_named_gpus_stacks_and_borrows_only_shapes_it_never_measured(tmp_path):
    from lrlab.stacking import StackSizes
    _stack_bench(tmp_path, "NVIDIA H100 80GB HBM3", "h100", [("mlp-256", 64, 16, 4.0), ("resnet20", 1000, 4, 0.6)])
    _stack_bench(tmp_path, "NVIDIA H200", "h200", [("mlp-256", 64, 64, 9.0), ("resnet20", 1000, 4, 1.5),
                                                   ("resnet20", 128, 64, 5.0)])
    sizes = StackSizes.for_planning(tmp_path, "H100")
    assert sizes.best == {("mlp-256", 64): (16, 4.0), ("resnet20", 128): (64, 5.0)}   # 1000: the H100 says alone
    assert sizes.measured_on[("resnet20", 128)] == "NVIDIA H200" and sizes.measured_on[("mlp-256", 64)] == "H100"
    note = queue.stacking_note(tmp_path, "H100")
    assert "on H100 for mlp-256 @ 64" in note and "on NVIDIA H200 for resnet20 @ 128" in note
    stacked = {r.name: r.minutes_all for r in queue.queue("gpu", tmp_path)}
    alone = {r.name: r.minutes_all for r in queue.queue("gpu", tmp_path, stacked=False)}
    assert stacked["weight_decay/coarse"] < alone["weight_decay/coarse"] / 3   # ResNet-20 @ 128 grids
    assert stacked["super_convergence/resnet56_baseline"] == alone["super_convergence/resnet56_baseline"]
    assert queue.stacking_note(tmp_path / "none", "H100").startswith("No stack has been measured")


def test_a_stack_measurement_supersedes_older_ones_and_rows_from_before_one_gather_are_measured_again(tmp_path):
    from lrlab.calibrate import bench_unmeasured_stacks
    from lrlab.env import run_env
    from lrlab.results import write_json_atomic
    from lrlab.stacking import StackSizes

    def record(name, created, k, speedup, device="NVIDIA H200"):
        write_json_atomic(tmp_path / "bench" / f"{name}.json", dict(
            kind="bench", created=created, env=dict(device=device, device_type="cuda", torch="2.11"),
            rows=[dict(model="mlp-32", batch_size=8, mode=f"stack of {k} (bf16)", members=k,
                       stacked_over_sequential=speedup)]))
    record("old", "2026-11-27T11:55:03Z", 64, 5.0)
    record("new", "2026-11-28T09:00:00Z", 16, 3.0)
    assert StackSizes.measured(tmp_path, "NVIDIA H200").best == {("mlp-32", 8): (16, 3.0)}   # not the older 5x
    # on this machine's device: a row from before one gather per step does not count as measured
    record("cpu-old", "2026-11-27T11:55:03Z", 2, 1.5, device=run_env("cpu")["device"])
    mlp = RunConfig(model="mlp", width=32, batch_size=8, epochs=1, precision="fp32")
    rows = bench_unmeasured_stacks([mlp.replace(seed=s) for s in range(4)], "cpu", tmp_path, log=lambda line: None,
                                   sizes=(2,))
    assert [(r["model"], r["members"]) for r in rows] == [("mlp-32", 2)]
    # measured since, but only K = 1 fitted the device's memory: measured (it trains alone), not benched each job
    k1_only = tmp_path / "k1"
    write_json_atomic(k1_only / "bench" / "k1.json", dict(
        kind="bench", created="2026-11-28T09:00:00Z", env=run_env("cpu"),
        rows=[dict(model="mlp-32", batch_size=8, mode="stack of 1 (bf16)", members=1, stacked_over_sequential=0.9),
              dict(model="mlp-32", batch_size=8, mode="stack of 4 (bf16)", members=4, error="out of memory")]))
    assert bench_unmeasured_stacks([mlp.replace(seed=s) for s in range(4)], "cpu", k1_only, log=lambda line: None,
                                   sizes=(2,)) == []
    sizes = StackSizes.measured(k1_only, run_env("cpu")["device"])
    assert ("mlp-32", 8) in sizes.shapes and sizes.choose(mlp) == (1, 1.0)


def test_a_gpt_stack_row_from_before_its_attention_was_fused_is_measured_again(tmp_path):
    """A GPT stack row from between the one-gather change and the fused stacked attention times the
    written-out attention, so the next job measures that shape again; an MLP row of the same day stands."""
    from lrlab.calibrate import bench_unmeasured_stacks
    from lrlab.env import run_env
    from lrlab.results import write_json_atomic
    from lrlab.stacking import FUSED_ATTENTION_SINCE, ONE_GATHER_SINCE, measures_todays_stacks
    between = "2026-11-28T09:00:00Z"
    assert ONE_GATHER_SINCE < between < FUSED_ATTENTION_SINCE
    assert measures_todays_stacks("mlp-32", between) and not measures_todays_stacks("chargpt-32", between)
    write_json_atomic(tmp_path / "bench" / "between.json", dict(
        kind="bench", created=between, env=run_env("cpu"),
        rows=[dict(model=spec, batch_size=4, mode="stack of 2 (fp32)", members=2, stacked_over_sequential=1.2)
              for spec in ("mlp-32", "chargpt-32")]))
    mlp = RunConfig(model="mlp", width=32, batch_size=4, epochs=1, precision="fp32")
    gpt = RunConfig(task="shakespeare", model="chargpt", width=32, depth=1, block_size=8, batch_size=4,
                    augment="none", precision="fp32")
    rows = bench_unmeasured_stacks([c.replace(seed=s) for c in (mlp, gpt) for s in range(4)], "cpu", tmp_path,
                                   log=lambda line: None, sizes=(2,))
    assert [(r["model"], r["batch_size"], r["members"]) for r in rows] == [("chargpt-32", 4, 2)]
