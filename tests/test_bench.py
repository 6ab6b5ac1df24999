import json

import pytest

from lrlab import bench
from lrlab.config import RunConfig
from lrlab.errors import LrlabError


@pytest.mark.parametrize("model, forward_mflops", [("resnet20", 81), ("resnet56", 251)])
def test_flop_count_matches_the_published_forward_cost(model, forward_mflops):
    # train FLOPs = forward + backward, about 3x the forward cost He et al.'s nets are known for
    flops = bench.train_flops_per_example(RunConfig(model=model))
    assert flops / 3 == pytest.approx(forward_mflops * 1e6, rel=0.03)


@pytest.mark.parametrize("width", [64, 256])
def test_the_gpts_flop_count_includes_attention(width):
    # per token, 6 N for the weight matmuls plus 12 L C T for attention's two (nanoGPT's and PaLM's
    # formula); the CPU's fused attention kernel is invisible to torch's counter
    config = bench.bench_config(f"chargpt-{width}", 8, 1)
    layers, block = config.depth, config.block_size
    weights = layers * 12 * width ** 2 + width * bench.VOCAB   # qkv, proj, the 4x MLP; the readout
    flops = bench.train_flops_per_example(config)
    assert flops == pytest.approx(6 * weights + 12 * layers * width * block, rel=1e-9)


def test_bench_times_the_training_loop_and_the_classic_recipe(tmp_path):
    lines = []
    rows = bench.bench(["resnet20", "mlp-64", "chargpt-32"], batch_size=8, steps=2, classic=True,
                       out=tmp_path, log=lines.append)
    modes = [(r["model"], r["mode"]) for r in rows]
    assert ("resnet20", "classic (DataLoader, fp32)") in modes and ("chargpt-32", "fp32") in modes
    assert all(r["per_s"] > 0 and r["train_flops_per_example"] > 0 for r in rows)
    assert [r["unit"] for r in rows if r["model"] == "chargpt-32"] == ["tokens"]
    record = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert record["status"] == "completed" and record["env"]["device"] and len(record["rows"]) == len(rows)
    assert any("over the classic recipe" in line for line in lines)


@pytest.mark.parametrize("spec, needle", [("vgg16", "vgg16"), ("resnet20-64", "no width"),
                                          ("mlp-0", "width")])
def test_bad_model_specs(spec, needle):
    with pytest.raises(LrlabError, match=needle):
        bench.parse_model(spec)


def test_bad_mode():
    with pytest.raises(LrlabError, match="fp32, bf16"):
        bench.bench_one("resnet20", 8, steps=1, mode="fp8")


def test_bench_sweep_times_a_whole_sweep_at_each_jobs_and_keeps_no_runs(tmp_path, data_root, monkeypatch):
    from lrlab import experiments
    monkeypatch.chdir(tmp_path)   # a stray default store would appear here
    rows = bench.bench_sweep("basics", "smoke", jobs=(1, 2), data_root=data_root, out=tmp_path / "bench",
                             log=lambda line: None)
    declared = len(experiments.runs("basics", "smoke"))
    assert [(r["jobs"], r["runs"]) for r in rows] == [(1, declared), (2, declared)]
    assert all(r["elapsed_s"] > 0 and r["runs_wall_s"] > 0 for r in rows) and rows[0]["speedup"] == 1.0
    record = json.loads(next((tmp_path / "bench").glob("*sweep-basics-smoke.json")).read_text())
    assert record["kind"] == "bench-sweep" and record["sweeps"] == rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench"]


@pytest.mark.parametrize("jobs, needle", [("1,x", "comma-separated"), ("0", "jobs must be a positive")])
def test_bench_sweep_bad_jobs_is_a_one_line_error(jobs, needle, capsys):
    from lrlab.cli import main
    assert main(["bench", "--sweep", "basics", "--jobs", jobs]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("spec", ["mlp-32", "resnet8", "chargpt-32"])
def test_bench_stacked_times_k_runs_as_one_against_one_after_another(spec):
    single = bench.bench_one(spec, batch_size=4, steps=2)
    rows = bench.bench_stacked(spec, sizes=(1, 3), batch_size=4, steps=2, single=single)
    assert [r["members"] for r in rows] == [1, 3] and [r["mode"] for r in rows] == ["stack of 1 (fp32)",
                                                                                    "stack of 3 (fp32)"]
    assert all(r["per_s"] > 0 for r in rows)
    assert rows[1]["stacked_over_sequential"] == pytest.approx(rows[1]["per_s"] / single["per_s"])
    assert rows[1]["peak_memory_mb"] is None   # measured on CUDA only
    assert [r["cuda_graph"] for r in rows] == [False, False]   # no graphs off a GPU: no stack of one pays


@pytest.mark.parametrize("spec, sizes, needle", [("resnet99", (2,), "unknown model"), ("mlp-32", (0,), "stack size")])
def test_bench_stacked_bad_input(spec, sizes, needle):
    with pytest.raises(LrlabError, match=needle):
        bench.bench_stacked(spec, sizes=sizes, steps=1)


def test_stack_zero_is_an_error_not_ignored(capsys):
    from lrlab.cli import main
    assert main(["bench", "mlp-32", "--stack", "0", "--steps", "1"]) == 2
    assert "stack must be a positive" in capsys.readouterr().err
    assert main(["bench", "mlp-32", "--stack", "4,x", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "comma-separated" in err and len(err.splitlines()) == 1


def test_compile_mode_reports_cold_cached_and_same_process_costs():
    import os
    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    row = bench.bench_one("mlp-32", batch_size=8, steps=2, mode="bf16+channels_last+compile")
    assert row["compile_s"] > 0 and row["compile_cached_s"] >= 0 and row["compile_reuse_s"] >= 0
    assert row["compile_reuse_s"] < row["compile_s"]   # the same shape again is not compiled again
    assert row["compile_cache"] == "empty"   # cold: the bench compiled into a cache of its own
    assert os.environ.get("TORCHINDUCTOR_CACHE_DIR") == before   # the scratch cache is gone


def test_bench_command_records_by_label_and_a_failure_records_nothing(tmp_path):
    bench.bench_command("true", label="make nothing", out=tmp_path, log=lambda line: None)
    bench.bench_command("sleep 0.2", label="make nothing", out=tmp_path, log=lambda line: None)
    bench.bench_command("true", label="other", out=tmp_path, log=lambda line: None)
    record = json.loads(next(tmp_path.glob("*commands.json")).read_text())
    assert [r["label"] for r in record["commands"]] == ["make nothing", "other"]
    assert record["commands"][0]["elapsed_s"] >= 0.2     # the later timing replaced the earlier
    with pytest.raises(LrlabError, match="exit status 3; nothing recorded"):
        bench.bench_command("exit 3", label="broken", out=tmp_path, log=lambda line: None)
    assert "broken" not in next(tmp_path.glob("*commands.json")).read_text()
