"""The claims scorecard: the articles quoted verbatim, every claim answered by a rule or marked
untested, and the rules of thumb (near-optimal LR bands) and the chapters' claim rules on made-up data."""
import pathlib

import numpy as np
import pandas as pd
import pytest

from lrlab import near_best as thumb
from lrlab.book import claims
from lrlab.experiments import basics, linear_scaling as ls, lr_vs_width as width, super_convergence as sc
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED, UNTESTED

ROOT = pathlib.Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed articles are not on this machine")
def test_every_quote_is_verbatim_from_its_article():
    for claim in claims.CLAIMS:
        text = next(SEEDS.glob(f"{claim.article}_*.txt")).read_text(encoding="utf-8")
        for fragment in claim.quote.split(" … "):
            assert fragment in text, (claim.key, fragment)


def test_every_claim_names_a_verdict_a_rule_of_thumb_or_what_would_test_it():
    keys = [c.key for c in claims.CLAIMS]
    assert len(keys) == len(set(keys))
    for c in claims.CLAIMS:
        assert c.article in claims.ARTICLES
        if isinstance(c.test, tuple):
            assert c.test[0] in claims.CHAPTER_WORDS and c.where
        elif c.where:
            assert c.test in claims.RULES_OF_THUMB


def test_the_scorecard_of_the_committed_records_answers_every_tested_claim():
    card = claims.scorecard(ROOT / "results")
    assert len(card) == len(claims.CLAIMS)
    assert set(card.word) <= set(claims.SCORE_WORDS)
    tested = card[card.section != ""]
    assert (tested.word != UNTESTED).all() and (tested.number != "").all() and (tested.profile != "").all()
    assert sum(claims.counts(card).values()) == len(card)
    table = claims.table_markdown(card, ("Ch. 1",))
    assert table.count("\n") == 1 + (card.tested_by == "Ch. 1").sum() and "{ref}`Ch. 1 <basics-network>`" in table



def test_the_landing_tally_counts_each_claim_once_by_chapter_in_book_order_and_links_each_chapter():
    card = pd.DataFrame(dict(word=[CONFIRMED, CONTRADICTED, UNTESTED, NOT_RESOLVED, CONFIRMED],
                             tested_by=["Ch. 2", "Ch. 1", "planned: a pair of runs", "Ch. 4, 5", "Ch. 2"]))
    tally = claims.by_chapter(card)
    assert list(tally.index) == ["Ch. 1", "Ch. 2", "Ch. 4, 5", UNTESTED]
    assert list(tally.columns) == list(claims.SCORE_WORDS) and tally.to_numpy().sum() == len(card)
    assert tally.loc["Ch. 2", CONFIRMED] == 2 and tally.loc[UNTESTED, UNTESTED] == 1
    table = claims.by_chapter_markdown(tally)
    assert "| Ch. 1: {ref}`ch-basics` |  | 1 |  |  |" in table
    assert "{ref}`4 <ch-weight-decay>` and {ref}`5 <ch-width>`" in table and table.count("\n") == 1 + len(tally)
    assert claims.counts_words(card).endswith("**1 not resolved** at the scale of our records, **1 untested**.")
    tested = card[card.word != UNTESTED]
    assert claims.counts_words(tested).endswith("at the scale of our records, all tested.")
    assert claims.untested_markdown(tested) == "None: each of the 4 claims is tested."


# -- the rules of thumb

def band(lo, hi, best, lo_open=False, hi_open=False, what="sweep"):
    return thumb.Band(lo, hi, best, 1.0, lo_open, hi_open, 0.5, what)


def test_the_band_holds_the_rates_within_the_margin_of_the_best_and_never_a_diverged_one():
    b = thumb.near_best_band([-4, -3, -2, -1, 0], [3.0, 2.2, 2.0, 2.4, np.nan], 0.3)
    assert (b.lo, b.hi, b.best, b.step) == (-3, -2, -2, 1) and not b.lo_open and not b.hi_open
    edge = thumb.near_best_band([-4, -3, -2], [1.0, 1.1, 3.0], 0.3)
    assert edge.lo_open and not edge.hi_open
    assert thumb.near_best_band([-2, -1], [np.nan, np.nan], 0.3) is None
    assert thumb.near_best_band([-2, -1], [1.0, 2.0], float("nan")) is None


