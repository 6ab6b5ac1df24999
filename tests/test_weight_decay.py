"""The weight-decay chapter's declaration: the paper's normalised decay and the grid it promises."""
import inspect
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from lrlab.errors import LrlabError
from lrlab import stats
from lrlab.experiments import weight_decay as wd


def test_normalised_decay_matches_the_papers_cifar_example():
    # Appendix B.1 with b = 128, B = 50,000, T = 100: a factor of 0.00506; 0.025 -> 1.26e-4
    assert wd.lambda_from_normalized(1.0, 128, 50_000, 100) == pytest.approx(0.00506, abs=5e-6)
    assert wd.lambda_from_normalized(0.025, 128, 50_000, 100) == pytest.approx(1.26e-4, rel=0.01)


def test_normalised_decay_rejects_a_non_positive_size():
    with pytest.raises(LrlabError, match="epochs"):
        wd.lambda_from_normalized(0.025, 128, 50_000, 0)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_each_optimizer_gets_a_6x6_grid_a_no_decay_column_and_headline_seeds(profile):
    runs = wd.runs(profile)
    assert len({r.id for r in runs}) == len(runs)
    grid = Counter((r.optimizer, r.lr) for r in runs if r.weight_decay > 0 and r.seed == 0)
    for optimizer in wd.OPTIMIZERS:
        lrs = {lr for (o, lr) in grid if o == optimizer}
        assert len(lrs) >= 6 and all(grid[(optimizer, lr)] >= 6 for lr in lrs)
    assert {(r.optimizer, r.lr) for r in runs if r.weight_decay == 0} == {
        (o, 2.0 ** k) for o in ("sgd", "adam") for k in wd.LOG2_LRS[o]}
    headline = [r for r in runs if r.optimizer in ("adam", "adamw") and r.lr == 2.0 ** wd.HEADLINE_LOG2_LR
                and r.weight_decay > 0]
    assert min(Counter((r.optimizer, r.weight_decay) for r in headline).values()) >= 3
    # one lambda_norm axis for every optimizer: the same decay values on every row
    assert len({r.weight_decay for r in runs if r.weight_decay > 0}) == len(wd.LOG2_LAMBDA_NORM)
    assert all(math.isclose(r.lr, 2.0 ** round(math.log2(r.lr))) for r in runs)


# -- the chapter's analysis, on made-up grids

def made_up_grid(error, optimizers=wd.OPTIMIZERS, log2_lrs=range(-7, -1), log2_norms=range(-8, -2), seeds=(0,),
                 no_decay=True, per_class=200, epochs=8):
    """A runs frame as `Chapter.runs` gives it: test error (%) = error(optimizer, log2 LR, log2 lambda_norm, seed)."""
    to_lambda = wd.lambda_per_unit_norm(128, per_class, epochs)
    rows = []
    for o in optimizers:
        points = [(k, j) for k in log2_lrs for j in log2_norms] + ([(k, None) for k in log2_lrs]
                                                                      if no_decay and o in ("sgd", "adam") else [])
        for k, j in points:
            for seed in seeds:
                e = error(o, k, j, seed)
                rows.append(dict(optimizer=o, lr=2.0 ** k, weight_decay=0.0 if j is None else 2.0 ** j * to_lambda,
                                 batch_size=128, train_per_class=per_class, epochs=epochs, seed=seed,
                                 status="diverged" if e is None else "completed",
                                 final_test_acc=float("nan") if e is None else 1 - e / 100))
    return wd.on_the_grid(pd.DataFrame(rows))


def coupled_or_not(o, k, j, seed=0):
    """Coupled optimizers' best log2 lambda_norm falls one for one with log2 LR; decoupled ones sit at -5."""
    best = (-9.5 - k) if o in ("sgd", "adam") else -5.0
    return 20 + (0 if j is None else (j - best) ** 2)


def test_the_grid_reads_each_runs_normalised_decay_back_and_shows_no_decay_under_both_names():
    runs = made_up_grid(lambda o, k, j, s: 20.0 if j is None else 30.0 + j, optimizers=("sgd",))
    assert sorted(runs[np.isfinite(runs.log2_lambda_norm)].log2_lambda_norm.unique()) == list(range(-8, -2))
    no_decay = runs[~np.isfinite(runs.log2_lambda_norm)]
    assert sorted(no_decay.optimizer.unique()) == ["sgd", "sgdw"] and np.allclose(no_decay.error, 20.0)


