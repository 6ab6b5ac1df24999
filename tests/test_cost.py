"""The GPU step-time model: the audit's figures, its scenarios, and calibration from bench records."""
import json
import time

import pytest
import torch

from lrlab import cost
from lrlab.config import RunConfig
from lrlab.errors import LrlabError

R20 = RunConfig(model="resnet20", batch_size=128)
R56 = RunConfig(model="resnet56", batch_size=1000, augment="flip")
MLP_1024 = RunConfig(model="mlp", width=1024, batch_size=64)
MLP_8192 = RunConfig(model="mlp", width=8192, batch_size=64)
GPT_1024 = RunConfig(task="shakespeare", model="chargpt", width=1024, depth=4, block_size=256, batch_size=64,
                     augment="none", optimizer="adamw")
H100 = "NVIDIA H100 80GB HBM3"


@pytest.mark.parametrize("config, audit_ms", [(R20, 2.3), (R56, 16.3), (MLP_1024, 0.65), (MLP_8192, 1.87),
                                              (GPT_1024, 17.9)])
def test_central_step_times_match_the_audit(config, audit_ms):
    ms = 1e3 * cost.step_seconds(config)
    assert audit_ms / 1.5 < ms < audit_ms * 1.5


def test_the_shape_counts_match_the_audit():
    r20, r56 = cost.shape_cost(R20), cost.shape_cost(R56)
    assert r20.activation_elements == 188_416 and r56.activation_elements == 532_480
    assert 200 <= r20.pass_ops <= 300 and 550 <= r56.pass_ops <= 700
    assert cost.shape_cost(MLP_8192).params == 92_356_608


def test_the_cost_model_counts_the_flops_the_bench_counts_attention_included():
    from lrlab.bench import train_flops_per_example
    assert cost.shape_cost(R20).train_flops == pytest.approx(train_flops_per_example(R20))
    gpt = GPT_1024.replace(width=64, block_size=32)
    weights = 4 * 12 * 64 ** 2 + 64 * 65                 # 4 layers of qkv, proj and the 4x MLP; the readout
    attention = 3 * 4 * 2 * 2 * 32 * 64     # x3 training, 4 layers, 2*T*d MAC per token, 2 FLOP per MAC
    assert cost.shape_cost(gpt).train_flops == pytest.approx(6 * weights + attention)
    assert train_flops_per_example(gpt) == cost.shape_cost(gpt).train_flops


def test_scenarios_are_ordered():
    for config in (R20, R56, MLP_1024, MLP_8192, GPT_1024, R20.replace(batch_size=8192, micro_batch=128)):
        seconds = [cost.run_seconds(config, scenario=s) for s in ("pessimistic", "central", "optimistic")]
        assert seconds[0] > seconds[1] > seconds[2]


def test_time_grows_with_epochs_and_the_extras():
    overhead = cost.SCENARIOS["central"].run_overhead_s
    ten, thirty = (cost.run_seconds(R20.replace(epochs=e)) - overhead for e in (10, 30))
    assert thirty == pytest.approx(3 * ten)
    traced = R56.replace(epochs=1, steps_per_epoch=500, trace_every=1)
    assert (cost.run_seconds(traced.replace(trace_every=100, trace_test=True))
            > cost.run_seconds(traced) > cost.run_seconds(traced.replace(trace_every=None)))
    assert cost.run_seconds(traced.replace(runner="torch-lr-finder")) > cost.run_seconds(traced)
    assert cost.run_seconds(R20.replace(epochs=30, noise_scale_every=3)) > cost.run_seconds(R20.replace(epochs=30))


def test_steps_per_epoch_follows_the_data():
    assert cost.steps_per_epoch(R20) == 390 and cost.steps_per_epoch(R56) == 50
    assert cost.steps_per_epoch(R20.replace(train_per_class=100)) == 7
    assert cost.steps_per_epoch(GPT_1024) == 1_003_854 // (64 * 256)
    assert cost.steps_per_epoch(GPT_1024.replace(steps_per_epoch=100)) == 100
    assert cost.run_steps(R56.replace(epochs=200)) == 10_000


def test_micro_batches_cost_about_their_number_of_steps():
    big = R20.replace(batch_size=8192, micro_batch=128)
    assert 40 * cost.step_seconds(R20) < cost.step_seconds(big) < 64 * cost.step_seconds(R20)


def _bench_record(device, rows):
    return {"kind": "bench", "created": "2026-11-27T07:00:00Z", "rows": rows,
            "env": {"device": device, "device_type": "cuda", "torch": "2.11"}}


def _row(spec, batch, per_s, mode="bf16+channels_last", steps=20, unit="images"):
    return dict(model=spec, batch_size=batch, mode=mode, per_s=per_s, unit=unit, steps=steps)


def _per_s_for_factor(factor, spec="resnet20", batch=128, steps=20):
    """The bench rate at which measured time is `factor` x the central model of the bench epoch."""
    config = cost.bench_config(spec, batch, steps)
    modelled = cost.run_seconds(config) - cost.SCENARIOS["central"].run_overhead_s
    return steps * batch * (config.block_size if config.task == "shakespeare" else 1) / (factor * modelled)


def test_a_calibration_factor_of_two_doubles_the_step_part():
    record = _bench_record(H100, [_row("resnet20", 128, _per_s_for_factor(2.0)),
                                  _row("resnet20", 128, _per_s_for_factor(3.0), mode="bf16")])   # slower: ignored
    calibration = cost.calibration_from_bench([record], "H100")
    assert calibration["resnet20"][128] == pytest.approx(2.0)
    overhead = cost.SCENARIOS["central"].run_overhead_s
    config = R20.replace(epochs=30)
    assert cost.run_seconds(config, calibration=calibration) - overhead == pytest.approx(
        2 * (cost.run_seconds(config) - overhead))
    assert cost.run_seconds(MLP_1024, calibration=calibration) == cost.run_seconds(MLP_1024)   # not measured


