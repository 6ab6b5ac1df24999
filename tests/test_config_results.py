import json
import subprocess
import sys

import pytest

from lrlab.config import RunConfig
from lrlab.errors import LrlabError
from lrlab.results import Store, validate_record, write_json_atomic


def record_for(config, status="completed", experiment="basics", profile="smoke"):
    row = dict(epoch=1, lr=0.1, train_loss=1.0, train_acc=0.5, test_loss=1.1, test_acc=0.4, seconds=0.1)
    return dict(id=config.id, experiment=experiment, profile=profile, config=config.to_dict(),
                status=status, diverged_at_step=5 if status == "diverged" else None, history=[row],
                final=dict(test_acc=0.4, test_loss=1.1, train_loss=1.0, steps=10),
                env=dict(device="cpu", device_type="cpu", torch="2", python="3", lrlab="0", git="0" * 40),
                wall_s=0.1)


def test_id_is_a_stable_hash_of_every_field():
    a = RunConfig(lr=0.1)
    assert a.id == RunConfig(lr=0.1).id and len(a.id) == 16
    assert a.id != a.replace(lr=0.2).id
    assert a.id != a.replace(schedule_args={"gamma": 0.5}, schedule="step").id
    assert RunConfig.from_dict(a.to_dict()) == a


def test_id_ignores_fields_at_their_defaults():
    # a field added later with a default leaves the ids of older records untouched
    assert json.loads(RunConfig(lr=0.5).canonical_json()) == {"lr": 0.5}
    assert RunConfig().canonical_json() == "{}"
    assert RunConfig(init="lecun").id != RunConfig().id


@pytest.mark.parametrize("changes, needle", [
    (dict(model="resnet99"), "resnet99"), (dict(optimizer="lamb"), "lamb"),
    (dict(schedule="wiggly"), "wiggly"), (dict(lr=0), "lr"), (dict(lr=-1e-3), "lr"),
    (dict(batch_size=0), "batch_size"), (dict(epochs=-2), "epochs"),
    (dict(model="mlp", width=-8), "width"), (dict(model="mlp"), "width"),
    (dict(augment="mixup"), "mixup"), (dict(momentum=1.0), "momentum"),
    (dict(batch_size=100, micro_batch=30), "micro_batch"),
    (dict(model="chargpt", width=64, attn_scale="1/d"), "1/d_head"), (dict(attn_scale="1/d_head"), "chargpt"),
    (dict(batch_growth={"factor": 5}), "milestones"), (dict(batch_growth=[0.5]), "batch_growth"),
    (dict(batch_growth={"milestones": [0.5], "factor": 1}), "factor"),
    (dict(model="mlp", width=8, optimizer="lion", parameterization="mup"),
     "valid with parameterization 'mup': sgd, sgdw, adam, adamw"),
    (dict(batch_growth={"milestones": [0.5], "factor": 2.5}), "2.5"),
    (dict(batch_growth={"milestones": [1.5], "factor": 5}), "1.5"),
    (dict(batch_growth={"milestones": [0.75, 0.5], "factor": 5}), "increase"),
    (dict(batch_growth={"milestones": [], "factor": 5}), "non-empty"),
    (dict(batch_growth={"milestones": [0.5], "factor": 5}, steps_per_epoch=10), "steps_per_epoch"),
    (dict(batch_growth={"milestones": [0.5], "factor": 5}, task="shakespeare", model="chargpt", width=32), "cifar10"),
])
def test_bad_config_names_the_value(changes, needle):
    with pytest.raises(LrlabError) as e:
        RunConfig(**changes)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_growing_batch_multiplies_at_each_milestone_it_has_passed():
    from lrlab.config import batches_per_step
    config = RunConfig(epochs=12, batch_growth={"milestones": [0.5, 0.75], "factor": 5})
    assert [batches_per_step(config, e) for e in range(12)] == [1] * 6 + [5] * 3 + [25] * 3
    assert [batches_per_step(config.replace(batch_growth={}), e) for e in (0, 11)] == [1, 1]
    assert RunConfig().id == RunConfig(batch_growth={}).id   # the new field leaves old ids alone


def test_unknown_model_lists_the_choices():
    with pytest.raises(LrlabError, match="resnet8, resnet20, resnet32, resnet56, mlp, chargpt"):
        RunConfig(model="vgg")


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(LrlabError, match="colour"):
        RunConfig.from_dict({**RunConfig().to_dict(), "colour": "red"})