def test_a_diverged_run_is_no_error_at_all_and_shown_as_such():
    runs = made_up_grid(lambda o, k, j, s: None if k == -2 else 25.0, optimizers=("adamw",))
    cells = wd.grid_cells(runs)
    assert cells[cells.log2_lr == -2].error.isna().all() and (cells[cells.log2_lr == -2].diverged == 1).all()


def test_the_best_decay_on_a_row_is_refined_and_flagged_on_the_edge():
    row = pd.DataFrame({"log2_lambda_norm": [-np.inf, -8, -7, -6, -5], "error": [1.0, 9, 4, 5, 9]})
    best = wd.best_log2_lambda(row)
    assert -7.5 < best.best < -6.5 and not best.edge
    edge = wd.best_log2_lambda(row.assign(error=[1.0, 2, 4, 5, 9]))
    assert edge.best == -8 and edge.edge
    assert np.isnan(wd.best_log2_lambda(row.assign(error=[1.0, 2, np.nan, np.nan, np.nan])).best)


def test_coupled_decay_gives_slope_minus_one_and_decoupled_decay_a_flat_line():
    slopes, best_rows = wd.coupling_slopes(wd.grid_cells(made_up_grid(coupled_or_not)))
    assert slopes.slope["sgd"] == pytest.approx(-1, abs=0.05) and slopes.slope["adam"] == pytest.approx(-1, abs=0.05)
    assert slopes.slope["sgdw"] == pytest.approx(0, abs=0.05) and slopes.slope["adamw"] == pytest.approx(0, abs=0.05)
    assert set(best_rows) == set(wd.OPTIMIZERS)
    verdict = wd.slope_verdict(slopes)
    assert "SGD + L2 (coupled), SGDW (decoupled), Adam + L2 (coupled), AdamW (decoupled) match" in verdict


def test_the_best_decay_figure_draws_each_fit_beside_the_line_its_update_rule_predicts():
    from lrlab.figures.weight_decay import best_decay_per_row
    cells = wd.grid_cells(made_up_grid(coupled_or_not))
    assert wd.lambda_edges(cells) == (-8.0, -3.0)
    slopes, best_rows = wd.coupling_slopes(cells)
    fig = best_decay_per_row(best_rows, slopes, wd.lambda_edges(cells))
    for ax, optimizer in zip(fig.axes, ("sgd", "adam", "sgdw", "adamw")):
        slope, se, coupled = slopes.slope[optimizer], slopes["standard error"][optimizer], optimizer in ("sgd", "adam")
        assert ax.get_title() == (f"{wd.OPTIMIZER_LABELS[optimizer]}: slope {slope:+.2f} ± {se:.2f} "
                                  + ("(coupled: -1)" if coupled else "(decoupled: 0)"))
        lines = {line.get_label(): line.get_xydata() for line in ax.get_lines()}
        for label, expected in (("predicted", -1 if coupled else 0), ("fit", slope)):
            (x0, y0), (x1, y1) = lines[label]
            assert (y1 - y0) / (x1 - x0) == pytest.approx(expected)


def test_the_measured_slopes_are_written_with_their_errors_and_say_where_none_was_measured():
    import pandas as pd
    slopes = pd.DataFrame({"optimizer": ["SGD + L2", "SGDW", "Adam + L2"], "slope": [-0.912, 0.05, np.nan],
                           "standard error": [0.12, np.nan, np.nan]}, index=["sgd", "sgdw", "adam"])
    words = wd.slope_words(slopes)
    assert words.startswith("SGD + L2 -0.91 ± 0.12, SGDW +0.05 (no error measured) and Adam + L2 not measured")
    assert "nan" not in words


def test_slopes_read_in_words_with_a_tolerance_of_two_standard_errors_or_three_tenths():
    assert wd.coupling_words(-0.9, 0.05) == "coupled"
    assert wd.coupling_words(0.2, float("nan")) == "decoupled"
    assert wd.coupling_words(-0.5, 0.3) == "undetermined (the fit's error admits both)"
    assert wd.coupling_words(-0.5, 0.05) == "in between"
    assert wd.coupling_words(0.8, 0.1).startswith("neither")
    assert wd.coupling_words(float("nan"), 0.1) == "unmeasured"


