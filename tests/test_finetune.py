"""Fine-tuning: a transfer task's classes, a run that starts from another's weights, discriminative rates."""
import json

import pytest
import torch

from lrlab.bench import synthetic_cifar
from lrlab.config import RunConfig
from lrlab.errors import LrlabError
from lrlab.models import RESNET_LAYER_GROUPS, model_for
from lrlab.optim import optimizer_for
from lrlab.stacking import stack_key
from lrlab.tasks import CifarTask

TINY = dict(model="resnet8", batch_size=10, epochs=1, augment="none")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LRLAB_CACHE", str(tmp_path))
    return tmp_path


def start_and_fine_tune(**fine_tune):
    start = RunConfig(**TINY, classes=[0, 1, 2, 3, 4], lr=0.05)
    return start, RunConfig(**{**TINY, "classes": [5, 6, 7, 8, 9], "lr": 0.02, "init_from": start.to_dict(),
                               **fine_tune})


def test_a_transfer_task_keeps_its_classes_numbered_in_the_order_given():
    data = synthetic_cifar(300, n_test=40)
    task = CifarTask(RunConfig(**TINY, classes=[7, 2]), data, torch.device("cpu"))
    labels = torch.cat([y for _, y in task.train_batches(0)])
    kept = (data.train_labels == 7).sum() + (data.train_labels == 2).sum()
    assert task.num_classes == 2 and set(labels.tolist()) == {0, 1}
    assert len(labels) == kept // 10 * 10   # whole batches of the kept images only
    assert (labels == 0).sum() >= (data.train_labels == 7).sum() - 10   # 7 is class 0: the order given


def test_a_fine_tuned_run_starts_from_its_starts_final_weights_all_but_the_head(cache):
    from lrlab.pretrained import load_body, start_path, start_weights
    from lrlab.train import train
    data = synthetic_cifar(200)
    start, fine_tune = start_and_fine_tune()
    state, summary = start_weights(fine_tune, "cpu", data)
    assert summary["trained_here"] and summary["id"] == start.id and start_path(start, "cpu").is_file()
    model = model_for(fine_tune, 5)
    fresh_head = model.fc.weight.detach().clone()
    load_body(model, state, fine_tune.model)
    assert torch.equal(model.conv.weight, state["conv.weight"])
    assert torch.equal(model.blocks[-1].bn2.running_mean, state["blocks.2.bn2.running_mean"])
    assert torch.equal(model.fc.weight, fresh_head)     # the new task's head, from this run's seed
    first = train(fine_tune, data=data, progress=False)
    assert first["started_from"]["id"] == start.id and "weights" not in first
    assert not first["started_from"]["trained_here"]   # the start trained above, for this device and torch
    again = train(fine_tune, data=data, progress=False)   # the start from the cache: the same run
    assert again["history"][-1]["train_loss"] == first["history"][-1]["train_loss"]
    assert start_weights(fine_tune, "cpu", data)[1] == {**summary, "trained_here": False}


def test_a_start_that_diverged_is_no_starting_point(cache):
    from lrlab.pretrained import start_weights
    start = RunConfig(**TINY, classes=[0, 1, 2, 3, 4], lr=1e6)
    fine_tune = RunConfig(**TINY, classes=[5, 6, 7, 8, 9], init_from=start.to_dict())
    with pytest.raises(LrlabError, match=f"run {start.id}, the start that init_from names, diverged"):
        start_weights(fine_tune, "cpu", synthetic_cifar(200))


def test_a_start_past_a_jobs_deadline_stops_the_fine_tuned_run_with_it(cache):
    import time

    from lrlab.pretrained import start_path, start_weights
    from lrlab.train import DeadlineReached
    start = RunConfig(**{**TINY, "epochs": 3}, classes=[0, 1, 2, 3, 4])   # its first epoch's end: no time left
    fine_tune = RunConfig(**TINY, classes=[5, 6, 7, 8, 9], init_from=start.to_dict())
    with pytest.raises(DeadlineReached) as stopped:
        start_weights(fine_tune, "cpu", synthetic_cifar(200), stop_at=time.time() - 1)
    assert stopped.value.run_id == fine_tune.id and not stopped.value.checkpointed
    assert not start_path(start, "cpu").exists()   # nothing half-written: the next job trains it again


def test_discriminative_rates_divide_by_the_factor_at_each_group_down_from_the_head():
    config = RunConfig(**TINY, optimizer="sgdw", lr=0.8, lr_layer_decay=2.0, weight_decay=0.004)
    model = model_for(config, 10)
    groups = optimizer_for(model, config).param_groups
    rate_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert len(rate_of) == sum(1 for _ in model.parameters())   # every weight in one group
    assert rate_of[id(model.fc.weight)] == 0.8 and rate_of[id(model.blocks[2].conv1.weight)] == 0.4
    assert rate_of[id(model.blocks[1].conv1.weight)] == 0.2 and rate_of[id(model.conv.weight)] == 0.1
    assert rate_of[id(model.blocks[0].bn1.weight)] == 0.1
    # the paper's lambda in every group whatever its rate: torch's decoupled weight_decay is lambda / lr
    assert all(g["weight_decay"] * g["lr"] == pytest.approx(0.004) for g in groups)
    assert len(model.layer_groups()) == len(RESNET_LAYER_GROUPS)
    split = optimizer_for(model, config.replace(decay_norm_and_bias=False)).param_groups
    assert len(split) == 8 and sorted({g["lr"] for g in split}) == [0.1, 0.2, 0.4, 0.8]
    plain = optimizer_for(model, config.replace(lr_layer_decay=None)).param_groups
    assert {g["lr"] for g in plain} == {0.8}