def test_on_a_grid_finer_near_the_best_each_end_of_the_band_is_known_to_half_its_own_step_out():
    b = thumb.near_best_band([-9, -8, -7.5, -7, -6.5, -6, -5], [3.0, 2.5, 2.1, 2.0, 2.1, 2.4, 3.0], 0.15)
    assert (b.lo, b.hi, b.best, b.step) == (-7.5, -6.5, -7, 0.5) and b.reach() == (-7.75, -6.25)
    wide = thumb.near_best_band([-9, -8, -7.5, -7, -6.5, -6, -5], [3.0, 2.1, 2.1, 2.0, 2.1, 2.1, 3.0], 0.15)
    assert wide.reach() == (-8.5, -5.5)   # one-octave steps out of the band on both sides
    assert thumb.rate_verdict([b], 2 ** -6.2, "x").word == CONTRADICTED   # half an octave would have held it
    assert thumb.rate_verdict([wide], 2 ** -5.6, "x").word == CONFIRMED


def test_a_rate_is_judged_against_the_band_with_half_a_step_of_tolerance_and_open_edges():
    b = band(-6, -4, -5)
    assert thumb.rate_verdict([b], 2 ** -6.4, "x").word == CONFIRMED
    assert thumb.rate_verdict([b], 2 ** -8, "x").word == CONTRADICTED
    assert thumb.rate_verdict([band(-6, -4, -5, lo_open=True)], 2 ** -8, "x").word == NOT_RESOLVED
    two = thumb.rate_verdict([b, band(-9, -8, -8, what="other")], 2 ** -5, "x")
    assert two.word == CONTRADICTED          # in one band, above the other: the sweep that decides is named
    assert two.number == "sweep best 0.031, 0.03125 in the band; other best 0.0039, 0.03125 above the band"
    assert "in every sweep" in two.rule


def test_a_claimed_range_must_overlap_every_band():
    assert thumb.range_verdict([band(-6, -4, -5)], 2 ** -4, 2 ** -1, "x").word == CONFIRMED
    below = thumb.range_verdict([band(-6, -4, -5)], 2 ** -2, 2 ** -1, "x")
    assert below.word == CONTRADICTED and below.number == "sweep best 0.031, band lies below the range"
    assert thumb.range_verdict([band(-6, -4, -5, hi_open=True)], 2 ** -2, 2 ** -1, "x").word == NOT_RESOLVED


def test_a_ratio_of_best_rates_is_read_within_what_the_two_bands_allow():
    sgd, adam = band(-3, -2, -3), band(-7, -6, -7)   # 8 to 32 apart, widened by half a step at each end
    v = thumb.ratio_verdict(sgd, adam, 10.0, "x")
    assert v.word == CONFIRMED and "16x" in v.number
    assert thumb.ratio_verdict(sgd, adam, 200.0, "x").word == CONTRADICTED
    assert thumb.ratio_verdict(band(-3, -2, -3, hi_open=True), adam, 200.0, "x").word == NOT_RESOLVED


def test_a_claimed_range_of_ratios_is_confirmed_by_the_best_rates_own_ratio_and_refuted_by_the_bands():
    adam = band(-8, -7, -7)
    inside = thumb.ratio_range_verdict(adam, band(-10, -9, -9), 3, 10, "x")     # 4x; bands allow 1 to 16
    assert inside.word == CONFIRMED and inside.number == "4x (bands allow 1 to 16 times)"
    assert "4 times apart, in the claimed 3 to 10" in inside.text
    level = thumb.ratio_range_verdict(adam, band(-8, -7, -7), 3, 10, "x")       # 1x, yet the bands allow up to 4
    assert level.word == NOT_RESOLVED and "outside the claimed" in level.text
    assert thumb.ratio_range_verdict(adam, band(-6, -5, -5), 3, 10, "x").word == CONTRADICTED   # at most 1x
    assert thumb.ratio_range_verdict(adam, band(-14, -13, -14), 3, 10, "x").word == CONTRADICTED  # at least 23x
    # an open end leaves the ratio unbounded on that side: 4x then confirms nothing
    open_end = thumb.ratio_range_verdict(adam, band(-10, -9, -9, lo_open=True), 3, 10, "x")
    assert open_end.word == NOT_RESOLVED and "at least 1 times" in open_end.text


