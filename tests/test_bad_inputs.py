"""Bad input, table-driven: each case must end in one line that names the bad value (and the valid
choices where there are some), a non-zero exit from the CLI, and nothing written."""
import json
import os
import subprocess
import sys

import pytest

from lrlab.config import RunConfig
from lrlab.errors import LrlabError
from lrlab.results import Store


def lrlab(*args, env=None):
    return subprocess.run([sys.executable, "-m", "lrlab", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def assert_one_line_error(out, *needles):
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def a_record(config=RunConfig(), experiment="basics", profile="smoke", status="completed"):
    """A valid record by the schema (hand-made: these tests are about its shape, not its numbers)."""
    row = dict(epoch=0, lr=0.1, train_loss=1.0, train_acc=0.5, test_loss=1.1, test_acc=0.4, seconds=0.1)
    return dict(id=config.id, experiment=experiment, profile=profile, config=config.to_dict(), status=status,
                diverged_at_step=3 if status == "diverged" else None, history=[row],
                final=dict(test_acc=0.4, test_loss=1.1, train_loss=1.0, steps=10), wall_s=0.1,
                env=dict(device="cpu", device_type="cpu", torch="2", python="3", lrlab="0", git="0" * 40))


def _set(path, value):
    """A damage: the field at `path` (keys and indices) set to `value`."""
    def damage(record):
        target = record
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        return record
    return damage


def _drop(*path):
    def damage(record):
        target = record
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        return record
    return damage


OTHER = RunConfig(lr=0.5)

# (what is wrong, damage to a valid record, words the one-line error must hold)
BAD_RECORDS = [
    ("config is a list", _set(["config"], [1, 2]), "config is list"),
    ("config is null", _set(["config"], None), "config is NoneType"),
    ("config has an unknown field", _set(["config", "colour"], "red"), "colour"),
    ("config has a bad value", _set(["config", "lr"], -1), "lr"),
    ("config of another run", _set(["config"], OTHER.to_dict()), "hashes to"),
    ("history is not a list", _set(["history"], {"epoch": 0}), "history"),
    ("history is empty", _set(["history"], []), "history"),
    ("a history row is a number", _set(["history", 0], 7), "history row"),
    ("a history row lacks a field", _drop("history", 0, "test_acc"), "history row"),
    ("a history lr is text", _set(["history", 0, "lr"], "fast"), "lr"),
    ("an epoch is a float", _set(["history", 0, "epoch"], 0.5), "epoch"),
    ("final is not the last epoch", _set(["final", "test_acc"], 0.99), "final test_acc"),
    ("final lacks its steps", _drop("final", "steps"), "steps"),
    ("env lacks torch", _drop("env", "torch"), "env"),
    ("env is text", _set(["env"], "cpu"), "env"),
    ("diverged with no step", _set(["status"], "diverged"), "diverged_at_step"),
    ("completed with a divergence step", _set(["diverged_at_step"], 4), "diverged_at_step"),
    ("status unknown", _set(["status"], "great"), "great"),
    ("wall time negative", _set(["wall_s"], -1.0), "wall_s"),
    ("wall time text", _set(["wall_s"], "long"), "wall_s"),
    ("id not text", _set(["id"], 12), "id"),
    ("profile unknown", _set(["profile"], "huge"), "huge"),
    ("packed with none", _set(["packed_with"], 0), "packed_with"),
    ("trace not a list", _set(["trace"], "rows"), "trace"),
    ("a field is missing", _drop("history"), "missing history"),
    ("not an object", lambda record: [record], "not a JSON object"),
    ("another run's whole record", lambda record: a_record(OTHER), "holds run"),
    ("another experiment's record", _set(["experiment"], "weight_decay"), "holds run"),
]


@pytest.mark.parametrize("what, damage, needle", BAD_RECORDS, ids=[case[0] for case in BAD_RECORDS])
def test_a_bad_record_is_corrupt_in_one_line(tmp_path, what, damage, needle):
    store = Store(tmp_path)
    config = RunConfig()
    path = store.path("smoke", "basics", config.id)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(damage(a_record(config))))
    with pytest.raises(LrlabError) as e:
        store.load("smoke", "basics", config)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"corrupt record {path}") and needle in message, message


def test_the_undamaged_record_passes(tmp_path):
    store = Store(tmp_path)
    store.save(a_record())
    store.save(a_record(OTHER, status="diverged"))
    assert store.load("smoke", "basics", RunConfig())["id"] == RunConfig().id


def test_every_committed_record_passes_the_full_check():
    from pathlib import Path
    store = Store(Path(__file__).resolve().parents[1] / "results")
    assert len(store.records()) > 100   # each read validates, path included


