"""torch.compile where the bench measured it pays (lrlab.compiling): which runs compile, and that they do."""
import pytest

from lrlab import calibrate, compiling, cost, job, queue
from lrlab.compiling import COMPILED_MODE, EAGER_MODE, CompileSpeeds
from lrlab.config import RunConfig
from lrlab.errors import LrlabError
from lrlab.results import Store, write_json_atomic
from lrlab.stacking import StackSizes

RUN = RunConfig(model="mlp", width=32, batch_size=8, epochs=10, steps_per_epoch=100, augment="none",
                train_per_class=20, test_per_class=5, lr=0.05)   # 1,000 steps of 8 images


def rows(eager=800.0, compiled=1600.0, compile_s=1.0, reuse_s=0.1, model="mlp-32", batch=8):
    """An eager and a compiled bench row: at 800 images/s a step of 8 takes 10 ms, so RUN's steps 10 s."""
    return [dict(model=model, batch_size=batch, mode=EAGER_MODE, per_s=eager),
            dict(model=model, batch_size=batch, mode=COMPILED_MODE, per_s=compiled, compile_s=compile_s,
                 compile_cached_s=0.5, compile_reuse_s=reuse_s)]


def test_a_shape_compiles_when_its_steps_compiled_and_one_compilation_beat_eager_by_the_margin():
    # 10 s eager; compiled twice as fast: 5 s + 1 s compilation
    assert CompileSpeeds(rows()).choose([RUN]) == [0]
    # a compilation of 5 s: 10 s either way
    assert CompileSpeeds(rows(compile_s=5.0)).choose([RUN]) == []
    # 5% faster compiled, free compilation: inside a bench's spread
    assert CompileSpeeds(rows(compiled=840.0, compile_s=0.0)).choose([RUN]) == []
    # where nothing is measured (no compiled row, another shape), nothing compiles
    assert CompileSpeeds(rows()[:1]).choose([RUN]) == []
    assert CompileSpeeds(rows(model="mlp-64")).choose([RUN]) == []
    # torch-lr-finder's range test runs its own loop
    assert CompileSpeeds(rows()).choose([RUN.replace(runner="torch-lr-finder")]) == []


def test_short_runs_of_one_shape_share_one_compilation():
    short = [RUN.replace(epochs=1, seed=s) for s in range(10)]   # 1 s eager each, 0.5 s compiled
    speeds = CompileSpeeds(rows(compile_s=3.0, reuse_s=0.05))
    assert speeds.choose(short[:1]) == []                        # 3.5 s against 1 s
    assert speeds.choose(short) == list(range(10))               # 5 + 3 + 9 x 0.05 = 8.45 s against 10 s


def test_a_graphed_stack_of_one_that_measured_faster_keeps_the_run_from_compiling():
    speeds = CompileSpeeds(rows())                               # 6 s compiled
    assert speeds.choose([RUN], [1.5]) == [0]                    # 6.7 s as a stack of one
    assert speeds.choose([RUN], [2.0]) == []                     # 5 s as a stack of one


def test_a_micro_batched_run_counts_each_pass_at_the_bench_shape():
    run = RUN.replace(batch_size=32, micro_batch=8, steps_per_epoch=25)   # 250 steps of 4 passes of 8
    assert compiling._step_seconds(("mlp-32", 8), run, 800.0) == pytest.approx(10.0)
    assert CompileSpeeds(rows()).choose([run]) == [0]


def test_the_latest_row_of_each_mode_counts_and_broken_rows_are_skipped(tmp_path):
    device = "NVIDIA H200"
    for created, speed in (("2026-11-27T10:00:00Z", rows()), ("2026-11-29T10:00:00Z", rows(compiled=820.0))):
        write_json_atomic(tmp_path / "bench" / f"{created[:10]}.json", dict(
            kind="bench", status="completed", created=created, rows=speed + [dict(model="mlp-32", mode=COMPILED_MODE)],
            env=dict(device=device, device_type="cuda", torch="2.11.0", lrlab="0.1.0", python="3.12", git="x")))
    speeds = CompileSpeeds.measured(tmp_path, device)
    assert speeds.speeds[("mlp-32", 8)].compiled_per_s == 820.0 and speeds.choose([RUN]) == []
    assert CompileSpeeds.measured(tmp_path, "NVIDIA H100 80GB HBM3").speeds == {}
    assert CompileSpeeds.for_planning(tmp_path, "H100").speeds[("mlp-32", 8)].compiled_per_s == 820.0   # borrowed


def test_auto_compiles_nothing_on_a_cpu_and_bad_values_are_one_line(tmp_path):
    assert compiling.resolve("auto", "cpu", tmp_path) is False
    assert compiling.resolve(True, "cpu", tmp_path) is True
    assert [compiling.parse_compile(v) for v in ("auto", "on", "off")] == ["auto", True, False]
    with pytest.raises(LrlabError, match="'maybe' is not one of auto, on, off"):
        compiling.parse_compile("maybe")