def test_a_slope_against_its_rule_is_named_in_the_verdict():
    slopes = pd.DataFrame({"slope": [0.0, 0.0, -1.0, 0.0], "standard error": [0.05] * 4}, index=wd.OPTIMIZERS)
    verdict = wd.slope_verdict(slopes)
    assert "SGD + L2 reads as decoupled, where its update rule predicts coupled" in verdict


def test_decay_is_called_small_beside_seed_noise_only_when_rows_move_less_than_noise_would():
    def noisy(effect):
        return lambda o, k, j, s: 20 + (0 if j is None else effect * (j + 8) / 5) + 2 * s
    quiet = wd.decay_against_noise(wd.grid_cells(made_up_grid(noisy(1.0), seeds=(0, 1))), 60.0)
    assert quiet["signal_words"].startswith("At this scale decay is a small effect")
    loud = wd.decay_against_noise(wd.grid_cells(made_up_grid(noisy(30.0), seeds=(0, 1))), 60.0)
    assert loud["signal_words"].startswith("Decay matters well beyond seed noise") and loud["row_effect"] > 20
    one_seed = wd.decay_against_noise(wd.grid_cells(made_up_grid(noisy(1.0))), 60.0)
    assert "not measured" in one_seed["noise_words"] and "waits for the seeds" in one_seed["signal_words"]


def test_the_headline_compares_adam_and_adamw_at_their_best_decay_over_seeds():
    def error(o, k, j, s):
        return 10.0 + (j or 0) ** 2 / 100 if o == "adamw" else 12.0 + s   # adamw best at j = 0 -> nearest -3
    runs = made_up_grid(error, optimizers=("adam", "adamw"), log2_lrs=(-11, -10, -9), seeds=(0, 1))
    h = wd.headline(runs, wd.grid_cells(runs))
    assert h["log2_lr"] == wd.HEADLINE_LOG2_LR and h["seeds"] == 2
    assert h["adam"]["mean"] == pytest.approx(12.5) and h["adamw"].log2_lambda_norm == -3
    assert h["improvement"] == pytest.approx(100 * (12.5 - 10.09) / 12.5)
    assert "(mean ± standard deviation over seeds)" in wd.headline_words(h)


def test_where_every_adam_run_at_the_default_rate_diverged_the_headline_is_not_measured():
    def error(o, k, j, s):
        return None if (o == "adam" and k == -10) else 10.0 + s
    runs = made_up_grid(error, optimizers=("adam", "adamw"), log2_lrs=(-11, -10, -9), seeds=(0, 1))
    h = wd.headline(runs, wd.grid_cells(runs))
    assert h["untrained"] == ["Adam + L2"] and math.isnan(h["improvement"]) and h["seeds"] == 2
    said = "every run of Adam + L2 at this rate diverged, at every decay"
    assert wd.headline_words(h) == "E" + said[1:] + ": there is no improvement to measure."
    assert wd.headline_verdict(h).word == "not resolved" and said in wd.headline_verdict(h).text
    assert wd.better_verdict(h).word == "not resolved" and wd.better_verdict(h).number == f"not measured ({said})"
    assert wd.improvement_number(h) == f"not measured ({said})"


def test_best_cells_show_the_best_decayed_cell_and_the_best_without_decay():
    best = wd.best_cells(wd.grid_cells(made_up_grid(coupled_or_not)))
    assert best["best test error (%)"]["sgdw"] == pytest.approx(20.0) and best["λ_norm"]["sgdw"] == "2^-5"
    assert best["best without decay (%)"]["adam"] == pytest.approx(20.0)


def test_a_slope_that_cannot_be_fitted_says_so():
    import pandas as pd
    slopes = pd.DataFrame({"slope": [float("nan"), 0.5], "standard error": [float("nan"), 0.1]}, index=["sgd", "sgdw"])
    assert wd.slope_text(slopes, "sgd") == "slope not measured (fewer than two rows with a best decay)"
    assert wd.slope_text(slopes, "sgdw") == "slope +0.50 ± 0.10"


