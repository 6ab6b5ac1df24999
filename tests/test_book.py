"""Each chapter executes through papermill at profile=smoke, and the book builds with -W."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from lrlab.book.exercises import page_knobs
from lrlab.notebooks import ROOT, chapters, run_chapters

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory, data_root):
    """A copy of the book whose chapters were executed at profile=smoke, training allowed."""
    book = tmp_path_factory.mktemp("book")
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, book / name)
    shutil.copytree(ROOT / "book", book / "book", ignore=shutil.ignore_patterns("_generated"))
    (book / "lrlab").symlink_to(ROOT / "lrlab")   # the pages show the package's code (literalinclude)
    os.environ.setdefault("LRLAB_DATA", str(data_root))
    # each page with the knobs its exercises turn (every exercise's command runs), two pages at a time
    run_chapters([], "smoke", book / "results", allow_training=True, out_dir=book / "book" / "_generated",
                 log=lambda m: None, knobs=page_knobs, jobs=2)
    return book


def test_every_chapter_executes_at_smoke(smoke_book):
    generated = {p.stem for p in (smoke_book / "book" / "_generated").glob("*.ipynb")}
    assert generated == set(chapters())
    assert not list((smoke_book / "book" / "_generated").glob("*.partial.ipynb"))
    # no cell prints a warning (smoke's single seeds may show nan: no reader sees smoke)
    warnings = {name: [f for f in shown_flaws((smoke_book / "book" / "_generated" / f"{name}.ipynb").read_text())
                       if not f.endswith("shows nan")] for name in sorted(generated)}
    assert {name: said for name, said in warnings.items() if said} == {}


def test_each_page_trades_its_parameters_cell_for_a_rerun_box_with_its_parameters(smoke_book):
    import nbformat
    for name in chapters():
        nb = nbformat.read(smoke_book / "book" / "_generated" / f"{name}.ipynb", as_version=4)
        assert not [c for c in nb.cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
        boxes = [c.source for c in nb.cells if c.cell_type == "markdown" and "Rerun this page" in c.source]
        assert len(boxes) == 1, name
        assert f"lrlab notebooks {name} --profile smoke" in boxes[0]
        assert "-p profile smoke -p results " in boxes[0] and "-p allow_training True" in boxes[0]


def test_every_exercise_shows_the_result_of_the_knob_it_turns(smoke_book):
    import nbformat
    for name in chapters():
        nb = nbformat.read(smoke_book / "book" / "_generated" / f"{name}.ipynb", as_version=4)
        shown = json.dumps([c.get("outputs", []) for c in nb.cells])
        for knob, value in page_knobs(name).items():
            assert f"`{knob} = {value!r}`" in shown, (name, knob)
        if page_knobs(name):   # the rerun box repeats the turned knobs
            box = next(c.source for c in nb.cells if "Rerun this page" in c.source)
            assert all(f" -p {k} " in box for k in page_knobs(name))


def test_no_page_glues_one_name_twice(smoke_book):
    # the prose would show whichever value came last, and a second meaning for a name goes unnoticed
    import collections
    import nbformat
    for name in chapters():
        nb = nbformat.read(smoke_book / "book" / "_generated" / f"{name}.ipynb", as_version=4)
        glued = collections.Counter(o.get("metadata", {}).get("scrapbook", {}).get("name")
                                    for c in nb.cells for o in c.get("outputs", []))
        assert [n for n, k in glued.items() if n and k > 1] == [], name


def test_every_figure_caption_says_where_its_numbers_come_from():
    """A caption names its runs' profile, device and count (a chapter's glued `source` sentence), or
    says the figure trained nothing (computed when the page was built, or a paper's published values)."""
    import re
    for name, path in chapters().items():
        for figure, caption in re.findall(r"```\{glue:figure\} (\w+)\n(.*?)```", path.read_text(), re.S):
            said = " ".join(caption.split()).lower()
            assert (re.search(r"\{glue:md\}`\w*source", said) or "no training runs" in said or "not a training run" in said
                    or "not our runs" in said), (name, figure)


def test_every_chapter_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for name in chapters():
        assert f"book/_generated/{name}" in toc


def test_the_book_builds_without_warnings(smoke_book):
    jb = pathlib.Path(sys.executable).parent / "jupyter-book"   # the venv that runs the tests
    out = subprocess.run([jb, "build", str(smoke_book), "-W", "-n", "--keep-going"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    html = (smoke_book / "_build" / "html" / "book" / "_generated" / "01_basics.html").read_text()
    assert "The schedule gallery" in html and "smoke" in html
    # formulas render offline: MathJax comes with the build, from no CDN
    assert "_static/mathjax/tex-chtml.js" in html and "cdn.jsdelivr.net" not in html
    assert (smoke_book / "_build" / "html" / "_static" / "mathjax" / "tex-chtml.js").is_file()
    # lrlab.book.sphinx_ext: the book's stylesheet, the light theme, each script once (thebe's was twice)
    assert "_static/lrlab.css" in html and 'data-default-mode="light"' in html
    assert html.count("const THEBE_JS_URL") == 1
    # figures numbered per chapter (Fig. 1.1 in ch. 1), the sidebar's chapter numbers as the prose's "Ch. N"
    assert '<span class="caption-number">Fig. 1.1 </span>' in html and "1. The learning rate, from first" in html


def shown_flaws(page):
    """What a reader would see wrong on an executed page (notebook JSON): 'nan' in a glued value the prose
    shows, or a warning printed by a cell."""
    cells = json.loads(page)["cells"]
    prose = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    shown = (set(re.findall(r"\{glue(?::text|:md)?\}`(\w+)", prose))          # in a sentence
             | set(re.findall(r"```\{glue(?::md)?\} (\w+)", prose)))            # a block of its own
    flaws = []
    for output in (o for c in cells for o in c.get("outputs", [])):
        if output.get("output_type") == "stream":
            flaws += [line for line in "".join(output["text"]).splitlines() if "Warning" in line]
        name = output.get("metadata", {}).get("scrapbook", {}).get("name")
        texts = ["".join(v) for k, v in output.get("data", {}).items() if "image" not in k]
        if name in shown and any(re.search(r"(?<![\w-])nan(?!\w)", t) for t in texts):
            flaws.append(f"{name} shows nan")
    return flaws


def test_shown_flaws_finds_a_nan_the_prose_shows_and_a_printed_warning():
    def output(name, value):
        return {"output_type": "display_data", "metadata": {"scrapbook": {"name": name}},
                "data": {"application/papermill.record/text/plain": value}}
    page = {"cells": [{"cell_type": "markdown", "source": "Up to {glue:text}`ratio:.1f`, {glue:md}`words`."},
                      {"cell_type": "code", "source": "", "outputs": [
                          output("ratio", "nan"), output("words", "too large a rate gives NaN"),
                          output("unused", "nan"),
                          {"output_type": "stream", "name": "stderr", "text": ["page.py:1: UserWarning: odd\n"]}]}]}
    assert shown_flaws(json.dumps(page)) == ["ratio shows nan", "page.py:1: UserWarning: odd"]


def test_every_chapter_executes_with_the_first_gpu_chunks_beside_quick(tmp_path):
    """The book while GPU work arrives: the committed quick and gpu records, and the rest of every tier-1
    chunk at gpu made up (tests/fabricate.py), about a third of those runs diverged, as real ones do at
    the grids' large rates. Each chapter runs at "auto", says what it mixes and shows no nan."""
    import hashlib
    from fabricate import fake_runs
    from lrlab import experiments

    def diverges(config):   # a fixed third of the runs, whatever their rate: every part meets some
        return int(hashlib.sha256(f"book{config.id}".encode()).hexdigest()[:8], 16) < 0.3 * 16 ** 8
    results = tmp_path / "results"
    for profile in ("quick", "gpu"):
        shutil.copytree(ROOT / "results" / profile, results / profile)
    for name in experiments.EXPERIMENTS:
        for chunk in experiments.chunks(name, "gpu"):
            if chunk.tier == 1:
                missing = [c for c in chunk.runs if not (results / "gpu" / name / f"{c.id}.json").exists()]
                fake_runs(results, name, "gpu", missing, diverges)
    names = [n for n in chapters() if not n.startswith("90")]
    run_chapters(names, "auto", results, out_dir=tmp_path / "out", log=lambda m: None, jobs=2)
    pages = {n: (tmp_path / "out" / f"{n}.ipynb").read_text() for n in names}
    # the range tests at gpu, the sweeps at quick: the sweeps' figure reads the quick range test, and says so
    assert "This page shows each part from the best profile" in pages["02_super_convergence"]
    assert "not the one above, which tests another setup" in pages["02_super_convergence"]
    assert "ResNet-20" in pages["02_super_convergence"] and "90.42" in pages["02_super_convergence"]
    assert "the batch sweep (8 of 16 runs)" in pages["03_linear_scaling"]
    assert "one seed per batch so far" in pages["03_linear_scaling"]
    assert "the MLP sweep (72 of 176 runs)" in pages["05_lr_vs_width"]
    assert "(gpu)" in pages["00_claims"] and "(quick)" in pages["00_claims"]   # the scorecard follows the records
    for name, page in pages.items():
        if name != "00_claims":   # the scorecard names profiles; its chapters name the devices
            assert "NVIDIA H100 80GB HBM3" in page or "NVIDIA H200" in page, name
        # a part with one seed so far reads as such, never as a 'nan' spread
        assert shown_flaws(page) == [], name