def test_the_runner_compiles_the_chosen_run_alone_and_not_as_the_slower_stack_of_one(tmp_path, data_root, monkeypatch):
    """Two shapes: the one the bench measured faster compiled trains compiled (even where a stack of one
    was measured slower than that), the other eager; the records say which."""
    import torch

    from lrlab.runner import plan_stacks, train_runs
    compiled_models = []

    def stand_in(model):   # torch.compile on 2 CPU cores takes seconds: the runner's choice is what is tested
        compiled_models.append(model)
        return model
    monkeypatch.setattr(torch, "compile", stand_in)
    fast, other = RUN.replace(epochs=2, steps_per_epoch=3), RUN.replace(width=16, epochs=2, steps_per_epoch=3)
    speeds = CompileSpeeds(rows(compile_s=0.001, reuse_s=0.0))
    lone = StackSizes([dict(model="mlp-32", batch_size=8, members=1, stacked_over_sequential=1.3, cuda_graph=True)])
    items = [("e", "smoke", fast), ("e", "smoke", other)]
    stacks, alone, ids = plan_stacks(items, lone, Store(tmp_path), speeds)
    assert stacks == [] and [c for _, _, c in alone] == [fast, other] and ids == {fast.id}
    outcomes = train_runs(items, Store(tmp_path), data_root=data_root, compile=speeds, log=lambda line: None)
    assert {o.config.id: o.record["env"]["compile"] for o in outcomes} == {fast.id: True, other.id: False}
    assert len(compiled_models) == 1
    assert "compile_s" in next(o.record for o in outcomes if o.config.id == fast.id)


def test_the_queue_counts_a_compiled_run_at_its_compiled_speed_and_one_cold_compilation_a_shape():
    runs = [RUN.replace(seed=s) for s in range(2)]
    alone = {c.id: 10.0 / 60 for c in runs}   # minutes: the 10 s of each run's steps
    speeds = CompileSpeeds(rows(compile_s=1.0, reuse_s=0.1))
    assert queue._unit_minutes(runs, alone, StackSizes(), speeds) == pytest.approx([6.0 / 60, 5.1 / 60])
    assert queue._unit_minutes(runs, alone, StackSizes()) == pytest.approx([10.0 / 60] * 2)


def test_the_predictor_scales_a_compiled_runs_prediction_until_it_has_timed_one():
    predict = job.Predictor(None, None, compiling=CompileSpeeds(rows()))
    predict.per_step[predict.shape(RUN)] = 0.01            # an eager run of the shape took 10 ms a step
    assert predict(RUN) == pytest.approx(10.0)
    assert predict(RUN, compiled=True) == pytest.approx(10.0 / 2 + 1.0)
    record = dict(config=RUN.to_dict(), status="completed", wall_s=7.0, compile_s=2.0, final=dict(steps=1000),
                  env=dict(compile=True))
    predict.learn(record)
    assert predict(RUN, compiled=True) == pytest.approx(5.0) and predict(RUN) == pytest.approx(10.0)


def test_the_step_time_calibration_leaves_compiled_rows_to_the_runs_that_compile():
    env = dict(device="NVIDIA H100 80GB HBM3")
    eager = [dict(model="mlp-256", batch_size=64, mode=EAGER_MODE, per_s=1000.0, steps=30)]
    compiled = [dict(model="mlp-256", batch_size=64, mode=COMPILED_MODE, per_s=4000.0, steps=30)]
    alone = cost.calibration_from_bench([dict(kind="bench", env=env, rows=eager)], "H100")
    both = cost.calibration_from_bench([dict(kind="bench", env=env, rows=eager + compiled)], "H100")
    assert both == alone and alone["mlp-256"][64] > 0


def test_a_job_benches_compiled_only_the_shapes_whose_runs_could_repay_a_compilation(tmp_path, monkeypatch):
    from lrlab import bench
    benched = []

    def fake_bench(spec, batch, device, steps, mode, cold_cache=True):
        benched.append((spec, batch, mode, cold_cache))
        if spec == "mlp-64":
            raise RuntimeError("inductor failed")
        row = dict(model=spec, batch_size=batch, mode=mode, per_s=1000.0, unit="images")
        return {**row, "compile_s": 20.0, "compile_cached_s": 1.0, "compile_reuse_s": 0.0} if "compile" in mode else row
    monkeypatch.setattr(bench, "bench_one", fake_bench)
    long_, short, broken = RUN, RUN.replace(width=16), RUN.replace(width=64)
    seconds = {long_.id: 280.0, short.id: 250.0, broken.id: 500.0}
    lines = []
    found = calibrate.bench_unmeasured_compiles([long_, short, broken, long_.replace(seed=1)], "cpu", tmp_path,
                                                log=lines.append, predict=lambda c: seconds.get(c.id, 280.0),
                                                lone_speedups=[None, None, None, 4.0])
    # mlp-32: 280 s + 280 s / 4 (a graphed stack of one) >= 300 s; mlp-16: 250 s, not worth a compilation
    assert benched == [("mlp-32", 8, EAGER_MODE, True), ("mlp-32", 8, COMPILED_MODE, False),
                       ("mlp-64", 8, EAGER_MODE, True)]
    assert [r["mode"] for r in found] == [EAGER_MODE, COMPILED_MODE]
    assert "1.00x eager's speed, compilation 20.0 s cold" in lines[0] and "FAILED RuntimeError" in lines[1]
    [record] = Store(tmp_path).bench_records()
    assert record["paths"][0]["name"] == "compile bench mlp-64 @ 8"
    # measured now: a second job does not bench it again
    benched.clear()
    calibrate.bench_unmeasured_compiles([long_], "cpu", tmp_path, log=lines.append, predict=lambda c: 1000.0)
    assert benched == []