def test_no_slope_is_read_while_decay_is_below_seed_noise():
    slopes, _ = wd.coupling_slopes(wd.grid_cells(made_up_grid(coupled_or_not)))
    unresolved = wd.slope_verdict(slopes, resolved=False)
    assert "**not resolved at this scale** for all four optimizers" in unresolved and "match" not in unresolved
    assert "Rows whose best λ sits on the grid's edge only bound it" in unresolved
    assert wd.slope_word(slopes, "sgd", resolved=False) == "not resolved"
    assert wd.slope_word(slopes, "sgd", resolved=True) == "confirmed"
    decoupled_sgd = slopes.assign(slope=[0.0, 0.0, -1.0, 0.0], **{"standard error": [0.05] * 4})
    assert wd.slope_word(decoupled_sgd, "sgd", resolved=True) == "contradicted"
    def noisy(o, k, j, s):
        return 20 + (0 if j is None else (j + 8) / 5) + 2 * s
    quiet = wd.decay_against_noise(wd.grid_cells(made_up_grid(noisy, seeds=(0, 1))), 60.0)
    assert quiet["resolved"] is False and quiet["seed_sd"] > 0


def test_the_headline_against_the_papers_15_percent():
    def h(improvement, sd):
        return dict(improvement=improvement, improvement_sd=sd)
    assert wd.headline_verdict(h(-0.43, 1.97)).word == "contradicted"
    assert "**not reproduced** at this scale" in wd.headline_verdict(h(-0.43, 1.97)).text
    assert wd.headline_verdict(h(14.0, 2.0)).word == "confirmed"
    assert wd.headline_verdict(h(6.0, 5.0)).word == "not resolved"      # 0 and 15 both within 2 SDs
    assert wd.headline_verdict(h(6.0, float("nan"))).word == "not resolved"


def test_the_articles_better_is_read_against_zero_not_the_papers_15_percent():
    def h(improvement, sd):
        return dict(improvement=improvement, improvement_sd=sd)
    quick = wd.better_verdict(h(-0.43, 1.97))      # the quick headline: 15% is out, but so is "worse"
    assert quick.word == "not resolved" and quick.number == "-0.4% ± 2.0" and "-4.4% to +3.5%" in quick.text
    assert wd.better_verdict(h(6.0, 2.0)).word == "confirmed"       # +2% to +10%: better, though not 15%
    assert wd.better_verdict(h(-6.0, 2.0)).word == "contradicted"
    assert wd.better_verdict(h(6.0, float("nan"))).word == "not resolved"
    assert wd.improvement_number(h(6.0, float("nan"))) == "+6.0% (one seed)"   # the headline's number too


def test_best_cells_are_compared_allowing_for_how_many_cells_each_was_picked_from():
    assert stats.expected_best_in_sds(48) > stats.expected_best_in_sds(8) > 1.3
    gap, margin, side = stats.best_gap(58.85, 48, 61.80, 8, 1.04)
    assert gap == pytest.approx(-2.95) and margin == pytest.approx(1.04 * (2 * np.sqrt(2) + 0.83), abs=0.05)
    assert side == 0                                                   # within noise, once selection is allowed for
    assert stats.best_gap(50.0, 8, 61.80, 8, 1.04)[2] == -1
    assert stats.best_gap(50.0, 8, 61.80, 8, float("nan"))[2] == 0
    assert np.isnan(stats.best_gap(50.0, 8, float("nan"), 0, 1.0)[1])        # no undecayed cell yet
    best = wd.best_cells(wd.grid_cells(made_up_grid(coupled_or_not)))
    assert best["picked from"]["sgd"] == 36 and best["picked from (no decay)"]["adam"] == 6
    claims = wd.best_cell_claims(best, seed_sd=1.0)
    assert claims["adam"].word == "confirmed" and "within the margin" in claims["adam"].text
    assert claims["adamw"].word == "confirmed" and "not worse than either beyond noise" in claims["adamw"].text
    no_noise = wd.best_cell_claims(best, float("nan"))
    assert no_noise["adam"].word == "not resolved" and "margin" not in no_noise["adamw"].text
    table = wd.versus(*wd.coupling_slopes(wd.grid_cells(made_up_grid(coupled_or_not)))[:1], best,
                      dict(improvement=-0.4, improvement_sd=2.0, log2_lr=-10), resolved=False, claims=claims)
    assert list(table.verdict) == ["not resolved", "not resolved", "confirmed", "not resolved", "confirmed",
                                   "contradicted", "not resolved"]


# -- what the chapter's exercises compute

def diagonal_or_not(o, k, j, seed=0):
    """Coupled optimizers' best log2 lambda_norm is -10 - log2 LR (on the grid for LRs 2^-7 .. 2^-2), decoupled
    ones' -5; no decay is worse than any decayed cell."""
    best = (-10.0 - k) if o in ("sgd", "adam") else -5.0
    return 40.0 if j is None else 20 + (j - best) ** 2


