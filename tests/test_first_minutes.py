"""A newcomer's first ten minutes on a fresh clone of an offline machine: the data found as the tests
find it, a failed download that does not suggest itself again, quiet builds, smoke runs kept out of
what the book counts, a pipe closed early."""
import subprocess
import sys

import pytest

import lrlab.data.paths as paths
from lrlab.errors import LrlabError


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty stand-ins for ~/.cache/lrlab and ../shared/data, and no $LRLAB_DATA."""
    downloads, shared = tmp_path / "cache", tmp_path / "shared"
    downloads.mkdir()
    shared.mkdir()
    monkeypatch.setattr(paths, "DOWNLOADS", downloads)
    monkeypatch.setattr(paths, "BESIDE_CHECKOUT", shared)
    monkeypatch.delenv("LRLAB_DATA", raising=False)
    return downloads, shared


def test_one_lookup_order_for_data(places, tmp_path, monkeypatch):
    downloads, shared = places
    assert paths.data_root() == downloads                     # nothing anywhere: where a download goes
    (downloads / "decoded").mkdir()                          # a decoded cache alone is not data
    (shared / "cifar10-jpeg.tar.xz").write_bytes(b"")
    assert paths.data_root() == shared                        # the offline copies beside the checkout
    (downloads / "cifar-10-batches-py").mkdir()
    assert paths.data_root() == shared                        # an empty folder is not data
    (downloads / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"")
    assert paths.data_root() == downloads                     # a download wins over them
    monkeypatch.setenv("LRLAB_DATA", str(tmp_path / "mine"))
    assert paths.data_root() == tmp_path / "mine"             # $LRLAB_DATA over both
    assert paths.data_root(tmp_path / "given") == tmp_path / "given"   # --data over everything


def test_the_tests_find_data_where_lrlab_does(data_root):
    assert data_root == paths.data_root()


def test_a_download_without_network_says_so_and_does_not_suggest_itself(places, monkeypatch):
    torchvision = pytest.importorskip("torchvision")
    from lrlab.data import load_cifar10

    def offline(*args, **kwargs):
        raise OSError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(LrlabError) as e:
        load_cifar10(download=True)
    message = str(e.value)
    assert "no network" in message and "--download" not in message and "LRLAB_DATA" in message


def test_missing_data_names_where_it_looked(places):
    from lrlab.data import load_cifar10
    with pytest.raises(LrlabError) as e:
        load_cifar10()
    assert "$LRLAB_DATA" in str(e.value) and "shared/data" in str(e.value)


def test_a_gpu_jobs_checkpoints_are_committed_and_the_cpus_are_not():
    """A later session's checkout resumes a GPU run in flight only if its checkpoint was committed."""
    from lrlab.notebooks import ROOT

    def ignored(path):
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0
    assert not ignored("results/.checkpoints/gpu/linear_scaling/8ab3a8381e0796b7.pt")
    assert not ignored("results/.checkpoints/full/super_convergence/x.pt")
    assert ignored("results/.checkpoints/quick/rules_of_thumb/x.pt") and ignored("results/.checkpoints/smoke/x/y.pt")
    assert ignored("results/.checkpoints/gpu/linear_scaling/x.pt.tmp")   # a write cut short never lands


def test_smoke_runs_are_ignored_by_git_and_by_the_cost_page(tmp_path):
    from fabricate import fake_record

    from lrlab import experiments
    from lrlab.book.reproduction_cost import run_costs
    from lrlab.notebooks import ROOT
    from lrlab.results import Store
    ignored = subprocess.run(["git", "check-ignore", "-q", "results/smoke/basics/x.json"], cwd=ROOT)
    assert ignored.returncode == 0
    store = Store(tmp_path)
    store.save(fake_record("basics", "smoke", experiments.runs("basics", "smoke")[0]))
    store.save(fake_record("basics", "quick", experiments.runs("basics", "quick")[0]))
    runs, cost = run_costs(tmp_path)
    assert list(runs.profile) == ["quick"] and list(cost.profile) == ["quick"]


def test_a_page_runs_without_the_unencrypted_tcp_warning(tmp_path, capfd):
    from lrlab.notebooks import run_notebook
    page = tmp_path / "99_tiny.md"
    page.write_text("---\njupytext:\n  formats: md:myst\n  text_representation:\n    extension: .md\n"
                    "    format_name: myst\nkernelspec:\n  display_name: Python 3\n  language: python\n"
                    "  name: python3\n---\n\n# A page\n\n```{code-cell} ipython3\nprint(6 * 7)\n```\n")
    out = run_notebook(page, out_dir=tmp_path / "out")
    assert "42" in out.read_text()
    assert "without encryption" not in capfd.readouterr().err


def test_status_into_a_closed_pipe_ends_quietly():
    shell = f"{sys.executable} -m lrlab status | head -1"
    out = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr and out.stdout.startswith("experiment")
