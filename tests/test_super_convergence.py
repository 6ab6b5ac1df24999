"""The super-convergence chapter: its declaration holds the paper's protocol and the issue's floors; its
analysis reads made-up records as the chapter reads real ones."""
import math

import numpy as np
import pytest

from lrlab.experiments import super_convergence as sc
from lrlab.schedules import lr_curve


def steps(config):
    n_train = 10 * config.train_per_class if config.train_per_class else 50_000
    return config.epochs * (config.steps_per_epoch or n_train // config.batch_size)


def test_full_profile_is_the_papers_protocol():
    p = sc.parts("full")
    cycle = p["headline_one_cycle"][0]
    assert (cycle.model, cycle.batch_size, cycle.augment) == ("resnet56", 1000, "flip")
    assert (cycle.momentum, cycle.weight_decay, cycle.bn_momentum) == (0.9, 1e-4, 0.05)
    assert steps(cycle) == 10_000 and cycle.lr == 3.0
    curve = lr_curve(cycle.schedule, 10_000, lr=cycle.lr, **cycle.schedule_args)["lr"]
    assert curve[0] == pytest.approx(0.1) and max(curve) == pytest.approx(3.0, rel=1e-3)
    assert curve[-1] == pytest.approx(0.1, abs=1e-3)
    baseline = p["headline_baseline"][0]
    assert baseline.lr == 0.35 and steps(baseline) >= 4 * steps(cycle)
    assert [steps(c) for c in p["budget_curve"]] == [2_000, 6_000, 20_000, 10_000]   # the paper's points
    modern = p["modern_one_cycle"][0]
    assert (modern.batch_size, modern.augment, modern.epochs, modern.lr) == (512, "crop+flip", 95, 0.8)


@pytest.mark.parametrize("profile", sc.SETTINGS)
def test_every_profile_has_the_parts_the_chapter_reads(profile):
    p = sc.parts(profile)
    assert len(p["peak_sweep"]) >= 7 and len(p["constant_sweep"]) >= 7
    # the headline pair with seeds: on the paper's net, or (gpu) first on ResNet-20, whose pair the logs report
    pair = ("first_headline_one_cycle", "first_headline_baseline") if profile == "gpu" else (
        "headline_one_cycle", "headline_baseline")
    assert len(p[pair[0]]) >= 2 and len(p[pair[1]]) >= 2
    assert p["range_test_loss_torch_lr_finder"][0].runner == "torch-lr-finder"
    assert p["range_test_accuracy"][0].trace_test
    runs = sc.runs(profile)
    assert len({c.id for c in runs}) == len(runs)
    assert {c.id for configs in p.values() for c in configs} == {c.id for c in runs}


def test_headline_pair_has_three_seeds_where_it_counts():
    for profile in ("quick", "full"):
        p = sc.parts(profile)
        assert len({c.seed for c in p["headline_one_cycle"]}) >= 3
        assert len({c.seed for c in p["headline_baseline"]}) >= 3


def test_gpu_profile_tests_resnet20s_logged_pair_first_and_keeps_resnet56():
    from lrlab import experiments
    p = sc.parts("gpu")
    cycle, baseline = p["first_headline_one_cycle"][0], p["first_headline_baseline"][0]
    assert (cycle.model, cycle.batch_size, steps(cycle), cycle.lr) == ("resnet20", 1000, 10_000, 3.0)
    assert (baseline.lr, steps(baseline)) == (0.35, 40_000)
    assert {c.model for c in p["headline_one_cycle"] + p["headline_baseline"] + p["budget_curve"]} == {"resnet56"}
    assert {steps(c) for c in p["peak_sweep"] + p["constant_sweep"]} == {2_000}   # 2k-iteration cycles
    chunks = experiments.chunks("super_convergence", "gpu")
    assert [c.name for c in chunks if c.tier == 1] == ["range_tests", "resnet20_headline"]
    first = next(c for c in chunks if c.name == "resnet20_headline")
    assert {(c.schedule, c.seed) for c in first.runs} == {("triangular", 0), ("triangular", 1), ("multistep", 0)}


# -- the chapter's analysis, on made-up records

def record(lr=1.0, acc=0.9, status="completed", seed=0, steps=500, trace=None, history=None, epochs=5, batch=100):
    config = dict(lr=lr, seed=seed, epochs=epochs, batch_size=batch, train_per_class=250, model="resnet8")
    return dict(config=config, status=status, final=dict(test_acc=acc, steps=steps), trace=trace or [],
                history=history or [dict(epoch=e, test_acc=acc * e / epochs) for e in range(1, epochs + 1)],
                env=dict(device="cpu"))


def range_record(curve_min_at, steps=200, stop=None):
    """A range test whose loss falls to its minimum at LR `curve_min_at`, then blows up."""
    lrs = np.geomspace(1e-3, 10, steps)[:stop]
    loss = 2.3 - 0.8 * np.exp(-np.log(lrs / curve_min_at) ** 2) + np.where(lrs > curve_min_at, lrs / curve_min_at - 1, 0)
    return record(trace=[dict(step=i, lr=float(lr), train_loss=float(v)) for i, (lr, v) in enumerate(zip(lrs, loss))])


def test_the_two_tools_rules_are_set_side_by_side_with_their_ratio():
    mine, theirs, table = sc.range_rules(range_record(0.5), range_record(0.5))
    # ours is smoothed here, torch-lr-finder's arrives smoothed: the same raw curve reads a little apart
    assert set(table.rule) == {"steepest", "min/10", "valley"} and (table.ratio < 2).all()
    assert sc.rules_agree(table)[0] == "All three rules agree within a factor of 2 between the two tools."
    _, _, apart = sc.range_rules(range_record(0.5), range_record(0.05))
    words, worst = sc.rules_agree(apart)
    assert words.startswith("The rules do **not** all agree within a factor of 2") and worst.ratio > 2
    assert "how each tool smooths (both ran the whole test)" in words
    assert "how each tool smooths and where it stops" in sc.rules_agree(apart, stopped_early=True)[0]
    assert sc.tools_agree_verdict(table).word == "confirmed"
    assert sc.tools_agree_verdict(apart).word == "contradicted" and "largest ratio" in sc.tools_agree_verdict(apart).number


def test_the_extent_says_where_torch_lr_finder_stopped():
    assert sc.range_extent(range_record(0.5), range_record(0.5)) == "torch-lr-finder's run took all 200"
    assert sc.range_extent(range_record(0.5), range_record(0.5, stop=120)).startswith("torch-lr-finder's run stopped "
                                                                                      "after 120")


def test_smiths_accuracy_form_reads_the_peak_and_the_end():
    trace = [dict(step=s, lr=lr, train_loss=1.0, test_acc=acc) for s, (lr, acc) in
             enumerate([(0.0, 0.1), (1.0, 0.6), (2.0, 0.7), (3.0, 0.4)])]
    assert sc.accuracy_peak(record(trace=trace)) == (pytest.approx(70.0), 2.0, pytest.approx(40.0))


def test_the_largest_rate_that_trains_must_finish_within_ten_points_of_the_best():
    sweep = sc.lr_sweep([record(lr=0.5, acc=0.80), record(lr=1.0, acc=0.75), record(lr=2.0, acc=0.65),
                         record(lr=4.0, status="diverged")])
    assert math.isnan(sweep.acc.iloc[3])
    assert sc.largest_that_trains(sweep) == 1.0


def test_each_rule_is_placed_against_the_best_peak_in_octaves_and_the_best_constant_rate():
    peaks = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((0.5, 0.7), (1.0, 0.8), (2.0, 0.75))])
    constant = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((0.125, 0.5), (0.25, 0.6), (0.5, 0.4))])
    where = sc.where_rules_fall({"steepest": 0.25, "min_over_10": 1.0, "valley": 0.3}, peaks, constant)
    where = where.set_index("rule")
    assert where.loc["steepest", "octaves from the best peak"] == pytest.approx(-2.0)
    assert where.loc["min/10", "accuracy of the nearest swept peak (%)"] == pytest.approx(80.0)
    assert where.loc["min/10", "x the best constant rate"] == pytest.approx(4.0)
    assert where.loc["valley", "accuracy of the nearest constant run (%)"] == pytest.approx(60.0)
    words = sc.rules_against_constant(where.reset_index(), constant)
    assert "the best constant rate of the sweep is 0.25 (60.0%)" in words
    assert "steepest (1x), valley (1.2x) land within a factor of 2 of it; min/10 (4x) do not" in words


