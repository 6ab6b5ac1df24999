"""The cost page's summaries of the bench: one row per model and batch, one column per device; one row
per stacked shape, one column per stack size."""
import numpy as np
import pandas as pd

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
    assert "No K speeds up mlp-8192 @ 64, resnet20 @ 1000: such a shape trains alone" in note
    assert "not measured on any device yet" in stacked_note(bench[bench["mode"] == "bf16"])