def test_the_good_regions_tilt_is_minus_one_on_a_diagonal_zero_when_axis_aligned_and_zero_over_the_whole_grid():
    cells = wd.grid_cells(made_up_grid(diagonal_or_not))
    tilt = wd.good_region_tilt(cells, top=6)
    assert tilt.tilt["sgd"] == pytest.approx(-1) and tilt.tilt["adam"] == pytest.approx(-1)
    assert tilt.tilt["sgdw"] == pytest.approx(0) and tilt.tilt["adamw"] == pytest.approx(0)
    assert list(tilt["reads as"]) == ["coupled", "decoupled", "coupled", "decoupled"]
    whole = wd.good_region_tilt(cells, top=100)                  # every cell: the rectangle, flat whatever the errors
    assert np.allclose(whole.tilt, 0) and (whole["cells with decay"] == 36).all()
    one_row = wd.good_region_tilt(cells, top=1)                  # one learning rate: no line to fit
    assert one_row["reads as"].eq("unmeasured").all()
    table = wd.tilt_readings(cells, (6, 100))
    assert table["6 best cells"]["sgd"] == "-1.00 ± 0.00: coupled"
    assert wd.moving_readings(cells, (6, 100)) == ["SGD + L2", "Adam + L2"]


def test_the_noise_rules_threshold_opens_the_gate_and_then_the_slopes_are_read():
    def quiet(o, k, j, s):
        return 20 + (diagonal_or_not(o, k, j) - 20) / 10 + 2 * s if j is not None else 23 + 2 * s
    cells = wd.grid_cells(made_up_grid(quiet, seeds=(0, 1)))
    assert wd.decay_against_noise(cells, 60.0)["resolved"] is False
    assert wd.decay_against_noise(cells, 60.0, signal=0.1)["resolved"] is True

    class Chapter:   # what `verdicts` reads of a chapter
        def runs(self, part):
            return made_up_grid(quiet, seeds=(0, 1))

        def has(self, part):
            return False

        def profile_of(self, part):
            return "quick"
    assert wd.verdicts(Chapter())["coupling"].word == "not resolved"
    assert wd.verdicts(Chapter(), signal=0.1)["coupling"].word == "confirmed"


def test_whether_the_verdict_hinges_on_the_noise_rules_threshold_is_said_in_words():
    assert "does not hinge" in wd.gate_words(0.7)
    assert "a bar of 1 would open the gate" in wd.gate_words(1.2)
    assert wd.gate_words(2.0).startswith("The gate is open")
    assert "not measured" in wd.gate_words(float("nan"))


def test_torch_receives_lambda_for_l2_and_lambda_over_the_lr_for_decoupled_decay():
    table = wd.torch_weight_decays(2.0 ** -5, [128, 512], 200, 8).set_index("batch b")
    lam = table["λ (the paper)"]
    assert lam[128] == pytest.approx(2.0 ** -5 * wd.lambda_per_unit_norm(128, 200, 8))
    assert lam[512] == pytest.approx(2 * lam[128])                                    # sqrt(512 / 128)
    assert np.allclose(table["torch SGD"], lam) and np.allclose(table["torch Adam"], lam)
    assert np.allclose(table["lrlab SGDW at α = 2^-4"], lam * 16)
    assert np.allclose(table["torch AdamW at α = 2^-10"], lam * 1024)


def test_l2_is_decoupled_decay_rescaled_by_the_lr_for_plain_sgd_but_not_with_momentum():
    plain = wd.l2_against_decoupled(0.1, 0.002, 0.0, steps=500)
    assert plain["gap"] < 1e-12 and plain["l2"] == pytest.approx(plain["decay_alone"])
    assert plain["decay_alone"] == pytest.approx((1 - 2e-4) ** 500)
    heavy = wd.l2_against_decoupled(0.1, 0.002, 0.9, steps=500)
    assert heavy["sgdw"] == pytest.approx(heavy["decay_alone"])   # a flat weight's momentum buffer stays zero
    assert heavy["l2"] < heavy["decay_alone"] ** 5                # the buffer sums the L2 term: ~1/(1 - mu) stronger
    # the solution's sentence for the command's momentum: either of its two cases, or the estimate elsewhere
    assert wd.momentum_case_words(0.1, 0.002, 0.0, 500).startswith("The command's μ = 0 is the first case: SGD + L2 "
                                                                   f"ends at {plain['l2']:.4f}")
    assert "is the chapter's, the second case" in wd.momentum_case_words(0.1, 0.002, 0.9, 500)
    half = wd.momentum_case_words(0.1, 0.002, 0.5, 500)
    assert f"≈ {(1 - 2e-4 * 2) ** 500:.3f} (αλ = 0.0002 is well below (1 − √μ)² = 0.086)" in half
    assert "the estimate is rough" in wd.momentum_case_words(0.1, 0.2, 0.99, 50)


