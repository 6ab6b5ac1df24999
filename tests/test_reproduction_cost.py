"""The cost page's summaries of the bench: one row per model and batch, one column per device; one row
per stacked shape, one column per stack size."""
import json

import numpy as np
import pandas as pd
import pytest

from lrlab import bench
from lrlab.book.reproduction_cost import bench_overview, stacked_note, stacked_table


def _row(device, model, batch, mode, per_s, peak=np.nan, unit="images"):
    return dict(device=device, model=model, batch_size=batch, mode=mode, per_s=per_s, peak_fraction=peak, unit=unit)


def test_the_overview_keeps_each_devices_fastest_single_run_mode_in_model_order():
    bench = pd.DataFrame([
        _row("CPU", "resnet20", 128, "fp32", 400.0), _row("CPU", "resnet20", 128, "bf16", 720.0),
        _row("GPU", "resnet20", 128, "bf16", 11_924.0, 0.0029),
        _row("GPU", "resnet20", 128, "stack of 64 (bf16)", 61_808.0, 0.015),   # not one run: left out
        _row("GPU", "resnet8", 128, "bf16", 20_000.0, 0.0001),
        _row("GPU", "mlp-1024", 64, "bf16", 30_815.0, 0.00004),
    ])
    table = bench_overview(bench)
    assert list(table["model @ batch"]) == ["mlp-1024 @ 64 (images/s)", "resnet8 @ 128 (images/s)",
                                            "resnet20 @ 128 (images/s)"]
    r20 = table.set_index("model @ batch").loc["resnet20 @ 128 (images/s)"]
    assert r20["CPU"] == "720" and r20["GPU"] == "11,924 (0.3%)"
    assert table.set_index("model @ batch").loc["mlp-1024 @ 64 (images/s)", "GPU"] == "30,815 (<0.1%)"
    assert table.set_index("model @ batch").loc["mlp-1024 @ 64 (images/s)", "CPU"] == "-"


def _stack(device, model, batch, k, speedup, peak):
    return dict(_row(device, model, batch, f"stack of {k} (bf16)", 1000.0 * k, peak), members=float(k),
                stacked_over_sequential=speedup)


def test_the_stack_table_has_a_column_per_k_and_the_note_names_the_shapes_no_k_speeds_up():
    bench = pd.DataFrame([
        _row("NVIDIA H200", "resnet20", 128, "bf16", 11_924.0, 0.0029),   # one run: not a stack row
        _stack("NVIDIA H200", "resnet20", 128, 1, 0.40, 0.0012), _stack("NVIDIA H200", "resnet20", 128, 64, 5.18, 0.015),
        _stack("NVIDIA H200", "resnet20", 1000, 1, 0.27, 0.006), _stack("NVIDIA H200", "resnet20", 1000, 64, 0.90, 0.02),
        _stack("NVIDIA H100 80GB HBM3", "mlp-8192", 64, 1, 0.50, 0.006),
        _stack("NVIDIA H100 80GB HBM3", "mlp-256", 64, 1, 0.55, 0.00005),
        _stack("NVIDIA H100 80GB HBM3", "mlp-256", 64, 64, 6.48, 0.0006)])
    table = stacked_table(bench)
    assert list(table.columns) == ["device", "model @ batch", "K = 1", "K = 64"]
    assert table[["device", "model @ batch"]].values.tolist() == [
        ["H100", "mlp-256 @ 64"], ["H100", "mlp-8192 @ 64"], ["H200", "resnet20 @ 128"], ["H200", "resnet20 @ 1000"]]
    assert table.iloc[2]["K = 64"] == "5.18x (1.5%)" and table.iloc[1]["K = 64"] == "-"
    note = stacked_note(bench)
    assert "trains 5.18x to 6.48x as fast" in note
    assert "No K speeds up mlp-8192 @ 64 on the H100; resnet20 @ 1000 on the H200: there such a shape trains alone" in note
    assert "not measured on any device yet" in stacked_note(bench[bench["mode"] == "bf16"])


def _timed(device, model, batch, k, speedup, peak, gpu=True, created="2026-11-29T12:00:00Z"):   # after every change
    return dict(_stack(device, model, batch, k, speedup, peak), gpu=gpu, created=created, measured=created[:10])


def _goal_rows(bench, tmp_path, commands=()):
    from lrlab.book.cost_goals import goals
    runs = pd.DataFrame(dict(profile=["quick"], minutes=[30.0], device=["AMD EPYC (2 cores)"]))
    return goals(bench, runs, list(commands), tmp_path).set_index("goal")