def _declared(experiment="basics", profile="smoke"):
    from lrlab import experiments
    return experiments.runs(experiment, profile)


def test_status_reports_a_wrongly_typed_record_in_one_line(tmp_path):
    config = _declared()[0]
    path = Store(tmp_path).path("smoke", "basics", config.id)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(dict(a_record(config), config=None)))
    assert_one_line_error(lrlab("status", "--results", str(tmp_path)), "1 corrupt record")


def test_a_chapter_names_a_corrupt_record_corrupt_not_missing(tmp_path):
    from lrlab.book import ensure_runs
    store = Store(tmp_path)
    configs = _declared()
    for config in configs:
        store.save(a_record(config))
    path = store.path("smoke", "basics", configs[1].id)
    path.write_text(json.dumps(dict(a_record(configs[1]), history="none")))
    with pytest.raises(LrlabError) as e:
        ensure_runs("basics", "smoke", tmp_path)
    assert "1 of" in str(e.value) and "corrupt" in str(e.value) and str(path) in str(e.value)
    assert "missing" not in str(e.value)


def test_the_sweep_redoes_a_wrongly_typed_and_a_misnamed_record(tmp_path, data_root):
    from lrlab.sweep import sweep
    configs = _declared()
    assert sweep("basics", "smoke", tmp_path, data_root=data_root, progress=False, log=lambda m: None) == len(configs)
    store = Store(tmp_path)
    first, second = (store.path("smoke", "basics", c.id) for c in configs[:2])
    truth = {p: json.loads(p.read_text()) for p in (first, second)}
    first.write_text(json.dumps(dict(truth[first], history=[1, 2])))   # valid JSON, wrong types
    second.write_text(json.dumps(truth[first]))                         # a whole record, of another run
    lines = []
    assert sweep("basics", "smoke", tmp_path, data_root=data_root, progress=False, log=lines.append) == 2
    assert sum("redoing corrupt record" in line for line in lines) == 2
    for path in (first, second):
        redone = json.loads(path.read_text())
        assert redone["id"] == path.stem and redone["config"] == truth[path]["config"]


# -- results folders: found unusable before any run trains, not after

def test_a_results_folder_that_is_a_file_fails_before_training(tmp_path, data_root):
    results = tmp_path / "results"
    results.write_text("not a folder")
    out = lrlab("sweep", "basics", "--profile", "smoke", "--results", str(results), "--data", str(data_root),
                "--no-progress")
    assert_one_line_error(out, str(results), "not a folder")
    assert results.read_text() == "not a folder" and sorted(os.listdir(tmp_path)) == ["results"]


def test_an_unwritable_results_folder_fails_before_training(tmp_path, data_root):
    if os.geteuid() == 0:   # root writes anywhere chmod forbids; sysfs refuses even root
        results = "/sys/lrlab-results"
    else:
        (tmp_path / "results").mkdir()
        (tmp_path / "results").chmod(0o500)
        results = str(tmp_path / "results")
    out = lrlab("sweep", "basics", "--profile", "smoke", "--results", results, "--data", str(data_root),
                "--no-progress")
    assert_one_line_error(out, results, "not writable")
    assert "[1/" not in out.stdout   # no run trained


# -- configs: a wrong type is one line at declaration, not a traceback in torch

BAD_CONFIGS = [
    (dict(model="mlp", width=2.5), "width must be an integer"),
    (dict(model="mlp", width="64"), "width"),
    (dict(epochs=2.0), "epochs must be an integer"),
    (dict(batch_size=0), "batch_size"),
    (dict(seed=-1), "seed must be an integer >= 0"),
    (dict(seed=1.5), "seed"),
    (dict(schedule="step", schedule_args=[1]), "schedule_args must be a dict"),
    (dict(schedule_args="gamma=0.1"), "schedule_args must be a dict"),
    (dict(nesterov=1), "nesterov must be true or false"),
    (dict(lr=0), "lr must be a positive number"),
    (dict(optimizer="lamb"), "valid choices"),
]


@pytest.mark.parametrize("fields, needle", BAD_CONFIGS, ids=[str(f) for f, _ in BAD_CONFIGS])
def test_a_bad_config_is_one_line(fields, needle):
    with pytest.raises(LrlabError) as e:
        RunConfig(**fields)
    assert needle in str(e.value) and "\n" not in str(e.value)