def test_the_exercises_knobs_default_to_the_chapters_own_values():
    from lrlab.notebooks import page_parameters
    knobs = page_parameters("04_weight_decay")
    declared = wd.runs("quick")
    assert knobs["exercise_decay_signal"] == wd.DECAY_SIGNAL
    assert knobs["exercise_batch"] == declared[0].batch_size
    assert {r.momentum for r in declared if r.optimizer in ("sgd", "sgdw")} == {knobs["exercise_momentum"]}
    assert knobs["exercise_circled"] == inspect.signature(wd.top_cells).parameters["k"].default


def test_the_coupling_rule_the_page_prints_is_the_one_the_words_use():
    rule = wd.coupling_rule()
    assert f"two standard errors and {wd.SLOPE_FLOOR:g} of -1" in rule and f"least {wd.DECAY_SIGNAL:g} times" in rule
    assert "least 0.5 times" in wd.coupling_rule(0.5)
    # the floor rules where the fit's error is small: 0.25 from 0 reads as decoupled, 0.35 as in between
    assert wd.coupling_words(-0.25, 0.01) == "decoupled" and wd.coupling_words(-0.35, 0.01) == "in between"


def test_the_heatmaps_caption_counts_the_cells_marked_div():
    import pandas as pd
    cells = pd.DataFrame(dict(error=[30.0, float("nan"), 31.0]))
    assert wd.diverged_cells_words(cells) == '"div" marks the cell whose runs all diverged'
    assert wd.diverged_cells_words(cells.fillna(1.0)) == "no cell of the grid diverged"


# -- the prose's grid, seeds and exercise answers, generated so they stay true whatever the records say

def test_the_grid_and_its_seeds_are_stated_from_the_records_shown():
    sgd = made_up_grid(diagonal_or_not, optimizers=("sgd", "sgdw"), log2_lrs=range(-7, -1))
    adam = made_up_grid(diagonal_or_not, optimizers=("adam", "adamw"), log2_lrs=range(-13, -5))
    runs = pd.concat([sgd, adam])
    assert wd.grid_size_words(wd.grid_cells(runs)) == ("6 weight decays plus a no-decay column, by 6 learning rates "
                                                       "for SGD + L2 and SGDW and 8 for Adam + L2 and AdamW")
    coarse = made_up_grid(diagonal_or_not, log2_lrs=(-6, -4, -2), log2_norms=(-7, -5, -3), no_decay=False)
    assert wd.grid_size_words(wd.grid_cells(coarse)) == ("3 weight decays, by 3 learning rates for SGD + L2, SGDW, "
                                                         "Adam + L2 and AdamW")
    # the quick profile: one seed a cell, three on the headline row (Adam and AdamW at 2^-10)
    headline = made_up_grid(diagonal_or_not, optimizers=("adam", "adamw"), log2_lrs=[-10], seeds=(1, 2), no_decay=False)
    with_seeds = pd.concat([runs, headline])
    assert wd.seeds_words(with_seeds, with_seeds, -10) == "one seed per cell, three on the headline row"
    # the gpu profile: the headline row in its own part, two seeds at each decay and a third at the middle one
    long_row = pd.concat([made_up_grid(diagonal_or_not, optimizers=("adam", "adamw"), log2_lrs=[-10],
                                       log2_norms=(-7, -5, -3), seeds=(0, 1), no_decay=False, epochs=30),
                          made_up_grid(diagonal_or_not, optimizers=("adam", "adamw"), log2_lrs=[-10], log2_norms=[-5],
                                       seeds=(2,), no_decay=False, epochs=30)])
    assert wd.seeds_words(runs, long_row, -10) == "one seed per cell, two to three on the headline row"