def test_a_constant_rate_run_is_read_by_the_mean_of_its_last_epochs():
    history = [dict(epoch=e, test_acc=a) for e, a in enumerate((0.3, 0.5, 0.4, 0.6), start=1)]
    sweep = sc.lr_sweep([record(lr=0.1, acc=0.6, history=history), record(lr=0.2, status="diverged")], late_epochs=3)
    assert sweep.acc.iloc[0] == pytest.approx(50.0) and math.isnan(sweep.acc.iloc[1])
    assert sc.lr_sweep([record(lr=0.1, acc=0.6, history=history)]).acc.iloc[0] == pytest.approx(60.0)


def test_one_cycle_reaches_the_baseline_unless_it_falls_short_by_more_than_both_spreads():
    base = [record(acc=a, seed=s) for s, a in enumerate((0.90, 0.91))]
    numbers, verdict = sc.headline([record(acc=a, seed=s) for s, a in enumerate((0.899, 0.905))], base, 500)
    assert "**reaches the baseline**" in verdict.text and verdict.word == "confirmed" and numbers["n_seeds"] == 2
    numbers, verdict = sc.headline([record(acc=a, seed=s) for s, a in enumerate((0.85, 0.86))], base, 500)
    assert "**falls short** of it by 5.00 points" in verdict.text and verdict.word == "contradicted"
    assert "regularis" not in verdict.text   # not in our reference on the papers
    assert numbers["cycle_mean"] == pytest.approx(85.5) and numbers["base_sd"] == pytest.approx(0.7071, abs=1e-3)