def test_a_factor_of_two_is_enough_only_where_both_neighbours_of_the_best_stay_in_the_band():
    wide, narrow = band(-7, -3, -5, what="wide"), band(-5, -5, -5, what="narrow")
    assert thumb.factor_two_verdict([wide]).word == CONFIRMED
    v = thumb.factor_two_verdict([wide, narrow])
    assert v.word == CONTRADICTED and "costs more than that for narrow" in v.text
    assert thumb.factor_two_verdict([band(-7, -5, -7, lo_open=True)]).word == NOT_RESOLVED   # best on the edge


# -- the chapters' rules for the articles' claims

SWEEP = pd.DataFrame([dict(momentum=mu, lr=2.0 ** k, status="diverged" if loss is None else "completed",
                           final_train_loss=float("nan") if loss is None else loss)
                      for mu, by_lr in {0.0: {-8: 2.2, -6: 1.8, -4: 1.2, -2: 1.5, 0: None},
                                        0.9: {-8: 1.6, -7.5: 1.3, -7: 1.4, -6: 2.30, -4: 2.303, 0: None}}.items()
                      for k, loss in by_lr.items()])


def test_basics_reads_both_ends_the_momentum_step_and_where_runs_get_stuck():
    assert basics.extremes_verdict(SWEEP).word == CONFIRMED           # diverges at 1, 2.2 / 1.2 >= 1.5
    calm = SWEEP[SWEEP.status == "completed"]
    assert basics.extremes_verdict(calm).word == NOT_RESOLVED
    v = basics.momentum_verdict(SWEEP)                                # 2^-4 / 2^-7.5: 11.3x
    assert v.word == CONFIRMED and v.number == "best-rate ratio 11.3x (8.0x to 16.0x on the grid)"
    assert basics.momentum_verdict(SWEEP.assign(lr=np.where(SWEEP.momentum == 0.9, SWEEP.lr * 4, SWEEP.lr))).word == CONTRADICTED
    stuck = basics.stuck_verdict(SWEEP)                               # stuck at 2^-6 and 2^-4 with momentum, above 2^-7.5
    assert stuck.word == CONTRADICTED and stuck.number == "2 stuck, 2 above the best rate"
    assert basics.stuck_verdict(SWEEP[SWEEP.final_train_loss < 2]).word == NOT_RESOLVED


def test_super_convergence_rules_peak_ratio_budget_and_schedule_gain():
    where = pd.DataFrame({"rule": ["steepest", "min/10", "valley"], "suggested LR": [0.4, 0.05, 0.05],
                          "x the best constant rate": [6.4, 0.77, 3.0],
                          "accuracy of the nearest constant run (%)": [42.0, 47.0, 45.0]})
    assert sc.rule_verdict(where, "steepest").word == CONTRADICTED
    assert sc.rule_verdict(where, "min_over_10").word == CONFIRMED
    assert sc.peak_ratio_verdict(3.0, 0.5).word == NOT_RESOLVED        # 6x: 3x-12x may hold 10
    assert sc.peak_ratio_verdict(8.0, 0.5).word == CONFIRMED
    assert sc.peak_ratio_verdict(1.0, 0.5).word == CONTRADICTED
    frame = pd.DataFrame({"share": [0.05, 0.25, 0.5], "reaches": [False, False, True]})
    assert sc.budget_verdict(frame).word == CONTRADICTED
    assert sc.budget_verdict(frame).number == "the shortest cycle that reaches it has 50% of the baseline's steps"
    assert sc.budget_verdict(frame.assign(reaches=[True, True, True])).text == (
        "The shortest cycle that reaches the baseline's accuracy has 5% of the baseline's steps.")
    assert sc.budget_verdict(frame.assign(reaches=[True, True, True])).word == CONFIRMED
    assert sc.budget_verdict(None).word == NOT_RESOLVED
    peaks, constant = pd.DataFrame({"acc": [50.0, 56.0]}), pd.DataFrame({"acc": [48.0, 52.0]})
    assert sc.schedule_gain_verdict(peaks, constant, 0.5).word == CONFIRMED      # +4 +- 1.4
    assert sc.schedule_gain_verdict(peaks.assign(acc=[50.0, 62.0]), constant, 0.5).word == CONTRADICTED
    assert sc.schedule_gain_verdict(peaks, constant, float("nan")).word == NOT_RESOLVED