def test_the_circles_solution_reads_how_the_tilt_moves_with_the_regions_size():
    cells = wd.grid_cells(made_up_grid(diagonal_or_not))
    # from the 6 best cells (a diagonal for L2, flat for decoupled decay) to the whole grid (flat for all)
    moved = wd.tilt_move_words(cells, 6, 100)
    assert moved.startswith("Here, from 6 to 100 best cells, the tilts of SGD + L2 (-1.00 to ")
    assert "and Adam + L2 (-1.00 to " in moved and "move towards 0; the tilts of SGDW (" in moved
    assert moved.endswith("stay where they were.")
    assert "move away from it" in wd.tilt_move_words(cells, 100, 6)
    assert wd.tilt_move_words(cells, 1, 6) == ("SGD + L2, SGDW, Adam + L2 and AdamW have no tilt at one of the two "
                                               "sizes (the best cells span a single learning rate).")
    assert "the tilt moves by up to 1.00 from one size to the next (SGD + L2's, from -1.00 at 6 cells" in (
        wd.tilt_jump_words(cells, (6, 100)))
    assert wd.tilt_jump_words(cells, (1, 6)) == "no panel has a tilt at two consecutive sizes to compare"


def test_the_tilts_standard_error_is_read_against_the_distance_between_the_two_readings(monkeypatch):
    def errors(*se):
        monkeypatch.setattr(wd, "good_region_tilt", lambda cells, top: pd.DataFrame(
            {"standard error": se}, index=wd.OPTIMIZERS))
        return wd.tilt_error_words(None, 10)
    assert errors(0.66, 1.03, 0.8, 0.9) == (
        "Its standard error is large too (0.66 to 1.03 at 10 cells), so the rule's two standard errors admit almost "
        "any reading: SGDW's tilt would read as coupled, decoupled or both anywhere from -3.06 to +2.06.")
    assert errors(0.1, 0.3, 0.2, np.nan).startswith("Its standard error is 0.10 to 0.30 at 10 cells: for SGDW, two "
                                                    "standard errors reach over half the way from -1 to 0")
    assert errors(0.05, 0.1, 0.2, 0.1).startswith("Its standard error is smaller (0.05 to 0.20 at 10 cells)")
    assert errors(np.nan, np.nan, np.nan, np.nan).startswith("At 10 cells no panel's tilt has a standard error")


def test_the_noise_exercise_states_the_gate_and_what_its_open_word_is_worth():
    assert wd.gate_state_words(1.97, 2.82) == ("are not read because decay's median row range, 1.97 points, is below "
                                               "1.5 times the 2.82 points that seed noise alone would give a row.")
    assert wd.gate_state_words(5.0, 2.0).startswith("are read because decay's median row range, 5.00 points, is at "
                                                    "least 1.5 times")
    assert wd.gate_state_words(1.0, float("nan")).startswith("are not read: the records have no seed noise")
    assert wd.asked_gate_words(1.4, 2.0, 0.5) == ("The gate compares the median row range with seed noise's, a ratio "
                                                  "of 1.40 / 2.00 = 0.70; any bar at or below it opens the gate, so "
                                                  "the exercise's bar of 0.5 opens it.")
    assert wd.asked_gate_words(0.8, 2.0, 0.5).endswith("so the exercise's bar of 0.5 leaves it shut, and the word "
                                                       "stays **not resolved**.")
    # smoke-sized records have no seed pairs: no "nan / nan = nan", the sentence says what is missing
    no_noise = wd.asked_gate_words(1.0, float("nan"), 0.5)
    assert "no bar opens the gate" in no_noise and "nan" not in no_noise and "1.00 points" in no_noise
    assert wd.open_gate_caution(0.7, "contradicted") == (
        "That is a confident word drawn from differences smaller than seed noise alone would make, which the gate "
        "exists to prevent.")
    assert "differences less than 1.5 times what seed noise alone would make" in wd.open_gate_caution(1.2, "confirmed")
    assert wd.open_gate_caution(2.0, "confirmed").startswith("The book's bar of 1.5 already opens the gate")
    assert wd.open_gate_caution(0.7, "not resolved") == "Even with the gate open the slopes give no confident word."
    assert wd.open_gate_caution(float("nan"), "not resolved") == ""


def test_the_circled_cells_and_the_sizes_read_are_the_modules_constants():
    assert inspect.signature(wd.top_cells).parameters["k"].default == wd.CIRCLED
    assert inspect.signature(wd.good_region_tilt).parameters["top"].default == wd.CIRCLED
    assert wd.CIRCLED in wd.TILT_SIZES