# -- command lines, with what they read: arguments, settings, data, archives, results folders.
# Each case runs `lrlab` in this process (a real process for two of them, below) against a scratch
# folder holding: data/ (an empty folder), two_classes/ (an image tree of 2 of CIFAR-10's classes),
# ten_classes/ (10 classes of CIFAR-10, 2 train and 1 test image each), short_corpus/ (the whole
# CIFAR-10 beside a 12-character, so corrupt, Tiny Shakespeare), junk.tar.xz and junk.tgz (random bytes), foreign.tgz (a real tar with no manifest), a_file (text),
# results/ absent. The case must end in one line on stderr naming the bad value (and the valid
# choices where there are some), exit non-zero, and leave the scratch folder exactly as it was.

SWEEP = ["sweep", "basics", "--profile", "smoke", "--results", "{tmp}/results", "--data", "{data}"]
BAD_COMMANDS = [
    # arguments
    (["sweep", "nonsense", "--profile", "smoke"], {}, ["'nonsense'", "basics", "weight_decay"]),
    (["sweep", "basics", "--profile", "huge"], {}, ["'huge'", "smoke", "gpu"]),
    (SWEEP + ["--jobs", "many"], {}, ["'many'", "auto"]),
    (SWEEP + ["--jobs", "0"], {}, ["jobs", "0"]),
    (SWEEP + ["--stack", "many"], {}, ["'many'", "off"]),
    (SWEEP + ["--stack", "0"], {}, ["stack", "0"]),
    (SWEEP + ["--device", "tpu"], {}, ["'tpu'", "cpu", "cuda"]),
    (["job", "--deadline", "-3", "--profile", "smoke", "--results", "{tmp}/results"], {}, ["deadline", "-3"]),
    (["job", "--deadline", "soon", "--profile", "smoke"], {}, ["deadline", "'soon'"]),
    (["job", "nonsense/chunk", "--deadline", "5", "--profile", "smoke", "--results", "{tmp}/results"], {},
     ["'nonsense/chunk'", "basics/momentum_shift"]),
    (["queue", "--profile", "huge"], {}, ["'huge'", "gpu"]),
    (["queue", "--device-name", "TPU", "--results", "{tmp}/results"], {}, ["'TPU'", "H100"]),
    (["notebooks", "99_nonsense", "--results", "{tmp}/results"], {}, ["99_nonsense", "01_basics"]),
    (["notebooks", "01_basics", "--jobs", "0", "--results", "{tmp}/results"], {}, ["jobs", "0"]),
    (["bench", "nonsense", "--device", "cpu", "--out", "{tmp}/results"], {}, ["'nonsense'", "resnet20"]),
    (["bench", "mlp", "--batch-size", "0", "--out", "{tmp}/results"], {}, ["batch", "0"]),
    (["bench", "mlp", "--steps", "-1", "--out", "{tmp}/results"], {}, ["steps", "-1"]),
    (["bench", "resnet20", "--modes", "fp8", "--out", "{tmp}/results"], {}, ["'fp8'", "fp32"]),
    (["bench", "mlp-32", "--fused-update", "--out", "{tmp}/results"], {}, ["--fused-update", "--stack"]),
    (["bench", "resnet20", "--device", "cuda:7", "--out", "{tmp}/results"], {}, ["cuda:7"]),
    (["frobnicate"], {}, ["'frobnicate'", "sweep", "queue"]),
    # settings
    (SWEEP, {"LRLAB_THREADS": "two"}, ["LRLAB_THREADS", "'two'"]),
    (SWEEP, {"LRLAB_CHECKPOINT_EVERY_S": "soon"}, ["LRLAB_CHECKPOINT_EVERY_S", "'soon'"]),
    (SWEEP, {"LRLAB_CHECKPOINT_EVERY_S": "-1"}, ["LRLAB_CHECKPOINT_EVERY_S", "'-1'"]),
    (SWEEP + ["--jobs", "auto"], {"LRLAB_JOBS": "many"}, ["'many'", "auto"]),
    (["job", "--deadline", "5", "--profile", "smoke", "--results", "{tmp}/results"], {"LRLAB_THREADS": "0"},
     ["LRLAB_THREADS", "0"]),
    # data
    (SWEEP[:-1] + ["{tmp}/nowhere"], {}, ["{tmp}/nowhere"]),
    (SWEEP[:-1] + ["{tmp}/data"], {}, ["{tmp}/data", "CIFAR-10"]),
    (SWEEP[:-1] + ["{tmp}/two_classes"], {}, ["two_classes", "10"]),
    (SWEEP[:-1] + ["{tmp}/junk.tar.xz"], {}, ["junk.tar.xz"]),
    (["data", "--data", "{tmp}/nowhere"], {}, ["{tmp}/nowhere"]),
    (["job", "--deadline", "5", "--profile", "smoke", "--results", "{tmp}/results", "--data", "{tmp}/nowhere"], {},
     ["{tmp}/nowhere"]),
    (["sweep", "basics", "--profile", "quick", "--results", "{tmp}/results", "--data", "{tmp}/ten_classes"], {},
     ["ten_classes", "holds (20, 10)", "50,000 train / 10,000 test", "quick", "smoke takes any"]),
    (["sweep", "lr_vs_width", "--profile", "quick", "--results", "{tmp}/results", "--data", "{tmp}/short_corpus"], {},
     ["short_corpus/tinyshakespeare.txt", "checksum mismatch", "re-download it"]),
    # archives
    (["unpack", "{tmp}/missing.tgz", "--results", "{tmp}/results"], {}, ["missing.tgz"]),
    (["unpack", "{tmp}/junk.tgz", "--results", "{tmp}/results"], {}, ["junk.tgz"]),
    (["unpack", "{tmp}/foreign.tgz", "--results", "{tmp}/results"], {}, ["foreign.tgz", "not an lrlab pack"]),
    (["pack", "{tmp}/out", "--results", "{tmp}/nowhere"], {}, ["{tmp}/nowhere"]),
    (["pack", "{tmp}/out", "--results", "{tmp}/data", "--newer-than", "yesterday"], {}, ["'yesterday'"]),
    # results folders
    (SWEEP[:5] + ["{tmp}/a_file"] + SWEEP[6:], {}, ["{tmp}/a_file", "not a folder"]),
    (["status", "--results", "{tmp}/a_file"], {}, ["{tmp}/a_file", "not a folder"]),
]


