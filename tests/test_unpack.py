"""pack/unpack: what a GPU job hands back lands in results/ whole and byte-for-byte, or not at all."""
import hashlib
import io
import json
import os
import tarfile

import pytest
import torch

import lrlab.pack
import lrlab.results
from lrlab.config import RunConfig
from lrlab.errors import LrlabError
from lrlab.pack import MANIFEST, pack, unpack
from lrlab.results import Store, write_json_atomic

BENCH_RECORD = dict(kind="bench", status="completed", created="2026-11-27T07:00:00Z", rows=[],
                    env=dict(device="NVIDIA H100 80GB HBM3", device_type="cuda", torch="2.11"))


@pytest.fixture(scope="module")
def record(request):
    """A real smoke record of `basics`, trained once. Without the data set: a hand-made one."""
    try:
        data_root = request.getfixturevalue("data_root")
    except pytest.skip.Exception:
        data_root = None
    from lrlab.experiments import runs
    config = runs("basics", "smoke")[0]
    if data_root is None:
        row = dict(epoch=1, lr=config.lr, train_loss=2.0, train_acc=0.2, test_loss=2.1, test_acc=0.2, seconds=0.1)
        rec = dict(id=config.id, config=config.to_dict(), status="completed", diverged_at_step=None, history=[row],
                   final=dict(test_acc=0.2, test_loss=2.1, train_loss=2.0, steps=1), wall_s=0.1,
                   env=dict(device="cpu", device_type="cpu", torch="2", python="3", lrlab="0", git="0" * 40))
    else:
        from lrlab.train import train
        rec = train(config, data_root=data_root, progress=False)
    rec.update(experiment="basics", profile="smoke")
    return rec


def variant(record, lr, profile=None, experiment=None):
    """The record of another run: a new lr hashes to a new id, so it is still a valid record."""
    config = RunConfig.from_dict(record["config"]).replace(lr=lr)
    return {**record, "id": config.id, "config": config.to_dict(), "profile": profile or record["profile"],
            "experiment": experiment or record["experiment"]}


def save_checkpoint(root, profile, experiment, run_id, numbers=16):
    path = Store(root).checkpoint_path(profile, experiment, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(config_id=run_id, epoch=1, model={"w": torch.randn(numbers)}), path)
    return path


def snapshot(root):
    """Every file under root (dot files included) and its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def quiet(lines):
    return lines.append


@pytest.fixture
def source(tmp_path, record):
    """A GPU box's results: records of two experiments, a bench record, a job log, an unfinished run."""
    root = tmp_path / "box"
    store = Store(root)
    store.save(record)
    for lr in (0.01, 0.02, 0.03):
        store.save(variant(record, lr))
    store.save(variant(record, 0.04, experiment="weight_decay"))
    write_json_atomic(root / "bench" / "nvidia-h100.json", BENCH_RECORD)
    write_json_atomic(root / "jobs" / "job-1.json", dict(kind="job", env={}, commands=[]))
    unfinished = variant(record, 0.05)
    save_checkpoint(root, "smoke", "basics", unfinished["id"])
    return root


@pytest.fixture
def packs(source, tmp_path):
    return pack(source, tmp_path / "out", log=quiet([]))


def assert_refused(call, results, *needles):
    before = snapshot(results) if results.exists() else {}
    with pytest.raises(LrlabError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message
    assert (snapshot(results) if results.exists() else {}) == before
    return message


def rewrite(pack_path, out_path, change=None, manifest_change=None, extra=()):
    """Copy a pack member by member, changing what the test needs (the manifest stays as it was
    unless manifest_change edits it)."""
    with tarfile.open(pack_path, "r:gz") as tar:
        members = [(info, tar.extractfile(info).read()) for info in tar]
    with tarfile.open(out_path, "w:gz") as out:
        for info, data in members:
            if info.name == MANIFEST and manifest_change:
                manifest = json.loads(data)
                manifest_change(manifest)
                data = json.dumps(manifest).encode()
            elif change and info.name != MANIFEST:
                data = change(info.name, data)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        for info, data in extra:
            out.addfile(info, io.BytesIO(data) if data is not None else None)
    return out_path


def entry(name, data):
    return dict(path=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())


# ----------------------------------------------------------------------------- the happy path

def test_pack_then_unpack_reproduces_the_files_byte_for_byte(source, packs, tmp_path):
    assert [p.name for p in packs] == ["lrlab-pack-1.tgz"]
    with tarfile.open(packs[0], "r:gz") as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST).read())
    assert names[0] == MANIFEST
    assert manifest["format"] == "lrlab-pack/1" and (manifest["part"], manifest["parts"]) == (1, 1)
    assert [f["path"] for f in manifest["files"]] == names[1:]
    assert names[-1].startswith(".checkpoints/smoke/basics/")   # records and logs first
    assert "bench/nvidia-h100.json" in names and "jobs/job-1.json" in names

    results = tmp_path / "results"
    lines = []
    summary = unpack(packs, results, log=lines.append)
    assert snapshot(results) == snapshot(source)
    assert summary["records"] == dict(written=5, skipped=0, dropped=0)
    assert summary["bench"]["written"] == summary["jobs"]["written"] == summary["checkpoints"]["written"] == 1
    assert lines[-1].startswith("unpacked 1 pack(s)")
    assert lines[-2].startswith("1 checkpoint(s) of runs in flight: commit them")
    assert len(Store(results).records("smoke")) == 5


