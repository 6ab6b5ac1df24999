import json
import math

import pytest

from lrlab import train as train_mod
from lrlab.config import RunConfig
from lrlab.train import train

MLP = RunConfig(model="mlp", width=64, optimizer="sgd", lr=0.05, epochs=3, batch_size=50,
                augment="flip", train_per_class=30, test_per_class=10)


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def test_training_loss_falls_on_a_real_subset(cifar):
    record = train(MLP, data=cifar, progress=False)
    losses = [h["train_loss"] for h in record["history"]]
    assert record["status"] == "completed" and len(losses) == 3
    assert losses[-1] < 0.9 * losses[0]
    assert record["final"]["steps"] == 3 * (300 // 50)
    assert record["env"]["data"]["sha256"] == cifar.sha256
    json.dumps(record, allow_nan=False)


def test_resnet_and_schedules_run_through_the_same_loop(cifar):
    config = RunConfig(model="resnet20", lr=0.1, epochs=2, steps_per_epoch=2, batch_size=16,
                       schedule="one_cycle", train_per_class=4, test_per_class=2,
                       zero_init_residual=True, bn_momentum=0.05, decay_norm_and_bias=False,
                       weight_decay=1e-4, nesterov=True)
    record = train(config, data=cifar, progress=False)
    assert record["status"] == "completed" and record["final"]["steps"] == 4
    assert record["history"][-1]["lr"] < config.lr    # one-cycle ends far below its peak


def test_a_huge_learning_rate_is_recorded_as_diverged(cifar):
    record = train(MLP.replace(lr=1e4), data=cifar, progress=False)
    assert record["status"] == "diverged"
    assert 0 <= record["diverged_at_step"] < record["final"]["steps"]
    json.dumps(record, allow_nan=False)   # NaN losses are stored as null, not NaN


def test_an_epoch_longer_than_one_pass_takes_every_step_it_declares(cifar):
    record = train(MLP.replace(epochs=2, steps_per_epoch=15), data=cifar, progress=False)  # 6 batches a pass
    assert record["final"]["steps"] == 30
    assert record["history"][-1]["lr"] == MLP.lr


def test_a_batch_larger_than_the_training_set_is_a_one_line_error(cifar):
    from lrlab.errors import LrlabError
    with pytest.raises(LrlabError, match="batch_size 500 is larger than the 300 training images"):
        train(MLP.replace(batch_size=500), data=cifar, progress=False)


def test_same_seed_same_history_other_seed_differs(cifar):
    a = train(MLP, data=cifar, progress=False)
    b = train(MLP, data=cifar, progress=False)
    c = train(MLP.replace(seed=1), data=cifar, progress=False)
    assert without_seconds(a["history"]) == without_seconds(b["history"])
    assert without_seconds(a["history"]) != without_seconds(c["history"])


def test_gradient_accumulation_matches_the_full_batch(cifar):
    # the MLP has no BatchNorm, so accumulating 5 chunks of 10 is the same step as one of 50
    a = train(MLP, data=cifar, progress=False)
    b = train(MLP.replace(micro_batch=10), data=cifar, progress=False)
    for x, y in zip(a["history"], b["history"]):
        assert math.isclose(x["train_loss"], y["train_loss"], rel_tol=1e-4)


GROWS = {"milestones": [0.5, 0.75], "factor": 5}


def test_a_growing_batch_takes_fewer_larger_steps_over_the_same_data(cifar):
    # 300 images in batches of 10: 30 steps an epoch, then 6 of 50, then 2 (25 batches and the 5 left)
    from lrlab.cost import updates_by_epoch
    config = MLP.replace(batch_size=10, epochs=4, batch_growth=GROWS)
    record = train(config, data=cifar, progress=False)
    assert record["status"] == "completed" and record["final"]["steps"] == 30 + 30 + 6 + 2
    assert updates_by_epoch(config) == [30, 30, 6, 2]   # the cost model counts them from the config alone
    assert {row["lr"] for row in record["history"]} == {MLP.lr}


def test_a_grown_batch_joins_consecutive_batches_of_the_plain_epoch(cifar):
    import torch
    from lrlab.tasks import CifarTask
    plain = CifarTask(MLP.replace(batch_size=10, epochs=4), cifar, torch.device("cpu"))
    grown = CifarTask(MLP.replace(batch_size=10, epochs=4, batch_growth=GROWS), cifar, torch.device("cpu"))
    for epoch, per_step in ((1, 1), (2, 5), (3, 25)):
        batches = list(plain.train_batches(epoch))
        steps = list(grown.train_batches(epoch))
        assert len(steps) == grown.steps_in(epoch) == math.ceil(30 / per_step)
        assert [len(x) for x, _ in steps] == [len(x) for x in torch.cat([b[0] for b in batches]).split(10 * per_step)]
        assert torch.equal(torch.cat([x for x, _ in steps]), torch.cat([x for x, _ in batches]))
        assert torch.equal(torch.cat([y for _, y in steps]), torch.cat([y for _, y in batches]))


def test_a_growing_batch_trains_alone():
    from lrlab.stacking import stack_key
    assert stack_key(MLP) is not None and stack_key(MLP.replace(batch_growth=GROWS)) is None


def test_a_killed_run_resumes_from_its_checkpoint(cifar, tmp_path, monkeypatch):
    ckpt = tmp_path / "run.pt"
    whole = train(MLP, data=cifar, progress=False)

    real_evaluate, calls = train_mod.evaluate, []

    def evaluate_then_die(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt   # killed during epoch 2, after epoch 1's checkpoint
        return real_evaluate(*args)
    monkeypatch.setattr(train_mod, "evaluate", evaluate_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(MLP, data=cifar, checkpoint_path=ckpt, checkpoint_every_s=0, progress=False)
    assert ckpt.exists()
    monkeypatch.setattr(train_mod, "evaluate", real_evaluate)
    resumed = train(MLP, data=cifar, checkpoint_path=ckpt, checkpoint_every_s=0, progress=False)
    assert without_seconds(resumed["history"]) == without_seconds(whole["history"])
    assert ckpt.exists()   # until its record is saved: the runner deletes it then (tests/test_faults.py)


def test_char_gpt_trains_on_tiny_shakespeare(data_root):
    from lrlab.data import load_tiny_shakespeare
    corpus = load_tiny_shakespeare(data_root)
    config = RunConfig(task="shakespeare", model="chargpt", width=64, depth=2, optimizer="adamw",
                       lr=3e-3, schedule="warmup_cosine", epochs=2, steps_per_epoch=4, batch_size=8,
                       block_size=32, augment="none", grad_clip=1.0)
    record = train(config, data=corpus, progress=False)
    assert record["status"] == "completed"
    assert record["history"][-1]["train_loss"] < math.log(len(corpus.vocab))


def test_compile_cost_is_recorded_and_kept_out_of_epoch_times(cifar, monkeypatch):
    import time

    import torch

    def slow_first_call(model):   # stands in for torch.compile: the first call pays a fixed cost
        calls = []

        def forward(x):
            if not calls:
                time.sleep(1.0)
            calls.append(1)
            return model(x)
        return forward
    monkeypatch.setattr(torch, "compile", slow_first_call)
    eager = train(MLP, data=cifar, progress=False)
    compiled = train(MLP, data=cifar, progress=False, compile=True)
    assert "compile_s" not in eager
    assert 0.9 < compiled["compile_s"] < 1.5
    assert compiled["history"][0]["seconds"] < eager["history"][0]["seconds"] + 0.5   # the 1 s is not in it
    assert without_seconds(compiled["history"]) == without_seconds(eager["history"])
    assert compiled["env"]["compile"] is True


def test_a_one_cycle_runs_last_recorded_rate_is_the_last_one_it_used(cifar):
    record = train(MLP.replace(schedule="one_cycle", lr=0.1), data=cifar, progress=False)
    assert [row["lr"] > 0 for row in record["history"]] == [True] * MLP.epochs
    assert record["history"][-1]["lr"] < 0.1 / 25   # near the end's floor, not the peak