def test_linear_scaling_reads_the_rule_only_off_a_flat_stretch():
    flat = ls.Break(reference=10.0, pooled_sd=0.5, batch=2048, largest_ok=1024, flat=True)
    assert ls.rule_holds_verdict(flat).word == CONFIRMED and ls.rule_breaks_verdict(flat).word == CONFIRMED
    steep = ls.Break(reference=10.0, pooled_sd=0.5, batch=256, largest_ok=128, flat=False)
    assert ls.rule_holds_verdict(steep).word == NOT_RESOLVED and ls.rule_breaks_verdict(steep).word == NOT_RESOLVED
    assert ls.rule_holds_verdict(ls.Break(10.0, 0.5, 256, 128, True)).word == CONTRADICTED
    assert ls.rule_breaks_verdict(ls.Break(10.0, 0.5, None, 4096, True)).word == NOT_RESOLVED
    rules = pd.DataFrame({"batch": [1024, 1024], "rule": ["sqrt", "linear"], "error": [12.0, 10.0],
                          "diverged": [False, True]})
    assert ls.sqrt_stability_verdict(rules, [1024]).word == CONFIRMED
    assert ls.sqrt_stability_verdict(rules.assign(diverged=False), [1024]).word == NOT_RESOLVED
    # the first GPU records' shape: linear diverged at both largest batches, the square root at the larger
    nan = float("nan")
    gpu = pd.DataFrame({"batch": [8192, 8192, 16384, 16384], "rule": ["sqrt", "linear"] * 2,
                        "error": [57.4, nan, nan, nan], "diverged": [False, True, True, True]})
    v = ls.sqrt_stability_verdict(gpu, [8192, 16384])
    assert v.word == CONFIRMED and v.number == "diverged 1 vs 2; no error compared"
    assert v.text.endswith("1 with the square root, 2 with the linear rule; no batch has both trained, so no error "
                           "is compared.")
    gpu.loc[1, ["error", "diverged"]] = [50.0, False]
    assert ls.sqrt_stability_verdict(gpu, [8192, 16384]).text.endswith(
        "the square root's error against linear, where both trained: +7.4 points at 8,192.")


def test_the_noise_scale_grows_only_beyond_the_seeds_own_spread():
    noise = pd.DataFrame({"epoch": [0, 1, 1, 4, 4], "seed": [0, 0, 1, 0, 1],
                          "b_simple": [50.0, 100.0, 200.0, 2000.0, 2500.0]})
    v = ls.noise_growth_verdict(noise)     # 150 -> 2250: 15x against seeds up to 2x apart
    assert v.word == CONFIRMED
    assert v.text.startswith("The simple noise scale goes from 150 at the first measurement after initialisation "
                             "(epoch 1.0) to 2,250 at the end of training, 15 times")     # the 50 at epoch 0 is not read
    assert ls.noise_growth_verdict(noise.assign(b_simple=[50.0, 100.0, 300.0, 250.0, 240.0])).word == NOT_RESOLVED
    one_seed = ls.noise_growth_verdict(noise[noise.seed == 0])      # 100 -> 2000, but no spread to beat
    assert one_seed.word == NOT_RESOLVED and one_seed.number == "100 to 2,000 (20x; one seed)"
    assert one_seed.text.endswith("20 times; with one seed so far, the seeds' spread it must exceed is not measured.")
    late = ls.noise_growth_verdict(noise.assign(epoch=[0, 1, 1, 4, 5], seed=0, b_simple=[50.0, 100.0, 200.0, 900.0,
                                                                                        float("nan")]))
    assert "to 900 at epoch 4.0, the last measurement with a positive |G|² estimate, 6 times;" in late.text