def test_unpack_is_idempotent(source, packs, tmp_path):
    results = tmp_path / "results"
    unpack(packs, results, log=quiet([]))
    before = snapshot(results)
    summary = unpack(packs, results, log=quiet([]))
    assert snapshot(results) == before
    assert all(counts["written"] == 0 for counts in summary.values())
    assert summary["records"]["skipped"] == 5 and summary["checkpoints"]["skipped"] == 1


def test_only_files_newer_than_the_marker_are_packed(source, tmp_path):
    marker = tmp_path / "marker"
    marker.touch()
    old = marker.stat().st_mtime - 100
    for path in source.rglob("*"):
        os.utime(path, (old, old))
    new = next(source.glob("smoke/basics/*.json"))
    os.utime(new, (old + 200, old + 200))
    lines = []
    packs = pack(source, tmp_path / "out", newer_than=marker, log=lines.append)
    with tarfile.open(packs[0], "r:gz") as tar:
        assert tar.getnames() == [MANIFEST, new.relative_to(source).as_posix()]
    assert pack(source, tmp_path / "out2", newer_than=str(old + 300), log=lines.append) == []
    assert pack(source, tmp_path / "out3", newer_than=old + 150, log=lines.append)


def test_profiles_are_read_when_called(source, record, tmp_path, monkeypatch):
    tpu = variant(record, 0.06, profile="tpu")   # a profile this lrlab does not know: the store would refuse it
    write_json_atomic(Store(source).path("tpu", tpu["experiment"], tpu["id"]), tpu)
    with tarfile.open(pack(source, tmp_path / "out1", log=quiet([]))[0], "r:gz") as tar:
        assert not any(name.startswith("tpu/") for name in tar.getnames())
    monkeypatch.setattr(lrlab.results, "PROFILES", lrlab.results.PROFILES + ("tpu",))
    results = tmp_path / "results"
    unpack(pack(source, tmp_path / "out2", log=quiet([])), results, log=quiet([]))
    assert len(list(results.glob("tpu/basics/*.json"))) == 1


# ----------------------------------------------------------------------------- refused packs

