"""The cost page's summary of the bench: one row per model and batch, one column per device."""
import numpy as np
import pandas as pd

from lrlab.book.reproduction_cost import bench_overview


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
