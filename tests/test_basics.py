"""The basics chapter's analysis: momentum's step on a quadratic, and the MLP sweep's best and
diverging rates, on made-up sweeps."""
import math

import pandas as pd
import pytest

from lrlab.experiments import basics


def made_up_sweep(losses):
    """momentum -> {log2 LR: final training loss, or None for a diverged run}."""
    return pd.DataFrame([dict(momentum=mu, lr=2.0 ** k, status="diverged" if loss is None else "completed",
                              final_train_loss=float("nan") if loss is None else loss)
                         for mu, by_lr in losses.items() for k, loss in by_lr.items()])


SWEEP = made_up_sweep({0.0: {-6: 1.9, -4: 1.2, -2: 1.5, 0: 2.31, 2: None},
                       0.9: {-6: 1.4, -4: 2.28, -2: 2.303, 0: None, 2: None}})


def test_momentum_acts_like_a_step_of_eta_over_one_minus_mu_where_eta_h_is_small():
    table = basics.momentum_table(lr=0.01, curvature=1e-3, momenta=(0.0, 0.9), steps=2000).set_index("momentum μ")
    assert table.loc[0.0, "measured / claimed"] == pytest.approx(1.0, abs=0.01)
    assert table.loc[0.9, "claimed η/(1−μ)"] == pytest.approx(0.1)
    assert table.loc[0.9, "measured / claimed"] == pytest.approx(1.0, abs=0.02)


def made_up_probe(measured):
    """A `momentum_table` frame at eta = 0.01 with the given measured / claimed ratio per momentum."""
    return pd.DataFrame([{"momentum μ": mu, "measured / claimed": r, "measured step": r * 0.01 / (1 - mu)}
                         for mu, r in measured.items()])


def test_the_flat_direction_claim_holds_far_below_one_minus_mu_squared_and_fails_once_eta_h_reaches_it():
    probe = made_up_probe({0.0: 1.0, 0.5: 1.0, 0.95: 1.04, 0.99: 0.5})
    words = basics.flat_claim_words(probe, 0.01, 1e-2)   # eta h = 1e-4 = (1 - 0.99)^2
    assert words.startswith("(1 − μ)² is 0.25, 0.0025 and 10⁻⁴ for μ = 0.5, 0.95 and 0.99. Against ηh = 10⁻⁴")
    assert "holds by a factor of 25 at μ = 0.95 (the measured step is 1.040 times the claim)" in words
    assert "fails at μ = 0.99" in words and "are complex" in words
    assert "(1 − √μ)/h = 0.50, 0.50 times the claimed η/(1 − μ) = 1 (measured: 0.50)" in words
    gentle = basics.flat_claim_words(probe, 0.01, 1e-3)   # eta h = 1e-5: (1 - 0.99)^2 is only ten times that
    assert "holds by a factor of 250 at μ = 0.95" in gentle and "fails at none of them" in gentle
    assert gentle.endswith("(1 − μ)² is 10 times ηh, and there the measured step is 0.500 times the claim.")


def test_the_best_rate_per_momentum_is_the_lowest_loss_among_runs_that_did_not_diverge():
    best = basics.best_rates(SWEEP)
    assert best[0.0].lr == 2.0 ** -4 and best[0.9].lr == 2.0 ** -6
    summary = basics.sweep_summary(SWEEP)
    assert summary["best_lr_ratio"] == pytest.approx(4.0)
    assert summary["best_lr_plain"] == 2.0 ** -4 and summary["best_lr_momentum"] == 2.0 ** -6


def test_divergence_starts_at_the_smallest_rate_that_diverged():
    assert basics.first_diverged(SWEEP, 0.9) == 1.0
    assert basics.divergence_words(SWEEP, 0.0, "first diverges at") == "first diverges at 4"
    calm = SWEEP[SWEEP.status == "completed"]
    assert math.isnan(basics.first_diverged(calm, 0.0))
    assert basics.divergence_words(calm, 0.0, "first diverges at") == "no rate up to 1 diverges"


def test_a_run_stuck_at_the_loss_of_a_uniform_guess_is_counted():
    summary = basics.sweep_summary(SWEEP)
    assert summary["n_stuck_plain"] == 1 and summary["n_stuck_momentum"] == 2 and summary["n_collapsed"] == 0


def test_a_collapse_the_divergence_rule_caught_still_counts_as_stuck_a_blow_up_does_not():
    sweep = SWEEP.copy()
    collapsed = (sweep.momentum == 0.9) & (sweep.lr == 0.25)          # rule 3: diverged, its last loss ln 10
    sweep.loc[collapsed, "status"] = "diverged"
    blown_up = (sweep.momentum == 0.9) & (sweep.lr == 1.0)            # rule 2: diverged far above chance
    sweep.loc[blown_up, "final_train_loss"] = 9.5
    summary = basics.sweep_summary(sweep)
    assert summary["n_stuck_momentum"] == 2 and summary["n_collapsed"] == 1
    assert basics.stuck_verdict(sweep).number == basics.stuck_verdict(SWEEP).number