@pytest.fixture
def scratch(tmp_path, data_root):
    import tarfile

    from PIL import Image
    (tmp_path / "data").mkdir()
    for cls in ("cat", "dog"):
        for split in ("train", "test"):
            (tmp_path / "two_classes" / split / cls).mkdir(parents=True)
            Image.new("RGB", (32, 32)).save(tmp_path / "two_classes" / split / cls / "0000.png")
    from lrlab.data import CIFAR10_CLASSES
    for cls in CIFAR10_CLASSES:
        for split, count in (("train", 2), ("test", 1)):
            (tmp_path / "ten_classes" / split / cls).mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (32, 32)).save(tmp_path / "ten_classes" / split / cls / f"{i:04d}.png")
    (tmp_path / "short_corpus").mkdir()
    (tmp_path / "short_corpus" / "tinyshakespeare.txt").write_text("To be, or no")
    for archive in data_root.glob("*.tar.*"):
        (tmp_path / "short_corpus" / archive.name).symlink_to(archive)
    (tmp_path / "junk.tar.xz").write_bytes(os.urandom(4096))
    (tmp_path / "junk.tgz").write_bytes(os.urandom(4096))
    with tarfile.open(tmp_path / "foreign.tgz", "w:gz") as tar:
        tar.add(tmp_path / "data", arcname="something")
    (tmp_path / "a_file").write_text("not a folder")
    return tmp_path


def snapshot(folder):
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) if p.is_file() else None
            for p in folder.rglob("*")}


def _fill(args, tmp, data):
    return [a.format(tmp=tmp, data=data) for a in args]


def _case_id(args, env):
    words = [a.replace("{tmp}/", "") for a in args if a not in ("--results", "{tmp}/results", "--data", "{data}")]
    return " ".join(words + [f"{k}={v}" for k, v in env.items()])


@pytest.mark.parametrize("args, env, needles", BAD_COMMANDS, ids=[_case_id(a, e) for a, e, _ in BAD_COMMANDS])
def test_a_bad_command_is_one_line_and_writes_nothing(scratch, data_root, capsys, monkeypatch, args, env, needles):
    from lrlab.cli import main
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = snapshot(scratch)
    try:
        status = main(_fill(args, scratch, data_root))
    except SystemExit as stop:   # argparse's errors
        status = stop.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert status not in (0, None) and len(lines) == 1 and "Traceback" not in err, err
    for needle in _fill(needles, scratch, data_root):
        assert needle in lines[0], (needle, lines[0])
    assert snapshot(scratch) == before


@pytest.mark.parametrize("args", [["sweep", "basics", "--profile", "huge"], ["job", "--deadline", "-3"]])
def test_a_bad_command_line_is_one_line_from_a_real_process(tmp_path, args):
    out = lrlab(*args, "--results", str(tmp_path / "results"))
    assert_one_line_error(out, args[-1])
    assert not (tmp_path / "results").exists()