def test_the_goals_read_the_stack_bench_the_queue_and_the_commands(tmp_path):
    bench = pd.DataFrame([
        _timed("AMD EPYC (2 cores)", "mlp-256", 64, 8, 1.05, np.nan, gpu=False),
        _timed("AMD EPYC (2 cores)", "resnet8", 128, 8, 0.44, np.nan, gpu=False),
        _timed("NVIDIA H100 80GB HBM3", "resnet20", 128, 64, 5.0, 0.12),
        _timed("NVIDIA H100 80GB HBM3", "resnet20", 128, 16, 3.0, 0.05),
        _timed("NVIDIA H100 80GB HBM3", "mlp-256", 64, 64, 9.5, 0.001),
        _timed("NVIDIA H100 80GB HBM3", "mlp-8192", 64, 64, 8.5, 0.02, created="2026-11-27T10:00:00Z")])
    commands = [dict(label="make test", elapsed_s=660.0, device="AMD EPYC (2 cores)", created="2026-11-28T11:00:00Z")]
    goals = _goal_rows(bench, tmp_path, commands)
    cpu = goals.loc["on the CPU, a stack of 8 trains at least as fast per run as one run alone"]
    assert cpu.verdict == "missed" and cpu.measured.startswith("0.44x resnet8 @ 128; 1.05x mlp-256 @ 64")
    assert "train alone" in cpu.measured
    r20 = goals.loc["a ResNet-20 grid at batch 128, stacked, on one GPU: share of its bf16 peak"]
    assert r20.verdict == "met" and r20.measured == "12.0% at K = 64 on H100 (2026-11-29)"
    mlp = goals.loc["MLP grids at batch 64, stacked at their best K: speed over their runs one after another"]
    assert mlp.verdict == "met" and mlp.measured == "8.5x (mlp-8192) to 9.5x (mlp-256) on H100 (2026-11-29)"
    assert goals.loc["make test on the 2-core CPU"].verdict == "missed"
    # an empty store: the queue from scratch, no job yet
    assert goals.loc["each GPU job, from its start to its last record"].verdict == "GPU pending"
    assert goals.loc["Tier 1 and Tier 2 of the GPU queue (every chapter at GPU scale), from scratch"].verdict == "missed"


def test_the_cpu_goal_names_each_shape_once_at_the_faster_of_its_updates(tmp_path):
    bench = pd.DataFrame([
        _timed("AMD EPYC (2 cores)", "mlp-256", 64, 8, 0.93, np.nan, gpu=False),
        dict(_timed("AMD EPYC (2 cores)", "mlp-256", 64, 8, 0.97, np.nan, gpu=False), fused_update=True),
        _timed("AMD EPYC (2 cores)", "mlp-1024", 64, 8, 0.88, np.nan, gpu=False),
        dict(_timed("AMD EPYC (2 cores)", "mlp-1024", 64, 8, 0.79, np.nan, gpu=False), fused_update=True)])
    cpu = _goal_rows(bench, tmp_path).loc["on the CPU, a stack of 8 trains at least as fast per run as one run alone"]
    assert cpu.measured.startswith("0.88x mlp-1024 @ 64; 0.97x mlp-256 @ 64 (update compiled) (a stack forms")
    assert cpu.verdict == "missed"


def test_goals_without_measurements_are_pending_and_old_stack_rows_say_so(tmp_path):
    empty = _goal_rows(pd.DataFrame(), tmp_path)
    assert set(empty.verdict[empty.index.str.contains("stack|MLP grids")]) == {"pending", "GPU pending"}
    assert empty.loc["make book on the 2-core CPU"].measured == "not timed yet"
    old = pd.DataFrame([_timed("NVIDIA H200", "resnet20", 128, 64, 5.18, 0.015, created="2026-11-27T11:55:03Z")])
    r20 = _goal_rows(old, tmp_path).loc["a ResNet-20 grid at batch 128, stacked, on one GPU: share of its bf16 peak"]
    assert r20.verdict == "missed"
    assert r20.measured.endswith("(2026-11-27, batches drawn member by member, no CUDA graphs, under vmap)")
    assert "understate what stacking gains there" in stacked_note(old)
    assert "a ResNet stack ran under vmap" in stacked_note(old.assign(created="2026-11-28T19:00:00Z"))
    assert "understate" not in stacked_note(old.assign(created="2026-11-29T12:00:00Z"))


def test_a_gpt_stack_row_from_before_the_fused_attention_says_its_attention_was_written_out():
    between = pd.DataFrame([_timed("NVIDIA H200", "chargpt-256", 64, 16, 2.2, 0.01, created="2026-11-28T09:00:00Z"),
                            _timed("NVIDIA H200", "mlp-256", 64, 16, 9.0, 0.001, created="2026-11-28T09:00:00Z")])
    note = stacked_note(between)
    assert "on the H200 (2026-11-28) a GPT's attention was written out" in note
    assert "one member at a time" not in note   # both measured after the one-gather change
    assert "understate" not in stacked_note(between.assign(created="2026-11-28T19:00:00Z"))
    both = stacked_note(between.assign(created="2026-11-27T11:55:03Z"))
    assert "one member at a time" in both and "attention was written out" in both