def test_the_width_exponent_says_smaller_when_larger_and_tests_the_square_root():
    smaller, sqrt = width.exponent_verdicts(-1.05, 0.09)
    assert smaller.word == CONFIRMED and sqrt.word == CONTRADICTED
    smaller, sqrt = width.exponent_verdicts(-0.45, 0.1)
    assert smaller.word == CONFIRMED and sqrt.word == CONFIRMED
    assert width.exponent_verdicts(0.1, 0.2)[0].word == NOT_RESOLVED
    assert width.exponent_verdicts(-1.0, float("nan"))[1].word == NOT_RESOLVED


def test_a_diverging_run_must_announce_itself_within_a_few_hundred_steps():
    fast = SWEEP.assign(diverged_at_step=np.where(SWEEP.status == "diverged", 9.0, np.nan))
    v = basics.fast_divergence_verdict(fast)
    assert v.word == CONFIRMED and "by step 9" in v.text and "2 of them ended with a non-finite" in v.text
    slow = SWEEP.assign(diverged_at_step=np.where(SWEEP.status == "diverged", 900.0, np.nan))
    assert basics.fast_divergence_verdict(slow).word == CONTRADICTED
    mixed = SWEEP.assign(diverged_at_step=np.where(SWEEP.momentum == 0.9, 900.0, 9.0))
    assert basics.fast_divergence_verdict(mixed).word == NOT_RESOLVED      # one of two late: not most
    assert basics.fast_divergence_verdict(SWEEP[SWEEP.status == "completed"]).word == NOT_RESOLVED


def _width_sweep(acc):
    """SP runs: width -> {log2 LR: test accuracy in %}."""
    return width.sweep_frame(pd.DataFrame([dict(parameterization="sp", width=w, lr=2.0 ** k, status="completed",
                                                final_test_acc=a / 100) for w, by_lr in acc.items()
                                           for k, a in by_lr.items()]))


def test_a_factor_of_two_in_the_rate_against_doubling_the_width():
    # at width 64 the best is 2^-6 (50%): its neighbours lose 10 and 6 points; width 128 there loses 1
    sweep = _width_sweep({64: {-7: 40.0, -6: 50.0, -5: 44.0}, 128: {-7: 41.0, -6: 49.0, -5: 45.0}})
    effects = width.factor_two_effects(sweep)
    assert effects.to_dict("records") == [dict(width=64, log2_lr=-6.0, lr_effect=8.0, width_effect=1.0)]
    assert width.factor_two_verdict(effects, 1.0).word == CONFIRMED          # 7 > 2.83
    assert width.factor_two_verdict(effects, 3.0).word == NOT_RESOLVED       # 7 < 8.5
    assert width.factor_two_verdict(effects.assign(width_effect=20.0), 1.0).word == CONTRADICTED
    assert width.factor_two_verdict(effects, float("nan")).word == NOT_RESOLVED


def test_a_takeaway_names_each_profile_once_even_where_a_verdict_reads_two():
    from lrlab.verdict import Verdict
    verdicts = {"rule_steepest": Verdict(CONFIRMED, "", "", profile="gpu"),
                "peak_ratio": Verdict(NOT_RESOLVED, "", "", profile="quick"),
                "schedule_gain": Verdict(CONTRADICTED, "", "", profile="quick + gpu")}
    text = claims.takeaway_markdown("super_convergence", verdicts)
    assert "read from the gpu + quick records" in text and "not all recorded yet" in text