def test_a_diverged_baseline_leaves_the_cycle_nothing_to_reach():
    cycle = [record(acc=a, seed=s) for s, a in enumerate((0.86, 0.87))]
    diverged = [record(status="diverged", steps=4000)]
    numbers, verdict = sc.headline(cycle, diverged, 500)
    assert verdict.word == "not resolved" and "Every seed of the baseline **diverged**" in verdict.text
    assert "nan" not in verdict.text and sc.mean_pm(diverged) == "diverged"
    assert sc.headline_number(numbers, cycle, diverged).endswith("against diverged (4,000 steps, 1 seed), ResNet-8")
    frame, said = sc.budget_against_baseline([record(acc=0.8, steps=250)], diverged, cycle)
    assert frame is None and said.startswith("Every seed of the headline baseline diverged")


def test_a_diverged_seed_is_left_out_of_the_mean_not_averaged_in():
    assert sc.mean_pm([record(acc=0.9), record(status="diverged")]) == "90.00%"
    assert sc.mean_pm([record(acc=0.9), record(acc=0.8), record(status="diverged")]) == "85.00 ± 7.07%"
    assert sc.mean_pm([record(acc=0.9)]) == "90.00%"


def test_the_accuracy_curve_is_per_step_over_seeds():
    curves = sc.accuracy_curves([record(seed=s, acc=a) for s, a in ((0, 0.8), (1, 0.9))])
    assert list(curves.step) == [25, 50, 75, 100, 125] and curves["count"].eq(2).all()   # 2,500 images / 100
    assert curves["mean"].iloc[-1] == pytest.approx(85.0)


def test_each_budget_cycle_is_set_against_the_baseline_by_the_headline_rule():
    base = [record(acc=a, seed=s, steps=2000) for s, a in enumerate((0.570, 0.572))]
    cycle = [record(acc=a, seed=s, steps=500) for s, a in enumerate((0.52, 0.53))]
    budget = [record(acc=a, steps=n) for a, n in ((0.26, 100), (0.42, 300), (0.52, 500), (0.585, 1000))]
    frame, words = sc.budget_against_baseline(budget, base, cycle)
    assert list(frame.share) == [0.05, 0.15, 0.25, 0.5] and list(frame.reaches) == [False, False, False, True]
    assert "cycles of 1/2 (58.50%, +1.40 points) of its iterations reach it" in words
    assert "1/20 (26.00%, -31.10 points), 3/20 (42.00%, -15.10 points), 1/4 (52.00%, -5.10 points) fall short" in words
    gpu = [dict(r, profile="gpu") for r in budget]
    assert sc.budget_against_baseline(gpu, [dict(r, profile="quick") for r in base], cycle)[0] is None


