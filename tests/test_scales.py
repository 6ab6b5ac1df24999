"""Which scale shows what: a claim read from GPU records is set beside the same rule read from the
quick (CPU) records, and where the two words differ the chapter's takeaway and the scorecard say
what each scale shows."""
import pathlib
from dataclasses import replace

import pytest

from fabricate import fake_runs
from lrlab import experiments
from lrlab.book import claims, open_chapter, scales
from lrlab.experiments import basics
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, Verdict

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results"


def v(word, number, profile):
    return Verdict(word, f"{word}.", "a rule", number, profile)


def test_the_committed_gpu_basics_verdicts_are_set_beside_the_quick_ones_and_agree():
    chapter = open_chapter("basics", "auto", RESULTS)
    assert chapter.profile_of("lr_sweep") == "gpu"
    at_quick = scales.quick_verdicts(chapter)
    assert at_quick and {q.profile for q in at_quick.values()} == {"quick"}
    pairs = scales.readings(basics.verdicts(chapter), at_quick)
    assert set(pairs) == {"extremes", "momentum_step", "stuck", "fast_divergence"}
    assert all(r.agree for r in pairs.values())
    text = claims.takeaway_markdown("basics", basics.verdicts(chapter), at_quick)
    assert "**Both scales agree**" in text and "as the GPU runs on all 4 claims" in text


def test_a_page_at_quick_alone_or_without_its_quick_records_has_nothing_to_set_beside(tmp_path):
    quick = open_chapter("basics", "quick", RESULTS)
    assert scales.quick_chapter(quick) is None and scales.quick_verdicts(quick) == {}
    assert "scale" not in claims.takeaway_markdown("basics", basics.verdicts(quick), {}).split("rule).")[-1]
    fake_runs(tmp_path, "linear_scaling", "gpu", experiments.runs("linear_scaling", "gpu"))
    gpu_only = open_chapter("linear_scaling", "gpu", tmp_path)   # no quick record in this store
    assert scales.quick_chapter(gpu_only) is None and scales.quick_verdicts(gpu_only) == {}


def test_readings_pair_only_verdicts_read_beyond_quick_with_a_quick_reading():
    shown = {"a": v(CONFIRMED, "1", "gpu"), "b": v(CONFIRMED, "2", "quick"), "c": v(CONFIRMED, "3", "gpu + quick"),
             "d": v(CONFIRMED, "4", "gpu")}
    at_quick = {"a": v(CONFIRMED, "1q", "quick"), "b": v(CONTRADICTED, "2q", "quick"),
                "c": v(NOT_RESOLVED, "3q", "quick"), "d": v(CONTRADICTED, "4q", "gpu")}   # d: not a quick reading
    pairs = scales.readings(shown, at_quick)
    assert set(pairs) == {"a", "c"} and pairs["a"].agree and not pairs["c"].agree
    # smoke is a smaller scale than quick, not a larger one: nothing of it is set beside quick
    assert [scales.shows_beyond_quick(p) for p in ("gpu", "full", "quick + gpu", "quick", "smoke", "")] == [
        True, True, True, False, False, False]
    assert scales.readings({"a": v(CONFIRMED, "1", "smoke")}, {"a": v(CONTRADICTED, "1q", "quick")}) == {}


@pytest.mark.parametrize("shown, quick, says", [
    (CONFIRMED, CONTRADICTED, "the GPU runs confirm it (8x), the quick (CPU) runs contradict it (2x). The claim "
                              "depends on the scale; the page scores the larger one, nearer the paper's protocol."),
    (CONTRADICTED, NOT_RESOLVED, "the quick (CPU) runs could not resolve it (2x); the GPU runs contradict it (8x)."),
    (NOT_RESOLVED, CONFIRMED, "the quick (CPU) runs confirm it (2x); the GPU runs do not resolve it (8x), so at the "
                              "larger scale it stays open."),
])
def test_the_sentence_says_what_each_scale_shows(shown, quick, says):
    reading = scales.Reading("x", v(shown, "8x", "gpu"), v(quick, "2x", "quick"))
    assert scales.scale_sentence("a claim", reading) == f"*a claim*: {says}"


def test_the_sentence_names_every_profile_a_mixed_verdict_read():
    reading = scales.Reading("x", v(CONFIRMED, "8x", "gpu + quick"), v(NOT_RESOLVED, "2x", "quick"))
    assert "the GPU + quick (CPU) runs confirm it" in scales.scale_sentence("a claim", reading)


def test_the_takeaway_line_is_empty_without_pairs_and_lists_only_the_claims_whose_words_differ():
    assert scales.takeaway_line({}, {}) == ""
    pairs = {"a": scales.Reading("a", v(CONFIRMED, "1", "gpu"), v(CONFIRMED, "1q", "quick")),
             "b": scales.Reading("b", v(CONFIRMED, "2", "gpu"), v(NOT_RESOLVED, "2q", "quick"))}
    line = scales.takeaway_line({"a": "claim A", "b": "claim B"}, pairs)
    assert line.startswith("**Which scale shows what**: *claim B*:") and "claim A" not in line
    one = scales.takeaway_line({"a": "claim A"}, {"a": pairs["a"]})
    assert one.endswith("as the GPU runs on the claim read at both.")


