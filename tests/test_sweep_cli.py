import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lrlab import experiments
from lrlab.book import ensure_runs
from lrlab.progress import status
from lrlab.sweep import sweep
from lrlab.errors import LrlabError
from lrlab.results import Store


def lrlab(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "lrlab", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300, **kw)


def test_every_experiment_declares_valid_runs_for_every_profile():
    from lrlab.names import PROFILES
    for name in experiments.EXPERIMENTS:
        for profile in PROFILES:
            configs = experiments.runs(name, profile)
            assert len({c.id for c in configs}) == len(configs)   # no duplicate runs
            # its chunks hold every run exactly once, tier 1 before tier 2 within the chapter
            chunks = experiments.chunks(name, profile)
            assert [c.tier for c in chunks] == sorted(c.tier for c in chunks)
            ids = [c.id for chunk in chunks for c in chunk.runs]
            assert sorted(ids) == sorted(c.id for c in configs) and len(ids) == len(set(ids))
            assert all(chunk.runs and chunk.tier in (1, 2) and chunk.settles for chunk in chunks)


def test_sweep_trains_the_missing_and_skips_the_done(tmp_path, data_root):
    n = len(experiments.runs("basics", "smoke"))
    assert sweep("basics", "smoke", tmp_path, data_root=data_root, progress=False, log=lambda m: None) == n
    assert sweep("basics", "smoke", tmp_path, data_root=data_root, progress=False, log=lambda m: None) == 0
    row = [r for r in status(tmp_path) if r["experiment"] == "basics" and r["profile"] == "smoke"][0]
    assert row["done"] + row["diverged"] == n and row["missing"] == 0
    records = Store(tmp_path).records("smoke", "basics")
    assert all(r["env"]["device"] and r["env"]["torch"] for r in records)

    # a truncated record is reported by `status` and redone by `sweep`
    victim = Store(tmp_path).paths("smoke", "basics")[0]
    victim.write_text(victim.read_text()[:100])
    out = lrlab("status", "--results", str(tmp_path))
    assert out.returncode != 0 and "corrupt" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert sweep("basics", "smoke", tmp_path, data_root=data_root, progress=False, log=lambda m: None) == 1
    json.loads(victim.read_text())


def test_sweep_with_jobs_trains_every_run_once_in_workers(tmp_path, data_root):
    n = len(experiments.runs("basics", "smoke"))
    lines = []
    assert sweep("basics", "smoke", tmp_path, data_root=data_root, jobs=2, log=lines.append) == n
    assert "2 at a time" in lines[0] and len(lines) == n + 1
    records = Store(tmp_path).records("smoke", "basics")
    assert sorted(r["id"] for r in records) == sorted(c.id for c in experiments.runs("basics", "smoke"))
    assert sweep("basics", "smoke", tmp_path, data_root=data_root, jobs=2, log=lambda m: None) == 0


def test_kill_dash_nine_loses_no_finished_run(tmp_path, data_root):
    cmd = [sys.executable, "-m", "lrlab", "sweep", "basics", "--profile", "smoke",
           "--results", str(tmp_path), "--data", str(data_root), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not Store(tmp_path).paths("smoke", "basics") and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p: p.read_bytes() for p in Store(tmp_path).paths("smoke", "basics")}
    assert 0 < len(before) < len(experiments.runs("basics", "smoke")), "the kill must land mid-sweep"
    for p in before:
        json.loads(p.read_bytes())      # every file present is a whole record
    out = lrlab(*cmd[3:])
    assert out.returncode == 0, out.stderr
    after = Store(tmp_path).paths("smoke", "basics")
    assert len(after) == len(experiments.runs("basics", "smoke"))
    for p, content in before.items():
        assert p.read_bytes() == content   # finished runs were not redone


def test_a_chapter_without_records_says_how_to_make_them(tmp_path):
    with pytest.raises(LrlabError, match="lrlab sweep basics --profile quick"):
        ensure_runs("basics", "quick", tmp_path, allow_training=False)


def test_cli_no_data_names_the_ways_to_provide_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = lrlab("sweep", "basics", "--profile", "smoke", "--results", str(tmp_path / "res"),
                env={"LRLAB_DATA": str(empty)})
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert str(empty) in out.stderr and "cifar-10-batches-py" in out.stderr
    assert not (tmp_path / "res").exists() or not any((tmp_path / "res").rglob("*.json"))


def test_cli_bench_and_status(tmp_path):
    out = lrlab("bench", "resnet20", "mlp-64", "--steps", "2", "--batch-size", "8")
    assert out.returncode == 0, out.stderr
    assert "resnet20" in out.stdout and "per s" in out.stdout and "mlp-64" in out.stdout
    out = lrlab("status", "--results", str(tmp_path))
    assert out.returncode == 0 and "basics" in out.stdout


def test_sweep_and_bench_need_only_torch_numpy_pillow_tqdm(tmp_path, data_root):
    # the GPU box has no book stack: make every heavier package unimportable and run both
    blocked = ("pandas", "matplotlib", "torchvision", "jupytext", "papermill", "myst_nb", "scipy",
               "IPython", "nbformat", "mup")
    code = ("import sys\n"
            f"for m in {blocked!r}: sys.modules[m] = None\n"
            "from lrlab.cli import main\n"
            "assert main(sys.argv[1:]) == 0\n")
    for args in (["sweep", "basics", "--profile", "smoke", "--results", str(tmp_path), "--data",
                  str(data_root), "--no-progress"], ["bench", "mlp-32", "--steps", "1", "--batch-size", "4"]):
        out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]


def test_notebooks_without_the_books_sources_is_a_one_line_error(tmp_path, monkeypatch):
    # a non-editable install: the package is there, the notebooks/ beside it are not
    import lrlab.notebooks
    monkeypatch.setattr(lrlab.notebooks, "NOTEBOOKS", tmp_path / "site-packages" / "notebooks")
    with pytest.raises(LrlabError, match="needs the book's sources") as err:
        lrlab.notebooks.run_chapters(None, "smoke", tmp_path / "results", out_dir=tmp_path / "out")
    assert "\n" not in str(err.value) and "pip install -e ." in str(err.value)
    assert not (tmp_path / "out").exists()