def test_the_modern_recipe_verdicts_read_single_runs_against_seed_noise():
    steps = [record(acc=a, epochs=k) for a, k in ((0.50, 5), (0.53, 10), (0.56, 20))]
    momentum, schedule = sc.modern_verdict(record(acc=0.54), record(acc=0.555), steps, seed_sd=1.0)
    assert momentum.word == "not resolved" and "is within seed noise of constant momentum 0.9" in momentum.text
    assert "2.83 points" in momentum.rule
    assert schedule.word == "confirmed" and "beats the step schedule at the same epochs" in schedule.text
    assert "comes within the margin of it at 2x the epochs" in schedule.text
    momentum, _ = sc.modern_verdict(record(acc=0.60), record(acc=0.50), steps, seed_sd=1.0)
    assert momentum.word == "confirmed"
    table = sc.modern_table(record(acc=0.54), record(acc=0.555), steps)
    assert "92.0 ± 0.2%" in table["Smith 2018, Table 1"].iloc[0]
    assert table["other published runs"].iloc[2].startswith("91.9% (Smith's hyperParam1 log, M.95")
    assert table["ours: test accuracy (%)"].isna().iloc[2]   # the paper's constant-0.95 row: not run
    assert list(table.run.iloc[3:]) == [f"step schedule, {k}x the epochs" for k in (1, 2, 4)]
    # a step run not recorded yet: the others keep their own multiples, read from their epochs
    table = sc.modern_table(record(acc=0.54), record(acc=0.555), steps[1:])
    assert list(table.run.iloc[3:]) == ["step schedule, 2x the epochs", "step schedule, 4x the epochs"]
    _, schedule = sc.modern_verdict(record(acc=0.54), record(acc=0.555), steps[1:], seed_sd=1.0)
    assert schedule.word == "not resolved" and "at 2x the epochs" in schedule.text


def test_the_two_grids_are_compared_step_by_step():
    ours = range_record(0.5)
    theirs = record(trace=[dict(t, lr=t["lr"] * 1.02) for t in ours["trace"][:150]])
    assert sc.grid_offset(ours, theirs) == pytest.approx(0.02 / 1.02)
    assert sc.grid_offset(ours, ours) == 0.0
    assert sc.grid_words(ours, theirs) == "at the same step the two grids' rates differ by up to 2.0%"
    assert sc.grid_words(ours, ours).startswith("both grids give the same rate at every step")


# -- what the chapter's exercises turn (each at the book's value by default)

def test_the_reach_rule_widens_with_a_noise_multiple_and_says_where_each_verdict_flips():
    base = [record(acc=a, seed=s, steps=2000) for s, a in enumerate((0.570, 0.572))]
    cycle = [record(acc=a, seed=s, steps=500) for s, a in enumerate((0.52, 0.53))]
    numbers, verdict = sc.headline(cycle, base, 500)
    assert verdict.word == "contradicted" and "more than the two runs' seed spreads together" in verdict.text
    assert sc.headline(cycle, base, 500, noise_multiple=1.0)[1] == verdict   # the book's rule by default
    gap, noise = numbers["cycle_mean"] - numbers["base_mean"], numbers["noise"]
    flip = sc.flip_multiple(gap, noise)
    assert flip == pytest.approx(-gap / noise) and flip > 1
    assert sc.headline(cycle, base, 500, noise_multiple=0.99 * flip)[1].word == "contradicted"
    wide = sc.headline(cycle, base, 500, noise_multiple=1.01 * flip)[1]
    assert wide.word == "confirmed" and wide.rule == sc.REACH_RULE
    assert f"more than 2 times the two runs' seed spreads together ({2 * noise:.2f})" in sc.headline(
        cycle, base, 500, noise_multiple=2.0)[1].text
    assert sc.flip_multiple(0.5, 1.0) == 0.0 and sc.flip_multiple(-1.0, 0.0) == math.inf
    assert math.isnan(sc.flip_multiple(float("nan"), 1.0))

    budget = [record(acc=a, steps=n) for a, n in ((0.26, 100), (0.42, 300), (0.52, 500), (0.585, 1000))]
    frame, words = sc.budget_against_baseline(budget, base, cycle)
    assert sc.budget_against_baseline(budget, base, cycle, noise_multiple=1.0)[1] == words
    assert sc.budget_verdict(frame).word == "contradicted"
    to_unresolved, to_confirmed = sc.budget_flips(frame)
    spreads = frame.noise.iloc[0]
    assert to_unresolved == pytest.approx(-frame.gap.iloc[2] / spreads)     # the 1/4 cycle reaches first
    assert to_confirmed == pytest.approx(-frame.gap.iloc[1] / spreads)      # 3/20 is the longest within 15%
    wider, _ = sc.budget_against_baseline(budget, base, cycle, noise_multiple=1.01 * to_unresolved)
    assert list(wider.reaches) == [False, False, True, True] and sc.budget_verdict(wider).word == "not resolved"
    widest, _ = sc.budget_against_baseline(budget, base, cycle, noise_multiple=1.01 * to_confirmed)
    assert sc.budget_verdict(widest).word == "confirmed"
    assert all(math.isnan(x) for x in sc.budget_flips(None))