def test_calibration_ignores_other_devices_and_other_modes():
    rows = [_row("resnet20", 128, 1e6, mode="fp32"), _row("resnet20", 128, 1e6, mode="classic (DataLoader, fp32)"),
            _row("mlp-1024", 128, 1e6, mode="8 models stacked (torch.func)")]
    assert cost.calibration_from_bench([_bench_record("NVIDIA A100-SXM4-80GB", [_row("resnet20", 128, 1e6)]),
                                        _bench_record(H100, rows),
                                        {"kind": "bench-sweep", "env": {"device": H100}, "sweeps": []}], "H100") == {}


def test_calibration_picks_the_nearest_batch_and_width():
    calibration = {"resnet56": {128: 2.0, 1000: 3.0}, "mlp-1024": {64: 1.5}}
    assert cost.calibration_factor(calibration, R56.replace(batch_size=512)) == 3.0
    assert cost.calibration_factor(calibration, R56.replace(batch_size=256)) == 2.0
    assert cost.calibration_factor(calibration, MLP_1024.replace(width=2048)) == 1.5
    assert cost.calibration_factor(calibration, R20) == 1.0


def test_load_calibration_skips_broken_files(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "broken.json").write_text("{not json")
    (bench / "list.json").write_text("[1, 2]")
    (bench / "commands.json").write_text(json.dumps({"kind": "bench-commands", "env": {"device": "cpu"}}))
    (bench / "no-env.json").write_text(json.dumps({"kind": "bench", "rows": []}))
    (bench / "bad-rows.json").write_text(json.dumps(_bench_record(H100, [{"model": "resnet56"}, "x"])))
    gpt_rate = _per_s_for_factor(1.25, "chargpt-256", 64, 10)
    (bench / "h100.json").write_text(json.dumps(_bench_record(H100, [_row("chargpt-256", 64, gpt_rate, steps=10,
                                                                         unit="tokens")])))
    calibration = cost.load_calibration(tmp_path, "H100")
    assert calibration == {"chargpt-256": {64: pytest.approx(1.25)}}
    assert cost.load_calibration(tmp_path / "nowhere", "H100") == {}


@pytest.mark.parametrize("kwargs, named", [(dict(device="A100"), "H100, H200"),
                                           (dict(scenario="typical"), "pessimistic, central, optimistic")])
def test_bad_names_are_one_line_errors(kwargs, named):
    with pytest.raises(LrlabError) as err:
        cost.run_seconds(R20, **kwargs)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_the_h200_is_faster_where_memory_bounds():
    assert cost.step_seconds(MLP_8192, "H200") < cost.step_seconds(MLP_8192) / 1.2
    assert cost.step_seconds(MLP_1024, "H200") == cost.step_seconds(MLP_1024)   # CPU-bound


def test_describe_scenarios_and_speed():
    configs = [R20, R56, MLP_1024, MLP_8192, GPT_1024] * 140
    cost.total_seconds(configs[:5])   # warm the per-shape caches
    start = time.perf_counter()
    totals = cost.scenario_totals(configs)
    assert time.perf_counter() - start < 1.0
    assert totals["pessimistic"] > totals["central"] > totals["optimistic"]
    line = cost.describe_scenarios(configs[:5])
    assert "central" in line and "pessimistic" in line and "H100" in line


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty on-disk cache, and none in memory: as a first process on a fresh machine."""
    monkeypatch.setenv("LRLAB_CACHE", str(tmp_path))
    cost._shape_cost.cache_clear()
    yield tmp_path
    cost._shape_cost.cache_clear()


def test_measuring_a_shape_leaves_the_random_state_alone(fresh_cache):
    state = torch.get_rng_state()
    cost.shape_cost(MLP_1024.replace(width=96))
    assert torch.equal(state, torch.get_rng_state())


def test_a_shape_is_measured_once_and_the_next_process_reads_it_back(fresh_cache, monkeypatch):
    from lrlab import disk_memo
    narrow = MLP_1024.replace(width=96)
    first = cost.shape_cost(narrow)
    cost._shape_cost.cache_clear()   # a new process
    monkeypatch.setattr(cost, "_count_on_meta", lambda *args: pytest.fail("measured again"))
    assert cost.shape_cost(narrow) == first
    cost._shape_cost.cache_clear()
    monkeypatch.setattr(disk_memo, "code_version", lambda: "another torch or lrlab")
    with pytest.raises(pytest.fail.Exception, match="measured again"):
        cost.shape_cost(narrow)


@pytest.mark.parametrize("breakage", ["a file cut off", "a cache folder that is a file"])
def test_a_broken_cache_costs_time_only(fresh_cache, monkeypatch, breakage):
    narrow = MLP_1024.replace(width=96)
    measured = cost.shape_cost(narrow)
    cost._shape_cost.cache_clear()
    if breakage == "a file cut off":
        (fresh_cache / "_measure_shape.json").write_text('{"cut')
    else:
        monkeypatch.setenv("LRLAB_CACHE", str(fresh_cache / "not-a-folder"))
        (fresh_cache / "not-a-folder").write_text("")
    assert cost.shape_cost(narrow) == measured
    if breakage == "a file cut off":   # rewritten whole
        assert len(json.loads((fresh_cache / "_measure_shape.json").read_text())) == 1