def test_a_truncated_pack_is_refused_and_changes_nothing(packs, tmp_path):
    results = tmp_path / "results"
    (results / "smoke").mkdir(parents=True)
    data = packs[0].read_bytes()
    for cut in (len(data) // 2, len(data) - 4):
        truncated = tmp_path / f"cut-{cut}.tgz"
        truncated.write_bytes(data[:cut])
        assert_refused(lambda: unpack([packs[0], truncated], results, log=quiet([])), results, str(truncated))


def test_a_foreign_tar_is_refused(source, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    foreign = tmp_path / "foreign.tgz"
    with tarfile.open(foreign, "w:gz") as tar:
        tar.add(source / "bench", arcname="bench")
    assert_refused(lambda: unpack([foreign], results, log=quiet([])), results, str(foreign), MANIFEST)
    not_gzip = tmp_path / "notes.tgz"
    not_gzip.write_text("hello")
    assert_refused(lambda: unpack([not_gzip], results, log=quiet([])), results, str(not_gzip))


def test_a_tampered_member_is_refused(packs, tmp_path):
    results = tmp_path / "results"
    results.mkdir()

    def tamper(name, data):
        return data.replace(b'"completed"', b'"diverged "') if name.endswith(".json") else data   # same size

    tampered = rewrite(packs[0], tmp_path / "tampered.tgz", change=tamper)
    assert_refused(lambda: unpack([packs[0], tampered], results, log=quiet([])), results, "checksum mismatch")


def test_a_member_not_in_the_manifest_or_missing_from_the_pack_is_refused(record, packs, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    data = json.dumps(variant(record, 0.07)).encode()
    info = tarfile.TarInfo(f"smoke/basics/{variant(record, 0.07)['id']}.json")
    info.size = len(data)
    extra = rewrite(packs[0], tmp_path / "extra.tgz", extra=[(info, data)])
    assert_refused(lambda: unpack([extra], results, log=quiet([])), results, "not in its manifest")

    def lie(manifest):
        manifest["files"].append(entry("jobs/job-2.json", b"{}"))

    lacking = rewrite(packs[0], tmp_path / "lacking.tgz", manifest_change=lie)
    assert_refused(lambda: unpack([lacking], results, log=quiet([])), results, "jobs/job-2.json")


@pytest.mark.parametrize("name", ["smoke/../../evil.json", "/etc/evil.json", "smoke//basics/x.json",
                                  "smoke/./basics/x.json"])
def test_an_unsafe_path_is_refused(packs, tmp_path, name):
    results = tmp_path / "results"
    results.mkdir()
    data = b'{"kind": "job", "env": {}}'
    info = tarfile.TarInfo(name)
    info.size = len(data)
    bad = rewrite(packs[0], tmp_path / "bad.tgz", manifest_change=lambda m: m["files"].append(entry(name, data)),
                  extra=[(info, data)])
    assert_refused(lambda: unpack([bad], results, log=quiet([])), results, "unsafe path")
    assert not (tmp_path / "evil.json").exists()


def test_links_and_paths_outside_the_layout_are_refused(packs, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    link = tarfile.TarInfo("jobs/link.json")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    linked = rewrite(packs[0], tmp_path / "link.tgz", extra=[(link, None)])
    assert_refused(lambda: unpack([linked], results, log=quiet([])), results, "symlink")

    data = b"#!/bin/sh\n"
    outside = rewrite(packs[0], tmp_path / "outside.tgz",
                      manifest_change=lambda m: m["files"].append(entry("lrlab/evil.py", data)))
    assert_refused(lambda: unpack([outside], results, log=quiet([])), results, "outside the results layout")


def test_a_record_must_be_valid_and_where_it_says(record, packs, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    moved = variant(record, 0.08)
    data = json.dumps(moved).encode()
    name = f"smoke/weight_decay/{moved['id']}.json"   # the record says basics
    info = tarfile.TarInfo(name)
    info.size = len(data)
    misplaced = rewrite(packs[0], tmp_path / "misplaced.tgz",
                        manifest_change=lambda m: m["files"].append(entry(name, data)), extra=[(info, data)])
    assert_refused(lambda: unpack([misplaced], results, log=quiet([])), results, name, "disagrees")

    broken = {**moved, "id": "0" * 16}
    data = json.dumps(broken).encode()
    name = f"smoke/basics/{broken['id']}.json"
    info = tarfile.TarInfo(name)
    info.size = len(data)
    corrupt = rewrite(packs[0], tmp_path / "corrupt.tgz",
                      manifest_change=lambda m: m["files"].append(entry(name, data)), extra=[(info, data)])
    assert_refused(lambda: unpack([corrupt], results, log=quiet([])), results, "corrupt record")


# ----------------------------------------------------------------------------- merging

def test_a_conflicting_record_is_refused_and_nothing_is_written(record, source, packs, tmp_path):
    results = tmp_path / "results"
    Store(results).save({**record, "wall_s": record["wall_s"] + 1})   # the same run, other bytes
    path = Store(results).path("smoke", "basics", record["id"])
    message = assert_refused(lambda: unpack(packs, results, log=quiet([])), results, "conflict", str(path))
    assert len(snapshot(results)) == 1, message


def test_a_checkpoint_whose_record_exists_is_dropped(record, tmp_path):
    box = tmp_path / "box"
    save_checkpoint(box, "smoke", "basics", record["id"])
    checkpoint_pack = pack(box, tmp_path / "out1", log=quiet([]))
    Store(tmp_path / "box2").save(record)
    record_pack = pack(tmp_path / "box2", tmp_path / "out2", log=quiet([]))

    for packs in ([checkpoint_pack[0], record_pack[0]], checkpoint_pack):   # record in the packs; then in results
        results = tmp_path / "results"
        lines = []
        summary = unpack(packs, results, log=lines.append)
        assert summary["checkpoints"] == dict(written=0, skipped=0, dropped=1)
        assert not (results / ".checkpoints").exists()
        assert any(line.startswith("dropped .checkpoints/smoke/basics/") for line in lines)


def test_a_record_that_comes_back_removes_the_checkpoint_left_here(record, tmp_path):
    """The GPU box finished a run whose checkpoint was carried to it: the copy left here is stale."""
    box, results = tmp_path / "box", tmp_path / "results"
    left_here = save_checkpoint(results, "smoke", "basics", record["id"])
    Store(box).save(record)
    lines = []
    unpack(pack(box, tmp_path / "out", log=quiet([])), results, log=lines.append)
    assert (results / "smoke/basics" / f"{record['id']}.json").exists() and not left_here.exists()
    assert any(line.startswith(f"removed {left_here}") for line in lines)


def test_a_newer_checkpoint_replaces_an_older_one(record, tmp_path):
    box, results = tmp_path / "box", tmp_path / "results"
    save_checkpoint(results, "smoke", "basics", record["id"])
    path = save_checkpoint(box, "smoke", "basics", record["id"])
    summary = unpack(pack(box, tmp_path / "out", log=quiet([])), results, log=quiet([]))
    assert summary["checkpoints"]["written"] == 1
    assert (results / ".checkpoints/smoke/basics" / path.name).read_bytes() == path.read_bytes()


def test_a_differing_bench_record_is_a_conflict(source, packs, tmp_path):
    results = tmp_path / "results"
    write_json_atomic(results / "bench" / "nvidia-h100.json", dict(BENCH_RECORD, rows=[{"model": "resnet20"}]))
    assert_refused(lambda: unpack(packs, results, log=quiet([])), results, "conflict", "nvidia-h100.json")


def test_pack_leaves_out_a_checkpoint_of_a_finished_run(record, tmp_path):
    box = tmp_path / "box"
    Store(box).save(record)
    save_checkpoint(box, "smoke", "basics", record["id"])
    lines = []
    packs = pack(box, tmp_path / "out", log=lines.append)
    with tarfile.open(packs[0], "r:gz") as tar:
        assert not any(name.startswith(".checkpoints") for name in tar.getnames())
    assert any(line.startswith(f"left out .checkpoints/smoke/basics/{record['id']}.pt") for line in lines)


# ----------------------------------------------------------------------------- limits

def test_limits_split_into_several_packs_and_leave_out_what_cannot_fit(record, tmp_path):
    box = tmp_path / "box"
    store = Store(box)
    for i in range(30):
        store.save(variant(record, 0.001 * (i + 1)))
    big = save_checkpoint(box, "smoke", "basics", variant(record, 0.5)["id"], numbers=40_000)  # ~160 KB of noise
    max_bytes = 12_000
    lines = []
    packs = pack(box, tmp_path / "out", max_bytes=max_bytes, log=lines.append)
    assert len(packs) > 1
    assert all(p.stat().st_size <= max_bytes for p in packs)
    assert any(line.startswith(f"left out .checkpoints/smoke/basics/{big.name}") and "limit" in line
               for line in lines)
    results = tmp_path / "results"
    summary = unpack(packs, results, log=quiet([]))
    assert summary["records"]["written"] == 30
    assert snapshot(results) == {k: v for k, v in snapshot(box).items() if not k.startswith(".checkpoints")}

    lines = []
    few = pack(box, tmp_path / "few", max_files=1, max_bytes=max_bytes, log=lines.append)
    assert len(few) == 1
    no_room = [line for line in lines if "no room" in line]
    assert no_room and all(line.startswith("left out smoke/basics/") for line in no_room)
    with tarfile.open(few[0], "r:gz") as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())
    assert len(manifest["files"]) + len(no_room) == 30


def test_packs_that_come_out_larger_than_estimated_are_split_again(record, tmp_path, monkeypatch):
    box = tmp_path / "box"
    for i in range(6):   # ~4 KB of noise each: compression cannot rescue the plan
        save_checkpoint(box, "smoke", "basics", variant(record, 0.001 * (i + 1))["id"], numbers=1000)
    measure = lrlab.pack._measure

    def underestimate(*args):
        candidate = measure(*args)
        candidate.estimate //= 4
        return candidate

    monkeypatch.setattr(lrlab.pack, "_measure", underestimate)
    packs = pack(box, tmp_path / "out", max_bytes=12_000, log=quiet([]))
    assert len(packs) > 1 and max(p.stat().st_size for p in packs) <= 12_000
    assert unpack(packs, tmp_path / "results", log=quiet([]))["checkpoints"]["written"] == 6
    assert not list((tmp_path / "out").glob(".*"))   # no temp file left behind


# ----------------------------------------------------------------------------- bad input

def test_bad_arguments_are_one_line_errors(source, packs, tmp_path):
    for call, needle in [
        (lambda: pack(source, tmp_path / "out2", newer_than="yesterday"), "yesterday"),
        (lambda: pack(source, tmp_path / "out2", max_files=0), "max_files"),
        (lambda: pack(tmp_path / "nowhere", tmp_path / "out2"), "nowhere"),
        (lambda: pack(source, packs[0].parent), "lrlab-pack-1.tgz"),
        (lambda: unpack([], tmp_path / "results"), "no packs"),
        (lambda: unpack([tmp_path / "missing.tgz"], tmp_path / "results"), "missing.tgz"),
    ]:
        with pytest.raises(LrlabError, match=needle) as error:
            call()
        assert "\n" not in str(error.value)
    assert not (tmp_path / "results").exists()