def test_the_range_test_read_with_another_smoothing_moves_the_suggestions_and_their_verdicts():
    peaks = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((0.5, 0.7), (1.0, 0.8), (2.0, 0.75))])
    constant = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((0.0125, 0.4), (0.025, 0.5), (0.05, 0.6), (0.1, 0.5))])
    ours = range_record(0.5)
    book = sc.rules_at_smoothing(ours, peaks, constant)
    mine, _, _ = sc.range_rules(ours, ours)
    assert list(book["suggested LR (the book's smoothing)"]) == [mine[r] for r in sc.RULES]
    assert list(book["suggested LR (this smoothing)"]) == [mine[r] for r in sc.RULES]
    assert list(book.verdict) == [sc.rule_verdict(sc.where_rules_fall(mine, peaks, constant), r).word
                                  for r in ("steepest", "min_over_10")] + ["—"]
    # heavier smoothing lags the moving average: the smoothed minimum, and min/10 with it, moves up
    heavy = sc.rules_at_smoothing(ours, peaks, constant, beta=0.99).set_index("rule")
    assert heavy.loc["min/10", "suggested LR (this smoothing)"] > 1.1 * heavy.loc["min/10", "suggested LR (the book's smoothing)"]
    assert heavy.loc["min/10", "x the best constant rate"] == pytest.approx(
        heavy.loc["min/10", "suggested LR (this smoothing)"] / 0.05)


def test_the_band_that_counts_as_training_draws_each_sweeps_edge():
    peaks = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((1.0, 0.80), (2.0, 0.765), (4.0, 0.72), (8.0, 0.1))])
    constant = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((0.25, 0.60), (0.5, 0.56), (1.0, 0.45))]
                           + [record(lr=2.0, status="diverged")])
    table = sc.trains_table(peaks, constant).set_index("sweep")
    assert table.loc["one-cycle peaks", "largest rate that trains"] == 4.0 == sc.largest_that_trains(peaks)
    assert table.loc["one-cycle peaks", "floor (%)"] == pytest.approx(70.0)
    assert table.loc["constant rates", "largest rate that trains"] == 0.5
    assert (table.loc["constant rates", "next rate up"], table.loc["constant rates", "its accuracy (%)"]) == (1.0, pytest.approx(45.0))
    narrow = sc.trains_table(peaks, constant, within=5).set_index("sweep")
    assert narrow.loc["one-cycle peaks", "largest rate that trains"] == 2.0
    assert narrow.loc["constant rates", "largest rate that trains"] == 0.5
    wide = sc.trains_table(peaks, constant, within=20).set_index("sweep")
    assert wide.loc["constant rates", "largest rate that trains"] == 1.0
    assert wide.loc["constant rates", "next rate up"] == 2.0 and math.isnan(wide.loc["constant rates", "its accuracy (%)"])
    assert (wide.loc["one-cycle peaks", "next rate up"], wide.loc["one-cycle peaks", "its accuracy (%)"]) == (
        8.0, pytest.approx(10.0))
    # the run whose side of the band the smallest change would flip: 0.5 at 56%, 1 point inside a floor of 55
    assert sc.closest_to_floor(peaks, constant, within=5) == ("constant rates", 0.5, pytest.approx(1.0))
    assert sc.closest_to_floor(peaks, constant) == ("one-cycle peaks", 4.0, pytest.approx(2.0))
    nothing = sc.lr_sweep([record(lr=1.0, status="diverged")])
    assert sc.closest_to_floor(nothing, nothing)[0] is None