def test_fine_tuning_configs_name_their_start_and_train_alone():
    start, fine_tune = start_and_fine_tune(lr_layer_decay=2.6)
    assert fine_tune.init_from == json.loads(start.canonical_json())   # the start's own fields, like its id
    assert RunConfig.from_dict(json.loads(json.dumps(fine_tune.to_dict()))).id == fine_tune.id
    assert stack_key(fine_tune) is None and stack_key(fine_tune.replace(init_from=None)) is None
    assert stack_key(fine_tune.replace(init_from=None, lr_layer_decay=None)) is not None


@pytest.mark.parametrize("fields, said", [
    (dict(classes=[3]), "classes must be a list of at least two distinct CIFAR-10 labels"),
    (dict(classes=[3, 3]), "got [3, 3]"),
    (dict(classes=[0, 10]), "from 0 to 9"),
    (dict(task="shakespeare", model="chargpt", width=32, classes=[0, 1]), "classes applies to task 'cifar10' only"),
    (dict(init_from=5), "init_from must be a run's config as a dict"),
    (dict(init_from={"model": "resnet20"}), "it differs in model ('resnet20' against 'resnet8')"),
    (dict(init_from={"model": "resnet8", "colour": 1}), "unknown config field(s) colour"),
    (dict(lr_layer_decay=0.5), "lr_layer_decay must be in [1, inf), got 0.5"),
    (dict(model="mlp", width=64, lr_layer_decay=2.0), "lr_layer_decay needs a ResNet in SP"),
    (dict(runner="torch-lr-finder", lr_layer_decay=2.0), "need lrlab's own loop (runner 'lrlab'), not 'torch-lr"),
])
def test_a_bad_fine_tuning_field_is_a_one_line_error(fields, said):
    with pytest.raises(LrlabError) as error:
        RunConfig(**{**TINY, **fields})
    assert said in str(error.value) and "\n" not in str(error.value)


def test_the_queue_counts_each_start_once_with_the_first_run_that_fine_tunes_from_it():
    from lrlab.queue import _unit_minutes
    from lrlab.stacking import StackSizes
    start, fine_tune = start_and_fine_tune()
    other_start = start.replace(seed=1)
    runs = [RunConfig(**TINY), fine_tune, fine_tune.replace(lr=0.04),
            fine_tune.replace(init_from=other_start.to_dict())]
    alone = {config.id: 1.0 for config in runs}
    minutes = {start.id: 5.0, other_start.id: 7.0}
    assert _unit_minutes(runs, alone, StackSizes(), start_minutes=lambda s: minutes[s.id]) == [1.0, 6.0, 1.0, 8.0]
    assert _unit_minutes(runs[2:3], alone, StackSizes(), start_minutes=lambda s: minutes[s.id]) == [6.0]


def test_a_jobs_prediction_counts_a_start_until_its_weights_are_where_the_job_keeps_starts(tmp_path):
    from lrlab.cost import run_steps
    from lrlab.job import Predictor
    from lrlab.pretrained import start_path
    start, fine_tune = start_and_fine_tune()
    predict = Predictor(None, None, device="cpu", starts_dir=tmp_path / "starts")
    assert predict(fine_tune) is None   # nothing of its shape measured, and no step-time model of a CPU
    predict.learn(dict(config=fine_tune.to_dict(), status="completed", wall_s=6.0, final=dict(steps=3)))
    # 2 s a step, for the start's steps as well (the same shape), until the start's weights are here
    assert predict(fine_tune) == pytest.approx(2.0 * (run_steps(fine_tune) + run_steps(start)))
    (tmp_path / "starts").mkdir()
    start_path(start, "cpu", tmp_path / "starts").write_bytes(b"weights")
    assert predict(fine_tune) == pytest.approx(2.0 * run_steps(fine_tune))


def test_a_jobs_start_is_kept_beside_its_checkpoints_packed_and_reused_by_the_next_job(tmp_path, data_root, cache):
    """A chunk a deadline splits goes on in the next job, on a bare machine carrying what the last one packed:
    its start must come with it, not be trained again (nor stand beside a second training of itself)."""
    from lrlab.pack import pack, unpack
    from lrlab.pretrained import start_path
    from lrlab.results import Store
    from lrlab.runner import train_runs
    small = dict(train_per_class=20, test_per_class=5)
    start = RunConfig(**TINY, **small, classes=[0, 1, 2, 3, 4], lr=0.05)
    fine_tune = RunConfig(**TINY, **small, classes=[5, 6, 7, 8, 9], lr=0.02, init_from=start.to_dict())
    box, home, quiet = Store(tmp_path / "box"), Store(tmp_path / "home"), (lambda *a: None)
    [first] = train_runs([("rules_of_thumb", "smoke", fine_tune)], box, data_root=data_root, log=quiet)
    assert first.record["started_from"]["trained_here"]
    kept = start_path(start, "cpu", box.starts_dir("smoke"))
    assert kept.is_file() and not start_path(start, "cpu").exists()   # beside the checkpoints, not in the cache
    summary = unpack(pack(box.root, tmp_path / "out", log=quiet), home.root, log=quiet)
    assert summary["starts"]["written"] == 1 and start_path(start, "cpu", home.starts_dir("smoke")).is_file()
    [second] = train_runs([("rules_of_thumb", "smoke", fine_tune.replace(lr=0.04))], home, data_root=data_root,
                          log=quiet)
    assert second.record["started_from"] == {**first.record["started_from"], "trained_here": False}

    torch.save({"model": {}}, kept)   # a different training of the same start, made elsewhere
    said = []
    summary = unpack(pack(box.root, tmp_path / "out2", log=quiet), home.root, log=said.append)
    assert summary["starts"] == dict(written=0, skipped=0, dropped=1) and any("kept" in line for line in said)