def test_a_gpu_stack_row_from_before_cuda_graphs_says_its_steps_were_dispatched_one_by_one():
    from lrlab.stacking import CUDA_GRAPHS_SINCE, FUSED_ATTENTION_SINCE
    before = "2026-11-28T12:00:00Z"
    assert FUSED_ATTENTION_SINCE < before < CUDA_GRAPHS_SINCE
    gpu = pd.DataFrame([_timed("NVIDIA H200", "mlp-256", 64, 16, 9.0, 0.001, created=before)])
    assert "on the H200 (2026-11-28) every step's operators were dispatched one by one" in stacked_note(gpu)
    cpu = gpu.assign(device="AMD EPYC 7B13 (2 cores)", gpu=False)   # a CPU stack never replays a graph
    assert "understate" not in stacked_note(cpu)


def test_the_stack_table_shows_each_shapes_latest_measurement_only():
    bench = pd.DataFrame([_timed("NVIDIA H200", "mlp-256", 64, 64, 5.5, 0.0005, created="2026-11-27T11:55:03Z"),
                          _timed("NVIDIA H200", "mlp-256", 64, 64, 30.0, 0.003, created="2026-11-28T19:00:00Z")])
    assert stacked_table(bench).iloc[0]["K = 64"] == "30.00x (0.3%)" and len(stacked_table(bench)) == 1
    assert "understate" not in stacked_note(bench)
    # another device's older measurement of the shape is its own latest: it stays, in its own row
    other = pd.DataFrame([_timed("NVIDIA H100 80GB HBM3", "mlp-256", 64, 64, 6.0, 0.0006,
                                 created="2026-11-26T10:00:00Z")])
    table = stacked_table(pd.concat([bench, other]))
    assert list(table["K = 64"]) == ["6.00x (0.1%)", "30.00x (0.3%)"]
    # a shape where only K = 1 fitted (the out-of-memory row is not a speed): measured, and shown
    alone = pd.DataFrame([_timed("NVIDIA H200", "mlp-8192", 64, 1, 0.5, 0.006)])
    table = stacked_table(pd.concat([bench, alone]))
    assert table["model @ batch"].tolist() == ["mlp-256 @ 64", "mlp-8192 @ 64"] and table.iloc[1]["K = 1"] == "0.50x (0.6%)"


def test_a_gpt_row_counted_without_attention_is_counted_again_and_its_speed_kept(tmp_path):
    from lrlab.book.reproduction_cost import bench_rows
    config = bench.bench_config("chargpt-64", 8, 1)
    weights_only = 6 * (4 * 12 * 64 ** 2 + 64 * bench.VOCAB)   # what the CPU's counter saw: no attention
    row = dict(model="chargpt-64", batch_size=64, mode="bf16", unit="tokens", per_s=1e6,
               train_flops_per_example=float(weights_only), achieved_tflops=weights_only * 1e6 / 1e12,
               peak_fraction=weights_only * 1e6 / 989e12)
    image_row = dict(row, model="resnet20", unit="images", train_flops_per_example=1.0, peak_fraction=0.5)
    record = dict(kind="bench", rows=[row, image_row], created="2026-11-27T10:00:00Z",
                  env=dict(device="NVIDIA H100 80GB HBM3", device_type="cuda", torch="2.11"))
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "h100.json").write_text(json.dumps(record))
    rows = bench_rows(tmp_path)[0].set_index("model")
    counted = bench.train_flops_per_example(config)
    assert counted > 1.3 * weights_only
    assert rows.loc["chargpt-64", "train_flops_per_example"] == counted
    assert rows.loc["chargpt-64", "peak_fraction"] == pytest.approx(counted * 1e6 / 989e12)
    assert rows.loc["chargpt-64", "per_s"] == 1e6                   # the measurement is the record's
    assert rows.loc["resnet20", "peak_fraction"] == 0.5              # images: counted as recorded


