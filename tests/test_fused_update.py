"""A stack's optimizer update compiled (lrlab.stacked_optim.FusedUpdate): the same runs as written, and
used where the bench measured it pays (lrlab.stacking.StackSizes.fused_update)."""
import warnings

import pytest
import torch

from lrlab import calibrate, runner
from lrlab.book.reproduction_cost import stacked_note, stacked_table
from lrlab.config import RunConfig
from lrlab.results import Store
from lrlab.stacked import train_stacked
from lrlab.stacking import StackSizes, latest_stack_rows, stack_groups
from lrlab.train import train
from test_stacked import MLP_LONG, SHORT, assert_same_run

RUN = RunConfig(model="mlp", width=32, batch_size=8, epochs=10, steps_per_epoch=100, augment="none",
                train_per_class=20, test_per_class=5, lr=0.05)   # 1,000 steps of 8 images


def stack_rows(fused_speedup=4.0, compile_s=1.0, fused_k=4, model="mlp-32", batch=8):
    """The run alone at 800 images/s (a step of 8: 10 ms; RUN: 10 s); stacked 4 at a time 2x as fast as
    one after another, and `fused_speedup` times with the update compiled in `compile_s` seconds."""
    return [dict(model=model, batch_size=batch, members=1, stacked_over_sequential=0.9, per_s=720.0),
            dict(model=model, batch_size=batch, members=4, stacked_over_sequential=2.0, per_s=1600.0),
            dict(model=model, batch_size=batch, members=fused_k, stacked_over_sequential=fused_speedup,
                 per_s=800.0 * fused_speedup, fused_update=True, update_compile_s=compile_s)]


@pytest.mark.parametrize("family", ["sgd", "adam", "lion"])
def test_members_updated_by_the_compiled_update_match_their_single_runs(cifar, float64, family):
    """torch.compile's kernels, not a stand-in: float64 histories within 1e-9 of each single run, with
    coupled and decoupled weight decay in one stack, and (SGD) a member that diverges, after which the
    smaller stack's update compiles again."""
    if family == "sgd":
        configs = [MLP_LONG.replace(momentum=0.9, weight_decay=5e-4), MLP_LONG.replace(lr=50.0, seed=1),
                   MLP_LONG.replace(optimizer="sgdw", lr=0.1, seed=2, weight_decay=1e-2)]
    elif family == "lion":
        configs = [MLP_LONG.replace(optimizer="lion", lr=1e-4),
                   MLP_LONG.replace(optimizer="lion", lr=3e-4, weight_decay=1e-1, seed=1, schedule="one_cycle")]
    else:
        configs = [MLP_LONG.replace(optimizer="adam", lr=1e-3, weight_decay=1e-2),
                   MLP_LONG.replace(optimizer="adamw", lr=3e-3, weight_decay=1e-1, seed=1, schedule="one_cycle")]
    records = train_stacked(configs, data=cifar, progress=False, fused_update=True)
    for config, record in zip(configs, records):
        assert record["env"]["fused_update"] is True and record["env"]["update_compile_s"] > 0
        assert_same_run(record, train(config, data=cifar, progress=False))
    assert [r["status"] for r in records] == (["completed", "diverged", "completed"] if family == "sgd"
                                              else ["completed"] * 2)


