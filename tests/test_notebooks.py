"""`lrlab notebooks`: pages side by side, and the order in which pages that train may run."""
import pytest

import lrlab.notebooks
from lrlab.errors import LrlabError
from lrlab.notebooks import _waves, default_jobs, run_chapters

HEAD = ("---\njupytext:\n  formats: md:myst\n  text_representation:\n    extension: .md\n"
        "    format_name: myst\nkernelspec:\n  display_name: Python 3\n  language: python\n"
        "  name: python3\n---\n\n")
PARAMETERS = ('```{code-cell} ipython3\n:tags: [parameters]\nprofile = "auto"\nresults = "../results"\n'
              "allow_training = False\n```\n\n")


def page(code):
    return HEAD + PARAMETERS + "```{code-cell} ipython3\n" + code + "\n```\n"


def test_pages_run_side_by_side_and_a_failing_one_is_named_once_the_others_have_ended(tmp_path, monkeypatch):
    pages, out = tmp_path / "notebooks", tmp_path / "out"
    pages.mkdir()
    # page 01 ends only once page 02 has started: with jobs=2 both run at once (with 1 it would time out)
    (pages / "01_waits.md").write_text(page(
        "import pathlib, time\nfor _ in range(600):\n    if pathlib.Path('02.started').exists():\n        break\n"
        "    time.sleep(0.1)\nelse:\n    raise SystemExit('page 02 never ran beside me')\nprint('saw 02')"))
    # each in notebooks/, where the book's relative results path points from (papermill moves its
    # whole process there while a page runs: pages side by side need a process each)
    (pages / "02_starts.md").write_text(page(f"import os, pathlib\nassert os.getcwd() == {str(pages)!r}\n"
                                             "pathlib.Path('02.started').touch()"))
    (pages / "03_fails.md").write_text(page("x = 1\nraise ValueError('no such thing')"))
    monkeypatch.setattr(lrlab.notebooks, "NOTEBOOKS", pages)
    # the one line names the page's line that raised
    with pytest.raises(LrlabError, match="chapter 03_fails failed at `raise ValueError.*`: .*no such thing") as err:
        run_chapters([], "smoke", tmp_path / "results", out_dir=out, log=lambda m: None, jobs=2)
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in out.iterdir()) == ["01_waits.ipynb", "02_starts.ipynb"]   # no partial page
    assert "saw 02" in (out / "01_waits.ipynb").read_text()


def test_pages_that_train_their_chapter_run_before_the_pages_that_read_every_chapter():
    names = ["00_claims", "00_intro", "01_basics", "02_super_convergence", "90_reproduction_cost"]
    assert _waves(names, allow_training=False) == [names]
    assert _waves(names, allow_training=True) == [["01_basics", "02_super_convergence"],
                                                  ["00_claims", "00_intro", "90_reproduction_cost"]]
    assert _waves(["00_claims"], allow_training=True) == [["00_claims"]]
    assert default_jobs(allow_training=True) == 1 and 1 <= default_jobs(allow_training=False) <= 4


def test_jobs_must_be_a_whole_number_of_pages(tmp_path):
    for jobs in (0, 1.5):
        with pytest.raises(LrlabError, match="jobs"):
            run_chapters(["01_basics"], "smoke", tmp_path / "results", out_dir=tmp_path / "out", jobs=jobs)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", sorted(lrlab.notebooks.chapters()))
def test_no_cell_of_a_page_rebinds_a_name_an_earlier_cell_bound(name):
    # a later section that reuses a name (wruns, wsd) silently hands its own values to every cell after it,
    # such as the exercises that read the earlier section's: each name is bound by one cell only
    import ast

    import jupytext
    bound = {}
    for index, cell in enumerate(jupytext.read(lrlab.notebooks.chapters()[name]).cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.startswith("%")))
        targets = [t for node in tree.body for t in (node.targets if isinstance(node, ast.Assign) else
                                                     [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign,
                                                                                         ast.For)) else [])]
        names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)} - {"_"}
        again = {n: bound[n] for n in names if n in bound}
        assert not again, f"{name}: cell {index} rebinds {again} (name: the cell that bound it first)"
        bound.update(dict.fromkeys(names, index))