def test_without_a_trained_run_at_one_momentum_the_ratio_is_not_a_number():
    only_plain = SWEEP[SWEEP.momentum == 0.0]
    summary = basics.sweep_summary(only_plain)
    assert math.isnan(summary["best_lr_ratio"]) and math.isnan(summary["best_lr_momentum"])


def test_the_stability_sentence_says_when_the_network_disagrees_with_the_quadratic():
    words = basics.stability_words(SWEEP, 0.2, 0.38)
    assert "On the quadratic, momentum 0.9 raises the divergence threshold (0.3800 against 0.2000" in words
    assert "In the network it lowers it: the first diverging rate is 1 with momentum against 4 without" in words
    assert "learning already stops at 0.0625; plain SGD's best rate is 0.0625" in words
    assert words.endswith("the stability lesson does not.")
    agrees = made_up_sweep({0.0: {-2: 1.5, 0: None}, 0.9: {-2: 1.3, 0: 1.4, 2: None}})
    assert "In the network it raises it" in basics.stability_words(agrees, 0.2, 0.38)
    assert "stability lesson" not in basics.stability_words(agrees, 0.2, 0.38)
    calm = SWEEP[SWEEP.status == "completed"]
    assert basics.stability_words(calm, 0.2, 0.38).endswith("so it cannot say.")


def test_the_chapter_says_how_many_collapses_the_rule_caught():
    assert basics.collapsed_words(SWEEP) == "here it caught none of them"
    sweep = SWEEP.copy()
    sweep.loc[(sweep.momentum == 0.9) & (sweep.lr == 0.25), "status"] = "diverged"
    assert basics.collapsed_words(sweep).startswith("here it caught one of them")


def test_stuck_runs_recorded_before_the_collapse_test_are_said_to_be_unchecked():
    sweep = SWEEP.assign(divergence_rules=2)       # every stuck run predates the test: nothing was checked
    assert basics.collapsed_words(sweep) == ("all 3 stuck runs here were recorded before the rule had this test, so "
                                             "it has not checked them (a rerun of the sweep would)")
    assert basics.rerun_words(sweep).startswith("One difference is not noise: 3 of the book's stuck runs were ")
    assert basics.rerun_words(sweep.assign(divergence_rules=3)) == ""
    some = SWEEP.assign(divergence_rules=3)
    some.loc[basics.stuck_mask(some).idxmax(), "divergence_rules"] = 2     # one stuck run predates it
    assert basics.collapsed_words(some) == ("here it caught none of them (1 of the stuck runs was recorded before "
                                            "the rule had this test and was not checked by it)")
    assert basics.collapsed_words(sweep.assign(divergence_rules=3)) == "here it caught none of them"


def test_the_sweeps_paragraph_follows_what_the_sweep_shows():
    import numpy as np
    from test_claims import SWEEP as CLAIM_SWEEP                       # best-rate ratio 11.3x: confirmed
    assert basics.momentum_lesson_words(CLAIM_SWEEP).endswith("carries over to a network whose curvature is "
                                                              "anything but constant")
    shifted = CLAIM_SWEEP.assign(lr=np.where(CLAIM_SWEEP.momentum == 0.9, CLAIM_SWEEP.lr * 4, CLAIM_SWEEP.lr))
    assert "does not carry over" in basics.momentum_lesson_words(shifted)
    assert basics.stuck_lead_words(SWEEP).endswith("2 momentum runs (and 1 plain one) end without learning")
    learned = SWEEP[SWEEP.final_train_loss.isna() | (SWEEP.final_train_loss < 2.0)]
    assert "though no run of this sweep shows it" in basics.stuck_lead_words(learned)
    fast = CLAIM_SWEEP.assign(diverged_at_step=np.where(CLAIM_SWEEP.status == "diverged", 9.0, np.nan))
    assert basics.divergence_speed_words(fast).endswith("the stuck runs above are the slow failure.")
    slow = fast.assign(diverged_at_step=900.0)
    assert basics.divergence_speed_words(slow) == "Here not every run that diverges does so early."


def test_the_covers_caption_says_which_way_momentum_moves_the_curve():
    assert basics.momentum_shift_words(SWEEP) == "momentum 0.9 moves the curve to smaller rates"   # 2^-6 < 2^-4
    assert basics.momentum_shift_words(SWEEP[SWEEP.momentum == 0.0]).endswith("not recorded beside plain SGD yet")