def test_an_update_that_does_not_compile_runs_as_written_and_the_record_says_so(cifar, float64, monkeypatch):
    def cannot(fn, **kwargs):
        def fails(*args):
            raise RuntimeError("InductorError: no C++ compiler")
        return fails
    monkeypatch.setattr(torch, "compile", cannot)
    configs = [SHORT, SHORT.replace(lr=0.2, seed=1)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = train_stacked(configs, data=cifar, progress=False, fused_update=True)
    assert any("did not compile; it runs as written" in str(w.message) for w in caught)
    for config, record in zip(configs, records):
        assert record["env"]["fused_update"] == "failed: RuntimeError: InductorError: no C++ compiler"
        assert_same_run(record, train(config, data=cifar, progress=False))


def test_a_stack_compiles_its_update_where_that_and_its_compilation_beat_the_update_as_written():
    four = [RUN.replace(seed=s) for s in range(4)]   # 40 s one after another, 20 s as a stack of 4
    # compiled: 10 s and a 1 s compilation, against 20 s: fused, and 40 / 11 as fast as one after another
    assert StackSizes(stack_rows()).fused_update(four) == (True, pytest.approx(40 / 11))
    # a 15 s compilation: 25 s against 20 s
    assert StackSizes(stack_rows(compile_s=15.0)).fused_update(four) == (False, 2.0)
    # short runs: 1 s compilation + 0.5 s against 1 s
    short = [RUN.replace(epochs=1, seed=s) for s in range(4)]
    assert StackSizes(stack_rows()).fused_update(short) == (False, 2.0)
    # 5% faster compiled and free: inside a bench's spread
    assert StackSizes(stack_rows(fused_speedup=2.1, compile_s=0.0)).fused_update(four) == (False, 2.0)
    # timed compiled only at another K, or K fixed by hand: as written
    assert StackSizes(stack_rows(fused_k=16)).fused_update(four) == (False, 2.0)
    assert StackSizes(stack_rows(), fixed=4).fused_update(four)[0] is False
    # the fused row sets neither K nor the shape's speed-up as written
    assert StackSizes(stack_rows(fused_speedup=9.0, fused_k=16)).choose(RUN) == (4, 2.0)
    groups = stack_groups(four + [RUN.replace(epochs=1, seed=9)], StackSizes(stack_rows()))
    assert [(g.positions, g.fused_update) for g in groups] == [([0, 1, 2, 3], True), ([4], False)]


def test_a_fused_measurement_supersedes_only_fused_rows():
    def stamped(rows, created):
        return [dict(row, device="GPU", created=created) for row in rows]
    old_plain, fused = stamped(stack_rows()[:2], "2026-11-29T01"), stamped(stack_rows()[2:], "2026-11-29T02")
    assert latest_stack_rows(old_plain + fused) == old_plain + fused
    new_plain = stamped(stack_rows()[1:2], "2026-11-29T03")
    assert latest_stack_rows(old_plain + fused + new_plain) == fused + new_plain
    table = stacked_table(pd_rows(old_plain + fused))
    assert list(table["model @ batch"]) == ["mlp-32 @ 8", "mlp-32 @ 8 (update compiled)"]
    assert 'marked (update compiled)' in stacked_note(pd_rows(old_plain + fused))


def pd_rows(rows):
    import pandas as pd
    return pd.DataFrame([dict(row, mode=f"stack of {row['members']} (bf16)", peak_fraction=None) for row in rows])


def test_a_sweep_compiles_the_update_of_the_stacks_the_bench_chose_and_its_records_say_so(tmp_path, cifar,
                                                                                          monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: fn)   # what runs is checked above
    monkeypatch.setattr(runner, "prepare_data", lambda configs, root=None, profiles=(): {"cifar10": cifar})

    def sizes(compile_s):   # the run alone at 500 images/s: a step of 64 takes 0.128 s
        return StackSizes([dict(model="mlp-32", batch_size=64, members=2, stacked_over_sequential=2.0, per_s=1000.0),
                           dict(model="mlp-32", batch_size=64, members=2, stacked_over_sequential=4.0, per_s=2000.0,
                                fused_update=True, update_compile_s=compile_s)])
    items = [("e", "quick", SHORT.replace(epochs=1, steps_per_epoch=3, seed=s)) for s in range(2)]
    # 3 steps each: 0.77 s one after another, 0.38 s stacked, 0.19 s + a 1 s compilation fused
    lines = []
    outcomes = runner.train_runs(items, Store(tmp_path / "1"), log=lines.append, stacking=sizes(1.0))
    assert all(o.record["packed_with"] == 2 and "fused_update" not in o.record["env"] for o in outcomes)
    outcomes = runner.train_runs(items, Store(tmp_path / "2"), log=lines.append, stacking=sizes(0.0))
    assert all(o.record["env"]["fused_update"] is True and o.record["packed_with"] == 2 for o in outcomes)
    assert sum("the optimizer update compiled for 1 stack(s)" in line for line in lines) == 1


def test_a_job_times_the_compiled_update_only_of_shapes_stacked_long_enough_to_repay_it(tmp_path, monkeypatch):
    benched = []

    def bench_stacked(spec, sizes, batch, device, steps, precision, **kwargs):
        benched.append((spec, list(sizes), batch, kwargs["fused_update"], kwargs["cold_cache"], kwargs["single"]))
        return [dict(model=spec, batch_size=batch, members=sizes[0], stacked_over_sequential=3.0, per_s=2400.0,
                     fused_update=True, update_compile_s=2.0, mode=f"stack of {sizes[0]} (bf16, fused update)")]
    monkeypatch.setattr("lrlab.bench.bench_stacked", bench_stacked)
    monkeypatch.setattr(calibrate, "update_could_pay", lambda config, k, per_s, device_key: config.width == 32)
    plain = stack_rows()[:2] + [dict(row, model="mlp-64") for row in stack_rows()[:2]]
    long_runs = [RUN.replace(seed=s) for s in range(8)]                        # 8 x 400 s alone: worth it
    short_runs = [RUN.replace(width=64, epochs=1, seed=s) for s in range(4)]   # 4 x 1 s: not
    wide_runs = [RUN.replace(width=64, seed=s) for s in range(8)]       # long, but the update is too small a share

    def predict(config):
        return 1.0 if config.epochs == 1 else 400.0
    rows = calibrate.bench_unmeasured_fused_updates(long_runs + short_runs + wide_runs, "cpu", tmp_path,
                                                    log=lambda m: None, predict=predict, sizes=StackSizes(plain))
    # at the K chosen (4), compared with the run alone its stack row was compared with (800 images/s)
    assert benched == [("mlp-32", [4], 8, True, False, dict(per_s=800.0))] and len(rows) == 1
    (record,) = Store(tmp_path).bench_records(kinds=("bench",))
    assert record["rows"] == rows
    # measured now: the next job benches nothing more
    assert calibrate.bench_unmeasured_fused_updates(long_runs, "cpu", tmp_path, log=lambda m: None, predict=predict,
                                                    sizes=StackSizes(plain + rows)) == []
    assert len(benched) == 1


def test_only_an_update_that_is_a_large_share_of_the_step_is_worth_timing_compiled():
    """By the bytes the update moves: a stack of 64 MLPs of width 8192 (92 M parameters each), measured on
    the H200 at 42,000 images/s, against 64 ResNet-20s (0.27 M) at 62,000 images/s and 64 GPTs of width 512
    under AdamW, compute-bound at 0.9 M tokens/s."""
    mlp = RunConfig(model="mlp", width=8192, batch_size=64, lr=0.1)
    resnet = RunConfig(model="resnet20", batch_size=128, lr=0.1)
    gpt = RunConfig(model="chargpt", task="shakespeare", width=512, batch_size=64, optimizer="adamw", lr=1e-3)
    assert calibrate.update_could_pay(mlp, 64, 42_000.0, "H200")
    assert not calibrate.update_could_pay(resnet, 64, 62_000.0, "H200")
    assert not calibrate.update_could_pay(gpt, 64, 920_000.0, "H200")
    # every optimizer family's update has its byte count (a Lion stack of GPTs is as compute-bound)
    from lrlab.stacked_optim import FAMILIES
    assert set(calibrate.UPDATE_BYTES) == set(FAMILIES.values())
    assert not calibrate.update_could_pay(gpt.replace(optimizer="lion"), 64, 920_000.0, "H200")