@pytest.fixture
def scale_dependent_basics(monkeypatch):
    """basics' rules as they are, but "too large diverges" contradicted wherever the sweep is at GPU: the
    committed records then give the two scales different words for claim 1."""
    real = basics.verdicts

    def verdicts(chapter):
        out = real(chapter)
        if chapter.profile_of("lr_sweep") != "quick":
            out["extremes"] = replace(out["extremes"], word=CONTRADICTED)
        return out
    monkeypatch.setattr(basics, "verdicts", verdicts)


def test_where_the_scales_differ_the_scorecard_and_the_takeaway_say_what_each_shows(scale_dependent_basics):
    card = claims.scorecard(RESULTS)
    one = card.set_index("key").loc["1"]
    assert (one.word, one.quick_word, one.profile) == (CONTRADICTED, CONFIRMED, "gpu")
    assert one.scales.startswith("*too large diverges, too small crawls*: the GPU runs contradict it")
    agreeing = card.set_index("key").loc["2"]
    assert agreeing.quick_word == agreeing.word and agreeing.scales == ""
    quick_only = card.set_index("key").loc["11"]
    assert quick_only.profile == "quick" and quick_only.quick_word == ""
    table = claims.table_markdown(card, ("Ch. 1",))
    assert "(gpu); at quick: **confirmed**, diverges from 0.707" in table and "(gpu; quick agrees)" in table
    section = scales.scorecard_markdown(card)
    assert "4 claims are read from GPU records" in section and "same verdict on 3 of 4" in section
    assert "- **1** *too large diverges" in section

    chapter = open_chapter("basics", "auto", RESULTS)
    text = claims.takeaway_markdown("basics", basics.verdicts(chapter), scales.quick_verdicts(chapter))
    assert "**Which scale shows what**: *too large diverges, too small crawls*" in text


def test_the_scorecard_section_when_nothing_is_read_beyond_quick():
    card = claims.scorecard(RESULTS, "quick")
    assert (card.quick_word == "").all() and (card.scales == "").all()
    assert "no claim is read at GPU scale yet" in scales.scorecard_markdown(card)


def test_a_paper_table_sets_the_quick_table_beside_it_row_by_row():
    import pandas as pd
    from lrlab.verdict import NO_RULE
    shown = pd.DataFrame({"claim": ["same records", "same word", "other word", "no rule", "gpu only"],
                          "ours": ["1.0", "2.0 (gpu)", "3.0 (gpu)", "4.0 (gpu)", "5.0 (gpu)"],
                          "verdict": [CONFIRMED, CONFIRMED, CONFIRMED, NO_RULE, CONFIRMED]})
    quick = pd.DataFrame({"claim": ["same records", "same word", "other word", "no rule"],
                          "ours": ["1.0", "2.5 (quick)", "3.5 (quick)", "4.5 (quick)"],
                          "verdict": [CONFIRMED, CONFIRMED, NOT_RESOLVED, NO_RULE]})
    table = scales.beside_quick(shown, quick, "claim")
    assert list(table[scales.QUICK_COLUMN]) == ["", "agree", "not resolved (3.5 (quick))", "4.5 (quick)", ""]
    assert "agree" in scales.quick_column_note(table) and "{ref}`claims-scales`" in scales.quick_column_note(table)
    # nothing to set beside: the table as it was, and no note under it
    assert scales.beside_quick(shown, None, "claim") is shown
    alone = scales.beside_quick(shown.iloc[:1], quick, "claim")
    assert scales.QUICK_COLUMN not in alone and scales.quick_column_note(alone) == ""


def test_a_chapters_paper_table_built_from_gpu_records_gets_the_quick_one_beside_it(tmp_path):
    from lrlab.experiments import linear_scaling as ls
    for profile in ("quick", "gpu"):
        fake_runs(tmp_path, "linear_scaling", profile, experiments.runs("linear_scaling", profile))
    chapter = open_chapter("linear_scaling", "auto", tmp_path)
    assert chapter.profile_of("batch_sweep") == "gpu"
    key = "k (batch / reference)"
    table = scales.versus_beside_quick(chapter, ls.versus_of, key, "our error (%)").set_index(key)
    at_quick = ls.versus_of(scales.quick_chapter(chapter)).set_index(key)
    # the batches both sweeps share (k = 1 to 32) are set beside the quick ones; the GPU's larger ones are not
    both = [k for k in table.index if k in at_quick.index]
    assert both == ["1", "2", "4", "8", "16", "32"]
    assert all(table[scales.QUICK_COLUMN][both] != "") and all(table[scales.QUICK_COLUMN].drop(both) == "")
    # a page at quick has none
    assert scales.QUICK_COLUMN not in scales.versus_beside_quick(open_chapter("linear_scaling", "quick", tmp_path),
                                                                 ls.versus_of, key, "our error (%)")


@pytest.mark.parametrize("name", ["super_convergence", "linear_scaling", "weight_decay", "lr_vs_width"])
def test_each_chapters_paper_table_is_built_from_a_chapter_alone(name):
    module = experiments.get(name)
    table = module.versus_of(open_chapter(name, "quick", RESULTS))
    assert len(table) and "verdict" in table and scales.QUICK_COLUMN not in table
