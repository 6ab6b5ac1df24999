"""stage: the git-ignored folder a bare GPU box needs, checked by SHA256SUMS; no network here."""
import importlib.metadata
import pathlib
import shutil
import subprocess
import zipfile

import pytest

import lrlab.env
import lrlab.stage
from lrlab.data import KNOWN_ARCHIVE_SHA256, find_cifar10
from lrlab.errors import LrlabError
from lrlab.stage import (BOX_HAS, WHEELS, is_pure_wheel, requirement_name, stage, verify_staged, wheel_requires,
                         wheels_needed)

ROOT = pathlib.Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="staging needs git")


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A git checkout that ignores .stage/, with one commit."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text(".stage/\n")
    (repo / "README").write_text("lrlab\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first")
    return repo


@pytest.fixture
def small_data(tmp_path):
    """Stand-ins with the real layout: staging copies and hashes, it does not decode."""
    data = tmp_path / "data"
    (data / "cifar-10-batches-py").mkdir(parents=True)
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):
        (data / "cifar-10-batches-py" / name).write_bytes(name.encode() * 10)
    (data / "tinyshakespeare.txt").write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    return data


def listing(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(call, *needles):
    with pytest.raises(LrlabError) as error:
        call()
    message = str(error.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_stage_copies_the_data_with_checksums_and_the_commit(checkout, small_data):
    lines = []
    out = stage(checkout / ".stage", data_root=small_data, wheels=False, log=lines.append)
    assert out == checkout / ".stage"
    assert (out / "data" / "tinyshakespeare.txt").read_bytes() == (small_data / "tinyshakespeare.txt").read_bytes()
    assert find_cifar10(out / "data") == out / "data" / "cifar-10-batches-py"
    assert verify_staged(out / "data") == 7
    sums = (out / "data" / "SHA256SUMS").read_text().splitlines()
    assert sums[0].endswith("  cifar-10-batches-py/data_batch_1") and len(sums[0].split()[0]) == 64
    assert (out / "commit").read_text().strip() == git(checkout, "rev-parse", "HEAD")
    assert not (out / "wheels").exists()
    assert lines[-1].startswith(f"staged {out}")
    assert git(checkout, "status", "--porcelain") == ""   # nothing staged shows up for git


def test_stage_copies_the_real_archive(checkout, data_root):
    out = stage(checkout / ".stage", data_root=data_root, wheels=False, log=lambda line: None)
    sums = dict(reversed(line.split("  ", 1)) for line in (out / "data" / "SHA256SUMS").read_text().splitlines())
    archive = find_cifar10(data_root)
    assert sums[archive.name] == KNOWN_ARCHIVE_SHA256.get(archive.name, sums[archive.name])
    assert "tinyshakespeare.txt" in sums
    assert verify_staged(out / "data") == 2


def test_a_dirty_checkout_says_so(checkout, small_data):
    (checkout / "README").write_text("changed\n")
    out = stage(checkout / ".stage", data_root=small_data, wheels=False, log=lambda line: None)
    assert (out / "commit").read_text().strip() == git(checkout, "rev-parse", "HEAD") + "-dirty"


def test_a_folder_git_would_commit_is_refused(checkout, small_data, tmp_path):
    one_line_error(lambda: stage(checkout / "staged", data_root=small_data, wheels=False), "not git-ignored",
                   ".gitignore")
    assert not (checkout / "staged").exists()
    outside = tmp_path / "elsewhere" / ".stage"
    one_line_error(lambda: stage(outside, data_root=small_data, wheels=False), "git-ignored", str(outside))
    assert not outside.exists()


def test_the_checkout_ignores_the_default_stage_folder():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    assert subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", ".stage/commit"]).returncode == 0


def test_missing_data_is_a_one_line_error(checkout, small_data, tmp_path):
    (small_data / "tinyshakespeare.txt").unlink()
    one_line_error(lambda: stage(checkout / ".stage", data_root=small_data, wheels=False), "Tiny Shakespeare")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(lambda: stage(checkout / ".stage", data_root=empty, wheels=False), "no CIFAR-10", str(empty))
    assert not (checkout / ".stage").exists()


def test_a_failed_restage_leaves_the_old_stage_as_it_was(checkout, small_data, monkeypatch):
    out = stage(checkout / ".stage", data_root=small_data, wheels=False, log=lambda line: None)
    (out / "wheels").mkdir()
    (out / "wheels" / "mup-1.0.0-py3-none-any.whl").write_bytes(b"a wheel")
    before = listing(out)

    def offline(dest, log):
        raise LrlabError("cannot fetch a wheel of mup==1.0.0: no network")

    monkeypatch.setattr(lrlab.stage, "fetch_wheels", offline)
    one_line_error(lambda: stage(out, data_root=small_data, wheels=True), "no network")
    assert listing(out) == before
    assert sorted(p.name for p in checkout.iterdir()) == [".git", ".gitignore", ".stage", "README"]

    lines = []   # without wheels, a restage keeps those staged before
    stage(out, data_root=small_data, wheels=False, log=lines.append)
    assert (out / "wheels" / "mup-1.0.0-py3-none-any.whl").read_bytes() == b"a wheel"
    assert any("kept the wheels" in line for line in lines)


def test_verify_staged_names_a_missing_or_changed_file(checkout, small_data):
    data = stage(checkout / ".stage", data_root=small_data, wheels=False, log=lambda line: None) / "data"
    (data / "tinyshakespeare.txt").write_text("Second Citizen\n")
    one_line_error(lambda: verify_staged(data), "checksum mismatch", "tinyshakespeare.txt")
    (data / "tinyshakespeare.txt").unlink()
    one_line_error(lambda: verify_staged(data), "missing", "tinyshakespeare.txt")
    (data / "SHA256SUMS").unlink()
    one_line_error(lambda: verify_staged(data), "SHA256SUMS")


# ----------------------------------------------------------------------------- wheels, without downloading

# The Requires-Dist lines of the three wheels' METADATA, as published.
PUBLISHED_REQUIRES = {
    "mup": ["numpy", "pandas", "torch", "torchvision", "seaborn", "tqdm", "pyyaml"],
    "torch-lr-finder": ["matplotlib", "numpy", "torch>=0.4.1", "tqdm", "packaging", 'pytest; extra == "dev"',
                        'torchvision; extra == "dev"', 'ipywidgets; extra == "dev"', 'pytest-mock; extra == "tests"'],
    "seaborn": ["numpy>=1.20,!=1.24.0", "pandas>=1.2", "matplotlib>=3.4,!=3.6.1", 'pytest ; extra == "dev"',
                'scipy>=1.7 ; extra == "stats"', 'statsmodels>=0.12 ; extra == "stats"'],
}
EXPECTED = {"mup": "1.0.0", "torch-lr-finder": "0.2.2", "seaborn": "0.13.2"}


def test_the_wheels_are_mup_torch_lr_finder_and_seaborn():
    assert wheels_needed(lambda name, version: PUBLISHED_REQUIRES[name]) == EXPECTED


def test_the_wheel_list_agrees_with_the_installed_metadata():
    try:
        requires = {name: importlib.metadata.distribution(name).requires or [] for name in EXPECTED}
    except importlib.metadata.PackageNotFoundError as e:
        pytest.skip(f"{e} is not installed here")
    assert wheels_needed(lambda name, version: requires[name]) == EXPECTED


def test_a_dependency_without_a_pinned_version_is_a_one_line_error():
    requires = {**PUBLISHED_REQUIRES, "mup": PUBLISHED_REQUIRES["mup"] + ["tabulate>=0.9"]}
    one_line_error(lambda: wheels_needed(lambda name, version: requires[name]), "tabulate", "DEPENDENCY_PINS")


def test_requirement_names_skip_extras_and_normalize():
    assert requirement_name("Torch_LR.Finder>=0.2") == "torch-lr-finder"
    assert requirement_name('pytest ; extra == "dev"') is None
    assert requirement_name('tomli; python_version < "3.11"') == "tomli"
    assert {"torch", "numpy", "pandas", "matplotlib", "torchvision", "tqdm", "pillow", "pyyaml"} <= BOX_HAS
    assert set(WHEELS) == {"mup", "torch-lr-finder"}


def test_wheel_metadata_and_tags_are_read_from_the_file(tmp_path):
    wheel = tmp_path / "seaborn-0.13.2-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("seaborn/__init__.py", "")
        z.writestr("seaborn-0.13.2.dist-info/METADATA",
                   "Metadata-Version: 2.1\nName: seaborn\nVersion: 0.13.2\nRequires-Dist: numpy>=1.20\n"
                   "Requires-Dist: pytest ; extra == \"dev\"\n\nStatistical data visualization\n")
    assert wheel_requires(wheel) == ["numpy>=1.20", 'pytest ; extra == "dev"']
    assert is_pure_wheel(wheel.name) and is_pure_wheel("mup-1.0.0-py3-none-any.whl")
    assert not is_pure_wheel("numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl")


# ----------------------------------------------------------------------------- the commit, without .git

def test_git_commit_falls_back_to_the_staged_commit(tmp_path, monkeypatch):
    no_git = subprocess.CompletedProcess([], 128, stdout="", stderr="fatal: not a git repository")
    monkeypatch.setattr(lrlab.env.subprocess, "run", lambda *args, **kwargs: no_git)
    monkeypatch.delenv("LRLAB_GIT_COMMIT", raising=False)
    monkeypatch.setenv("LRLAB_STAGE", str(tmp_path / "stage"))
    assert lrlab.env.git_commit() == "unknown"
    (tmp_path / "stage").mkdir()
    (tmp_path / "stage" / "commit").write_text("0123abcd-dirty\n")
    assert lrlab.env.git_commit() == "0123abcd-dirty"
    monkeypatch.setenv("LRLAB_GIT_COMMIT", "feedbeef")
    assert lrlab.env.git_commit() == "feedbeef"