def test_the_speed_sentences_say_what_is_not_benched_instead_of_printing_nan():
    from lrlab.book.reproduction_cost import bench_summary
    numbers, words = bench_summary(pd.DataFrame())
    assert numbers["bench_devices"] == "no device yet" and "lrlab bench --out results/bench" in words["speed_words"]
    row = dict(model="resnet20", mode="bf16", device="cpu", train_flops_per_example=989e6, peak_fraction=np.nan,
               ours_over_classic=np.nan, batch_size=128)
    numbers, _ = bench_summary(pd.DataFrame([row, dict(row, batch_size=32), dict(row, device="H100", batch_size=1000)]))
    assert numbers["bench_batches"] == "Batches benched: H100, 1,000; cpu, 32 and 128"
    _, words = bench_summary(pd.DataFrame([row]))
    assert words["speed_words"].startswith("No classic-recipe row is benched yet")
    assert "takes 50 ms" in words["speed_words"]   # 989 MFLOP x 50,000 images at 989 TFLOP/s
    _, words = bench_summary(pd.DataFrame([row, dict(row, mode="classic fp32", ours_over_classic=3.04)]))
    assert words["speed_words"].startswith("On these devices the fastest mode trains up to 3.0 times")
    assert all("nan" not in w for w in words.values()) and words["bench_gpu_note"].startswith("Every bench record")


def test_a_stacked_run_counts_its_share_of_its_stacks_time(tmp_path):
    # every member of a stack records the stack's wall time: three members of 60 s are one minute of the device
    from fabricate import fake_record
    from lrlab import experiments
    from lrlab.book.reproduction_cost import run_costs
    from lrlab.results import Store
    store = Store(tmp_path)
    configs = experiments.runs("basics", "gpu")
    for config in configs[:3]:
        store.save({**fake_record("basics", "gpu", config), "wall_s": 60.0, "packed_with": 3})
    store.save({**fake_record("basics", "gpu", configs[3]), "wall_s": 30.0})   # trained alone
    runs, cost = run_costs(tmp_path)
    assert runs.minutes.sum() == pytest.approx(1.5) and int(runs.stacked.sum()) == 3
    row = cost.iloc[0]
    assert (row.runs, row.stacked, row.minutes) == (4, 3, pytest.approx(1.5))


def test_a_fine_tuned_run_that_trained_its_start_counts_the_starts_time_too(tmp_path):
    from fabricate import fake_record
    from lrlab import experiments
    from lrlab.book.reproduction_cost import run_costs
    from lrlab.results import Store
    store = Store(tmp_path)
    configs = experiments.runs("basics", "gpu")
    start = dict(id="0123456789abcdef", test_acc=0.6, test_loss=1.0, wall_s=90.0)
    store.save({**fake_record("basics", "gpu", configs[0]), "wall_s": 30.0,
                "started_from": {**start, "trained_here": True}})
    store.save({**fake_record("basics", "gpu", configs[1]), "wall_s": 30.0,
                "started_from": {**start, "trained_here": False}})   # loaded it: its own time only
    runs, _ = run_costs(tmp_path)
    assert sorted(runs.minutes) == [pytest.approx(0.5), pytest.approx(2.0)]


def test_a_start_no_record_says_it_trained_counts_once_all_the_same(tmp_path):
    # A job killed after saving the start and before the record of the run that trained it: the next
    # job's runs load the start (trained_here False), yet the device spent the start's 90 s.
    from fabricate import fake_record
    from lrlab import experiments
    from lrlab.book.reproduction_cost import run_costs
    from lrlab.results import Store
    store = Store(tmp_path)
    configs = experiments.runs("basics", "gpu")
    start = dict(id="0123456789abcdef", test_acc=0.6, test_loss=1.0, wall_s=90.0, trained_here=False)
    for config in configs[:3]:
        store.save({**fake_record("basics", "gpu", config), "wall_s": 30.0, "started_from": start})
    other = {**start, "id": "fedcba9876543210"}   # another start: counted once too
    store.save({**fake_record("basics", "gpu", configs[3]), "wall_s": 30.0, "started_from": other})
    store.save({**fake_record("basics", "gpu", configs[4]), "wall_s": 30.0})
    runs, _ = run_costs(tmp_path)
    assert runs.minutes.sum() == pytest.approx(5 * 0.5 + 2 * 1.5)
    assert sorted(runs.minutes) == [pytest.approx(0.5)] * 3 + [pytest.approx(2.0)] * 2


def test_the_intros_profile_table_quotes_the_span_of_the_chapters_recorded_time(tmp_path):
    from fabricate import fake_runs
    from lrlab import experiments
    from lrlab.book.reproduction_cost import profile_span_words
    assert profile_span_words(tmp_path, "quick") == "no quick run is recorded yet"
    fake_runs(tmp_path, "basics", "quick", experiments.runs("basics", "quick")[:30])     # 1 s each (made up)
    assert profile_span_words(tmp_path, "quick").startswith("about 1 minute per chapter, one run at a time, on ")
    many = experiments.runs("weight_decay", "quick")[:200]                               # 200 s: 3 minutes
    fake_runs(tmp_path, "weight_decay", "quick", many)
    assert profile_span_words(tmp_path, "quick").startswith("1 to 3 minutes per chapter")