def test_store_round_trip_and_queries(tmp_path):
    store = Store(tmp_path)
    configs = [RunConfig(lr=lr) for lr in (0.1, 0.2)]
    for c in configs:
        store.save(record_for(c))
    assert store.load("smoke", "basics", configs[0])["id"] == configs[0].id
    assert store.load("smoke", "basics", RunConfig(lr=0.3)) is None
    runs = store.runs("basics", "smoke")
    assert sorted(runs.lr) == [0.1, 0.2] and set(runs.status) == {"completed"}
    assert len(store.history("basics", "smoke")) == 2


def test_atomic_write_leaves_nothing_half_written(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    write_json_atomic(path, {"a": 1})

    def explode(*a, **k):
        raise RuntimeError("killed mid-write")
    monkeypatch.setattr(json, "dumps", explode)   # the serialiser fails mid-write
    with pytest.raises(RuntimeError):
        write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}          # the old record is intact
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # and no temp file is left


def test_a_record_is_readable_by_everyone(tmp_path):
    write_json_atomic(tmp_path / "r.json", {"a": 1})
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == 0o644


def test_non_finite_numbers_never_reach_a_record(tmp_path):
    with pytest.raises(ValueError):
        write_json_atomic(tmp_path / "x.json", {"loss": float("nan")})


@pytest.mark.parametrize("damage", ["truncate", "wrong_id", "no_status", "bad_status"])
def test_corrupt_records_are_detected(tmp_path, damage):
    store = Store(tmp_path)
    config = RunConfig()
    store.save(record_for(config))
    path = store.path("smoke", "basics", config.id)
    rec = json.loads(path.read_text())
    if damage == "truncate":
        path.write_text(path.read_text()[:40])
    else:
        if damage == "wrong_id":
            rec["config"]["lr"] = 0.5
        elif damage == "no_status":
            del rec["status"]
        else:
            rec["status"] = "great"
        path.write_text(json.dumps(rec))
    with pytest.raises(LrlabError) as e:
        store.load("smoke", "basics", config)
    assert "corrupt record" in str(e.value) and str(path) in str(e.value)


def test_validate_accepts_a_diverged_record():
    validate_record(record_for(RunConfig(), status="diverged"))


def test_bench_records_are_read_through_the_store_and_broken_ones_skipped(tmp_path):
    from lrlab.results import validate_bench_record
    good = dict(kind="bench", created="2026-11-27T07:00:00Z", rows=[{"model": "mlp-256", "per_s": 1.0}],
                env=dict(device="AMD EPYC (2 cores)", device_type="cpu", torch="2.14.1"))
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "good.json").write_text(json.dumps(good))
    (bench / "sweep.json").write_text(json.dumps(dict(good, kind="bench-sweep", sweeps=[])))
    broken = {"truncated.json": "{not json", "unknown-kind.json": json.dumps(dict(good, kind="mystery")),
              "no-env.json": json.dumps(dict(good, env={})), "rows-not-objects.json": json.dumps(dict(good, rows=[1])),
              "no-date.json": json.dumps({k: v for k, v in good.items() if k != "created"})}
    for name, text in broken.items():
        (bench / name).write_text(text)
    store = Store(tmp_path)
    assert [r["kind"] for r in store.bench_records()] == ["bench", "bench-sweep"]
    assert [r["kind"] for r in store.bench_records(kinds=("bench",))] == ["bench"]
    with pytest.raises(LrlabError, match="kind 'mystery'; valid: bench, calibration, bench-sweep, bench-commands"):
        validate_bench_record(dict(good, kind="mystery"), "x.json")


def test_every_name_a_config_accepts_is_implemented():
    import numpy as np
    import torch

    from lrlab import names
    from lrlab.data import DeviceLoader
    from lrlab.models import build_model
    from lrlab.optim import build_optimizer
    from lrlab.schedules import OPTIONS
    assert set(OPTIONS) == set(names.SCHEDULES)
    params = [torch.nn.Parameter(torch.zeros(2))]
    for name in names.OPTIMIZERS:
        build_optimizer(params, name, 0.1)
    for name in names.MODELS:
        build_model(name, 10, width=32 if name in ("mlp", "chargpt") else None, depth=1, block_size=8)
    images, labels = np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, np.int64)
    for augment in names.AUGMENTATIONS:
        next(iter(DeviceLoader(images, labels, 2, augment=augment)))


def test_a_config_is_built_without_torch(tmp_path):
    # validating names needs only the lists: building a config imports no torch, PIL or numpy
    code = ("import sys\nfrom lrlab.config import RunConfig\nRunConfig(model='mlp', width=8)\n"
            "print(sorted(m for m in ('torch', 'PIL', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