def test_the_exercises_answers_are_read_from_the_records_not_typed():
    peaks = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((1.0, 0.80), (2.0, 0.765), (4.0, 0.72), (8.0, 0.1))])
    constant = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((0.25, 0.60), (0.5, 0.56), (1.0, 0.45))]
                           + [record(lr=2.0, status="diverged")])
    said = sc.trains_answer_words(peaks, constant, 10, 5, 20, 1.5)
    # at 5 points the peak's edge falls from 4 to 2 and the constant one stays: the ratio halves, 8 to 4
    assert said.startswith("At 5 points the largest constant rate stays 0.5 and the largest peak goes from 4 to 2, "
                           "so the ratio goes from 8.0 to 4.0")
    assert "the constant rate 0.5, ends 1.00 points above it: inside the seed noise" in said
    assert said.endswith("A loose band of 20 points gives 4.0 (contradicted).")   # 4 over 1
    # the budget verdict's flips: only a word short of confirmed can move as the margin widens
    assert "changes at two multiples" in sc.budget_flip_words("contradicted", 3.2, 11.9)
    assert "at 3.20 times the margin" in sc.budget_flip_words("contradicted", 3.2, 11.9)
    assert sc.budget_flip_words("not resolved", 0.0, 11.9).startswith("The budget verdict (not resolved) changes at one")
    assert "no such cycle was swept" in sc.budget_flip_words("not resolved", 0.0, float("nan"))
    assert sc.budget_flip_words("confirmed", 0.0, 0.0).endswith("it stays.")


def test_the_smoothing_answer_says_how_far_each_rule_moved_against_the_lags_prediction():
    peaks = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((0.5, 0.7), (1.0, 0.8), (2.0, 0.75))])
    constant = sc.lr_sweep([record(lr=lr, acc=a) for lr, a in ((0.0125, 0.4), (0.025, 0.5), (0.05, 0.6), (0.1, 0.5))])
    ours = range_record(0.5)
    book, heavy = sc.rules_at_smoothing(ours, peaks, constant), sc.rules_at_smoothing(ours, peaks, constant, beta=0.99)
    moved = (heavy.set_index("rule")["suggested LR (this smoothing)"]
             / heavy.set_index("rule")["suggested LR (the book's smoothing)"])["min/10"]
    said = sc.smoothing_answer_words(book, heavy, moved)
    assert said.startswith(f"Here min/10 moved by a factor {moved:.2f}, about as far as the {moved:.2f}")
    assert sc.smoothing_answer_words(book, heavy, 10 * moved).split(", ")[1].startswith("less far than")
    assert "min/10 stays " + book.set_index("rule").loc["min/10", "verdict"] in said
    assert "Of the articles' two rules, steepest" in said


def test_the_range_test_is_read_at_the_papers_peak_or_says_it_ended_before():
    numbers, text = sc.loss_at_paper_peak(range_record(2.0))
    assert 1.5 < numbers["lowest_lr"] < 2.5 and numbers["lowest"] < numbers["at_peak"] < numbers["start"]
    assert text.endswith(f"at the paper's one-cycle peak of 3 it is {numbers['at_peak']:.2f}.")
    short = range_record(0.5, stop=150)           # the trace stops near rate 1: the peak is never reached
    numbers, text = sc.loss_at_paper_peak(short)
    assert np.isnan(numbers["at_peak"]) and "before the paper's one-cycle peak of 3" in text
    short["status"] = "diverged"
    assert "(it diverged)" in sc.loss_at_paper_peak(short)[1]


def test_the_accuracy_range_test_is_averaged_over_a_band_of_rates():
    trace = [dict(step=i, lr=lr, train_loss=1.0, test_acc=acc) for i, (lr, acc) in
             enumerate([(0.4, 0.5), (0.5, 0.6), (1.5, 0.8), (2.0, 0.7), (3.0, 0.5)])]
    r = record(trace=trace)
    assert sc.accuracy_between(r, 0.5, 1.5) == pytest.approx(70.0)
    assert sc.accuracy_between(r, 2.0, 3.0) == pytest.approx(60.0)
    assert np.isnan(sc.accuracy_between(r, 4.0, 5.0))