def test_a_gpu_job_benches_its_lone_runs_shapes_compiled_and_compiles_them_where_that_measured_faster(
        tmp_path, data_root, monkeypatch):
    """The job's order on a GPU the queue plans for (here the CPU, standing in): the stacks are decided,
    the shapes of the runs alone are benched eager and compiled, and the runs of a shape measured
    faster compiled train compiled; with --compile off nothing is benched or compiled."""
    import torch

    from lrlab import bench
    from lrlab.env import device_name
    benched = []

    def fake_bench(spec, batch, device, steps, mode, cold_cache=True):
        benched.append((spec, mode))
        row = dict(model=spec, batch_size=batch, mode=mode, per_s=1000.0, unit="images")
        return {**row, "per_s": 3000.0, "compile_s": 1e-3, "compile_cached_s": 1e-3, "compile_reuse_s": 0.0} \
            if mode == COMPILED_MODE else row
    monkeypatch.setattr(bench, "bench_one", fake_bench)
    monkeypatch.setattr(torch, "compile", lambda model: model)   # what is tested is which runs ask for it
    monkeypatch.setattr(job, "cost_device", lambda device: "H100")
    monkeypatch.setattr(compiling, "BENCH_WORTH_S", 0.0)          # smoke runs are predicted at milliseconds
    monkeypatch.setattr(compiling, "resolve", lambda compile, device, root: CompileSpeeds.measured(
        root, device_name(device)))                              # "auto" as on a GPU
    lines = []
    record = job.run_job(5, ["basics/momentum_shift"], "smoke", tmp_path, data_root=data_root, log=lines.append,
                         jobs=1, stack=None)
    saved = Store(tmp_path).records("smoke", "basics")
    shapes = {(r["config"]["model"], r["config"]["width"]) for r in saved}
    assert record["counts"] == {"completed": len(saved)} and len(benched) == 2 * len(shapes)
    assert all(r["env"]["compile"] is True for r in saved)
    assert any(line.startswith(f"torch.compile for {len(saved)} run(s)") for line in lines)
    benched.clear()
    job.run_job(5, ["basics/momentum_shift"], "smoke", tmp_path / "off", data_root=data_root, log=lines.append,
                jobs=1, stack=None, compile=False)
    assert benched == [] and all(r["env"]["compile"] is False for r in Store(tmp_path / "off").records("smoke", "basics"))


def test_the_queue_counts_the_headline_run_compiled_once_a_gpu_timed_its_shape_compiled(tmp_path):
    def bench_record(root, speed_rows):
        write_json_atomic(root / "bench" / "h200.json", dict(
            kind="bench", status="completed", created="2026-11-29T10:00:00Z", rows=speed_rows,
            env=dict(device="NVIDIA H200", device_type="cuda", torch="2.11.0", lrlab="0.1.0", python="3.12", git="x")))
    timed = [{**row, "steps": 30} for row in rows(eager=90_000.0, compiled=180_000.0, compile_s=40.0,
                                                   model="resnet20", batch=1000)]
    bench_record(tmp_path / "eager", timed[:1])
    bench_record(tmp_path / "both", timed)
    minutes = {name: {r.name: r.minutes_all for r in queue.queue("gpu", tmp_path / name, device_name="H200")}
               for name in ("eager", "both")}
    headline = "super_convergence/resnet20_headline"
    assert {(c.model_spec, c.batch_size) for r in queue.queue("gpu", tmp_path / "both", device_name="H200")
            if r.name == headline for c in r.configs} == {("resnet20", 1000)}
    assert minutes["both"][headline] < minutes["eager"][headline] * 0.6   # half the steps' time, plus 40 s
    assert minutes["both"]["weight_decay/coarse"] == minutes["eager"]["weight_decay/coarse"]   # batch 128: untimed
    assert "resnet20 @ 1000 2.00x, 40 s; a shape's runs alone count compiled where that is 1.1x as fast" in \
        queue.stacking_note(tmp_path / "both", "H200")
    assert "compiled" not in queue.stacking_note(tmp_path / "eager", "H200")
