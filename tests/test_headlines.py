"""The papers beside ours: every chapter's headline claims, each read by a tested rule from the best
profile recorded, with the source's number and, for GPU-read rows, the quick runs' verdict beside it."""
import pathlib

import pandas as pd

from fabricate import fake_record, fake_runs
from lrlab import experiments
from lrlab.book import headlines, open_chapter, scales
from lrlab.experiments import linear_scaling as ls, super_convergence as sc
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, WORDS

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results"


def test_every_chapter_declares_headlines_whose_verdicts_its_committed_records_read():
    frame = headlines.table(RESULTS)
    assert set(frame.chapter) == {f"Ch. {n}" for n in range(1, 7)}
    assert len(frame) == sum(len(experiments.get(n).HEADLINES) for n in experiments.EXPERIMENTS)
    read = frame[frame.word != ""]
    assert set(read.word) <= set(WORDS) and (read.profile != "").all()
    # only the ResNet-20 pair, declared at the GPU profile alone, waits on its chunk
    assert list(frame[frame.word == ""].claim) == ["the same pair on ResNet-20"]
    table = headlines.markdown(frame)
    assert table.count("\n") == 1 + len(frame)
    assert "23.60 ± 0.12% at 256, 23.74 ± 0.09% at 8k" in table and "{ref}`Ch.\u00a03 <ch-linear-scaling>`" in table
    assert f"*{headlines.PENDING}*" in table
    assert "(gpu; quick agrees) | **confirmed** |" in table   # Ch. 1's momentum ratio, from the GPU records


def test_the_source_numbers_are_the_chapters_own_constants():
    (linear,) = ls.HEADLINES
    assert f"{ls.PAPER_FIG_3[8192][0]:.2f}" in linear.paper and linear.verdict == "linear_rule"
    assert [h.verdict for h in sc.HEADLINES] == ["headline", "first_headline"]


def test_the_gpu_resnet20_pair_gets_its_own_verdict_and_has_no_quick_reading(tmp_path):
    fake_runs(tmp_path, "super_convergence", "quick", experiments.runs("super_convergence", "quick"))
    chunk = next(c for c in experiments.chunks("super_convergence", "gpu") if c.name == "resnet20_headline")
    fake_runs(tmp_path, "super_convergence", "gpu", chunk.runs)
    chapter = open_chapter("super_convergence", "auto", tmp_path)
    verdicts = sc.verdicts(chapter)
    first = verdicts["first_headline"]
    assert first.profile == "gpu" and first.word in WORDS
    assert first.number.endswith(", ResNet-20") and "(10,000 steps, 2 seeds) against" in first.number
    assert verdicts["headline"].profile == "quick" and "ResNet-8" in verdicts["headline"].number
    # the quick profile declares no ResNet-20 pair: nothing to set beside it
    assert "first_headline" not in scales.readings(verdicts, scales.quick_verdicts(chapter))


def _pair(cycle_accs, base_accs=(0.57, 0.58)):
    config = sc.parts("smoke")["headline_one_cycle"][0]
    def record(acc, seed):
        r = fake_record("super_convergence", "smoke", config.replace(seed=seed))
        r["final"]["test_acc"] = acc
        if acc != acc:   # nan: this seed diverged
            r["status"] = "diverged"
        return r
    return [record(a, k) for k, a in enumerate(cycle_accs)], [record(a, k) for k, a in enumerate(base_accs)]


def test_the_headline_rule_needs_two_trained_seeds_and_a_diverged_cycle_reaches_nothing():
    cycle, base = _pair([0.56, 0.575])
    assert sc.headline(cycle, base, 8)[1].word == CONFIRMED
    cycle, base = _pair([0.40, 0.41])
    assert sc.headline(cycle, base, 8)[1].word == CONTRADICTED
    cycle, base = _pair([0.40, float("nan")])   # one seed trained: no spread to read the gap against
    assert sc.headline(cycle, base, 8)[1].word == NOT_RESOLVED
    cycle, base = _pair([float("nan"), float("nan")])
    verdict = sc.headline(cycle, base, 8)[1]
    assert verdict.word == CONTRADICTED and "diverged" in verdict.text


def test_a_row_says_whether_the_quick_runs_agree_or_what_they_say():
    frame = pd.DataFrame([
        dict(chapter="Ch. 4", claim="c", paper="15%", source="s", word=CONFIRMED, number="+14% ± 2", profile="gpu",
             quick_word=CONTRADICTED, quick_number="-0.4% ± 2.0"),
        dict(chapter="Ch. 4", claim="c", paper="15%", source="s", word=CONFIRMED, number="+14% ± 2", profile="gpu",
             quick_word=CONFIRMED, quick_number="+13%"),
        dict(chapter="Ch. 4", claim="c", paper="15%", source="s", word=NOT_RESOLVED, number="+1% ± 9", profile="quick",
             quick_word="", quick_number="")])
    lines = headlines.markdown(frame).splitlines()[2:]
    assert "| +14% ± 2 (gpu); at quick: **contradicted**, -0.4% ± 2.0 | **confirmed** |" in lines[0]
    assert "| +14% ± 2 (gpu; quick agrees) |" in lines[1]
    assert "| +1% ± 9 (quick) | **not resolved** |" in lines[2]


def test_a_chapters_sources_table_sets_the_quick_runs_beside_each_gpu_read_claim():
    from dataclasses import replace
    from lrlab.experiments import basics, rules_of_thumb as rot
    chapter = open_chapter("basics", "auto", RESULTS)
    verdicts, at_quick = basics.verdicts(chapter), scales.quick_verdicts(chapter)
    assert set(basics.SOURCES) == set(verdicts) and set(rot.SOURCES) >= set(rot.verdicts(open_chapter("rules_of_thumb", "auto", RESULTS)))
    table = headlines.beside_sources(verdicts, basics.SOURCES, at_quick).set_index("claim")
    # Ch. 1 is read from the H100 sweep; its quick sweep gives every claim the same word
    assert (table.profile == "gpu").all() and (table[scales.QUICK_COLUMN] == "agree").all()
    assert table.loc["momentum multiplies the step by 1/(1-μ)", "ours"].startswith("best-rate ratio 11.3x")
    # a claim the quick runs read otherwise shows their word and number
    differing = {**at_quick, "stuck": replace(at_quick["stuck"], word=NOT_RESOLVED, number="no run stuck")}
    cell = headlines.beside_sources(verdicts, basics.SOURCES, differing).set_index("claim")[scales.QUICK_COLUMN]
    assert cell["a loss stuck at a constant means too low a rate"] == "not resolved (no run stuck)"
    # a page read at quick has nothing to set beside: no column
    quick = open_chapter("basics", "quick", RESULTS)
    assert scales.QUICK_COLUMN not in headlines.beside_sources(basics.verdicts(quick), basics.SOURCES,
                                                                  scales.quick_verdicts(quick))