def test_the_peak_sweeps_caption_names_the_runs_that_learned_nothing_and_those_that_diverged():
    import pandas as pd
    peaks = pd.DataFrame(dict(lr=[1.0, 2.0, 8.0], acc=[55.0, 56.0, 10.0], status=["completed"] * 3))
    constant = pd.DataFrame(dict(lr=[0.1, 4.0], acc=[45.0, 9.9], status=["completed"] * 2))
    assert sc.sweep_failures(peaks, constant) == (
        "no run diverged by the rule (`lrlab.divergence`); the peak 8 and the constant rate 4 completed at chance "
        "(dotted): they trained to the end and learned nothing")
    peaks.loc[2, ["status", "acc"]] = "diverged", float("nan")
    assert sc.sweep_failures(peaks, constant) == ("crosses at 10% mark the one run that diverged; the constant rate 4 "
                                                  "completed at chance (dotted): it trained to the end and learned nothing")
    constant.loc[1, "acc"] = 30.0
    assert sc.sweep_failures(peaks, constant) == "crosses at 10% mark the one run that diverged"


def test_the_budget_figures_zero_is_said_to_be_the_sweeps_own_run_not_the_headlines_mean():
    import pandas as pd
    budget = pd.DataFrame(dict(steps=[100, 500, 1000], acc=[26.0, 53.0, 58.0]))
    assert sc.budget_zero_words(budget, 500, 51.87) == (
        "Our zero, 53.0%, is the budget sweep's, its own run at length 1 (one run per length), not the 51.87% mean "
        "over seeds of the paper's Fig. 1a redrawn")
    assert "read between its lengths" in sc.budget_zero_words(budget, 300, 51.87)


def test_the_range_tests_caption_says_where_its_loss_leaves_the_axis():
    def record(losses):
        return {"trace": [{"lr": 10.0 ** (k / 4 - 3), "train_loss": x} for k, x in enumerate(losses)]}
    runaway = record([2.0, 1.8, 1.5, 1.2, 1.0, 3.0, 50.0, float("nan")])
    assert sc.range_axis_top(sc.range_trace(runaway)[1]) == pytest.approx(4.2)   # twice the first, and 5%
    assert sc.range_cut_words(runaway) == ("The loss axis stops at 4.2, about twice the first step's loss; from a "
                                           "rate of 0.032 on, the loss leaves it, reaching 50 by the test's last "
                                           "step (at 0.0562).")
    assert sc.range_cut_words(record([2.0, 1.8, 1.5, 1.9])) == ""   # the whole curve fits


def test_the_cycle_exercises_arithmetic_follows_the_recipes_config_and_the_asked_div_factor():
    config = dict(lr=0.8, schedule="one_cycle",
                  schedule_args={"div_factor": 10.0, "base_momentum": 0.85, "max_momentum": 0.95})
    fastai = sc.cycle_worked(config, 25.0)
    assert fastai["start"] == "0.8/25 = 0.032" and fastai["end"] == "0.032/1000 = 3.2 × 10⁻⁵"
    assert fastai["own_start"] == "0.8/10 = 0.08" and fastai["own_end"] == "8 × 10⁻⁵"
    assert fastai["tail"] == "1 − 2 × 0.45 = 10%" and fastai["floor"] == "25,000"
    assert fastai["span"] == "a factor 25 from start to peak, more than Smith's 10 to 20"
    assert fastai["first_steps"].startswith("a smaller rate")
    assert sc.cycle_worked(config, 15.0)["span"].endswith("within Smith's 10 to 20")
    assert sc.cycle_worked(config, 4.0)["first_steps"].startswith("a larger rate")


def test_the_protocol_words_quote_the_constants_the_runs_are_built_with():
    words = sc.protocol_words((1, 2))
    cycle = sc.parts("quick")["modern_one_cycle"][0]
    assert words["modern_cycle"] == f"{cycle.lr / cycle.schedule_args['div_factor']:g} to {cycle.lr:g}" == "0.08 to 0.8"
    assert words["step_schedule"] == "0.1, divided by 10 at 50% and 75% of training"
    assert words["step_multiples"] == "1 and 2" and words["solver_wd"] == "10⁻⁴" and words["bn_fraction"] == "0.95"
    assert words["modern_phases"] == "45% up, 45% down, 10% annihilation to 1/1,000 of the start"
    headline = sc.parts("quick")["headline_one_cycle"][0]
    assert (headline.momentum, headline.weight_decay, headline.bn_momentum) == (0.9, 1e-4, 0.05)
    assert words["headline_peak"] == f"{headline.lr:g}" and words["range_lrs"] == "0.001 to 10"
