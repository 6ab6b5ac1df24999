"""The rules behind the LR-vs-width chapter's verdicts, on small made-up sweeps."""
import numpy as np
import pandas as pd
import pytest

from lrlab.experiments import lr_vs_width as width


def sweep(optimum, log2_lrs=range(-8, 0), seeds=(0,), depth=1.0, status=None):
    """A made-up sweep: loss = 1 + depth * (log2 LR - optimum[p, w])^2 / 10 per (parameterization, width)."""
    rows = []
    for (p, w), best in optimum.items():
        for k in log2_lrs:
            for seed in seeds:
                loss = 1 + depth * (k - best) ** 2 / 10 + 0.01 * seed
                rows.append(dict(parameterization=p, width=w, lr=2.0 ** k, seed=seed, final_train_loss=loss,
                                 status=(status or {}).get((p, w, k), "completed")))
    return width.sweep_frame(pd.DataFrame(rows))


SP_DRIFTS = {("sp", 256): -3.0, ("sp", 1024): -4.0, ("sp", 4096): -5.0,
             ("mup", 256): -3.0, ("mup", 1024): -3.1, ("mup", 4096): -3.2}


def test_the_optimum_per_width_is_the_refined_minimum_of_the_seed_mean():
    frame = sweep({("sp", 256): -3.4, ("mup", 256): -5.6}, seeds=(0, 1, 2))
    optimum = width.optima(frame, "final_train_loss").set_index("parameterization").log2_lr_opt
    assert optimum["sp"] == pytest.approx(-3.4) and optimum["mup"] == pytest.approx(-5.6)


def test_a_diverged_run_is_left_out_of_its_curve_not_counted_as_a_loss():
    frame = sweep({("sp", 256): -4.0, ("mup", 256): -4.0}, status={("sp", 256, -4): "diverged"})
    curve = width.curves(frame, "final_train_loss")
    assert curve[(curve.parameterization == "sp") & (curve.log2_lr == -4)]["mean"].isna().all()
    optimum = width.optima(frame, "final_train_loss").set_index("parameterization").log2_lr_opt
    assert optimum["sp"] != -4.0 and optimum["mup"] == pytest.approx(-4.0)


def test_the_shift_is_measured_from_the_narrowest_width_to_the_widest():
    shift = width.octave_shift(width.optima(sweep(SP_DRIFTS), "final_train_loss"))
    assert shift["sp"] == pytest.approx(-2.0) and shift["mup"] == pytest.approx(-0.2)


def jittered(optimum, jitter, seeds=(0, 1), log2_lrs=range(-10, 2)):
    """A made-up sweep whose seed s has its optimum moved by jitter[s] octaves at every width."""
    frames = [sweep({key: best + jitter[seed] for key, best in optimum.items()}, log2_lrs).assign(seed=seed)
              for seed in seeds]
    return pd.concat(frames, ignore_index=True)


def test_the_optimums_seed_noise_is_pooled_over_the_widths_run_with_several_seeds():
    frame = jittered(SP_DRIFTS, {0: -0.3, 1: 0.3})
    sd, dof = width.optimum_noise(frame, "final_train_loss")
    assert sd == pytest.approx(0.6 / np.sqrt(2)) and dof == 6
    assert np.isnan(width.optimum_noise(sweep(SP_DRIFTS), "final_train_loss")[0])


def test_a_shift_counts_beyond_twice_its_seed_noise_and_half_an_octave():
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED
    quiet = width.shift_tests(jittered(SP_DRIFTS, {0: 0.0, 1: 0.05}), "final_train_loss")
    assert quiet["sp"]["threshold"] == width.MIN_SHIFT            # the noise is tiny: the floor rules
    assert quiet["sp"]["moves"] and not quiet["mup"]["moves"]
    v = width.verdict(quiet, "The MLP")
    assert v.word == CONFIRMED and v.text.startswith("The MLP reproduces") and "seed noise" in v.rule
    # seeds 2 octaves apart: the noise of the shift is 2/sqrt(2) x 1 = 1.41, so 2 octaves is within 2 x noise
    noisy = width.shift_tests(jittered(SP_DRIFTS, {0: -1.0, 1: 1.0}), "final_train_loss")
    assert noisy["sp"]["threshold"] == pytest.approx(2 * np.sqrt(2))
    assert not noisy["sp"]["moves"] and width.verdict(noisy, "The MLP").word == NOT_RESOLVED
    mup_moves = {("sp", 256): -3.0, ("sp", 4096): -3.2, ("mup", 256): -3.0, ("mup", 4096): -5.0}
    v = width.verdict(width.shift_tests(jittered(mup_moves, {0: 0.0, 1: 0.1}), "final_train_loss"), "The GPT")
    assert v.word == CONTRADICTED and "muP's optimum moves beyond the threshold" in v.text
    both = {("sp", 256): -3.0, ("sp", 4096): -5.0, ("mup", 256): -3.0, ("mup", 4096): -5.0}
    assert width.verdict(width.shift_tests(jittered(both, {0: 0.0, 1: 0.1}), "final_train_loss"),
                         "The GPT").word == CONTRADICTED
    # the quick MLP's shape: muP's 0.2 octaves is beyond twice its seed noise (0.07) but under the floor
    flat_sp = {("sp", 256): -3.0, ("sp", 4096): -3.0, ("mup", 256): -3.0, ("mup", 4096): -3.2}
    floored = width.shift_tests(jittered(flat_sp, {0: 0.0, 1: 0.05}), "final_train_loss")
    v = width.verdict(floored, "The MLP")
    assert v.word == NOT_RESOLVED and "neither above the threshold (a shift counts above 0.50 octaves, the larger " \
        f"of 2 times the seed noise of {floored['sp']['noise']:.2f} octaves and the 0.5-octave floor); muP's is " \
        "beyond 2 times the seed noise but under the 0.5-octave floor." in v.text
    # the headline number: each shift with its seed noise, and the larger threshold of the two
    number = width.shift_number(noisy)
    assert number.startswith(f"SP {abs(noisy['sp']['shift']):.2f} ± {noisy['sp']['noise']:.2f}, muP ")
    assert number.endswith(f"octaves; a shift counts above {2 * np.sqrt(2):.2f}")


def test_a_stricter_or_looser_shift_rule_moves_the_threshold_and_says_so():
    from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED
    frame = jittered(SP_DRIFTS, {0: 0.0, 1: 0.05})   # SP moves 2 octaves, muP 0.2, seed noise about 0.035
    book = width.shift_tests(frame, "final_train_loss")
    assert book == width.shift_tests(frame, "final_train_loss", width.MIN_SHIFT, width.NOISE_MULTIPLE)
    assert width.verdict(book, "The MLP").word == CONFIRMED
    # no floor: muP's 0.2 octaves is beyond twice its seed noise, so muP's optimum "moves" too
    loose = width.shift_tests(frame, "final_train_loss", min_shift=0.0)
    assert loose["mup"]["threshold"] == pytest.approx(2 * loose["mup"]["noise"]) and loose["mup"]["moves"]
    v = width.verdict(loose, "The MLP", min_shift=0.0)
    assert v.word == CONTRADICTED and "and 0 octave" in v.rule
    # a multiple so large that 2 octaves is within it: nothing moves
    strict = width.shift_tests(frame, "final_train_loss", noise_multiple=100.0)
    assert strict["sp"]["threshold"] == pytest.approx(100 * strict["sp"]["noise"]) and strict["sp"]["threshold"] > 2
    assert not strict["sp"]["moves"]
    v = width.verdict(strict, "The MLP", noise_multiple=100.0)
    assert v.word == NOT_RESOLVED and "100 times the seed noise" in v.text


def test_an_exercise_reads_the_verdict_under_a_changed_rule_against_the_books():
    from lrlab.verdict import CONFIRMED, CONTRADICTED
    frame = jittered(SP_DRIFTS, {0: 0.0, 1: 0.05})   # SP moves 2 octaves, muP 0.2, seed noise about 0.035
    book = width.shift_tests(frame, "final_train_loss")
    assert width.noise_ratio(book["sp"]) == pytest.approx(2.0 / book["sp"]["noise"])
    assert np.isnan(width.noise_ratio(dict(shift=1.0, noise=float("nan"))))
    assert width.shift_reading(book).endswith("muP's as staying, the paper's pattern")
    loose = width.shift_tests(frame, "final_train_loss", min_shift=0.0)
    assert width.shift_reading(loose) == "reads both optima as moving with width"
    assert width.verdict_under(frame, "final_train_loss", "The MLP").word == CONFIRMED
    assert width.verdict_under(frame, "final_train_loss", "The MLP", min_shift=0.0).word == CONTRADICTED
    assert width.verdict_change(frame, "final_train_loss", "The MLP", min_shift=0.0) == \
        f"changes from {CONFIRMED} to **{CONTRADICTED}**"
    assert width.verdict_change(frame, "final_train_loss", "The MLP", min_shift=0.4) == f"does not change ({CONFIRMED})"

def test_the_shift_test_reads_every_width_not_only_the_ends():
    from lrlab.verdict import CONFIRMED, CONTRADICTED
    # muP's ends agree (-3.0 and -3.1) but its middle width strays 1.5 octaves
    strays = {("sp", 32): -3.0, ("sp", 64): -4.0, ("sp", 128): -5.0,
              ("mup", 32): -3.0, ("mup", 64): -1.5, ("mup", 128): -3.1}
    frame = jittered(strays, {0: 0.0, 1: 0.05})
    tests = width.shift_tests(frame, "final_train_loss")
    assert (tests["mup"]["narrowest"], tests["mup"]["width"]) == (32, 64) and tests["mup"]["moves"]
    assert tests["mup"]["shift"] == pytest.approx(1.5, abs=0.05)
    assert (tests["sp"]["width"], tests["sp"]["shift"]) == (128, pytest.approx(-2.0, abs=0.05))
    v = width.verdict(tests, "The GPT")
    assert v.word == CONTRADICTED and v.text.startswith("The GPT does not hold muP's optimum in place: SP's optimum "
                                                        "moves by up to 2.00 octaves from width 32's (at width 128) "
                                                        "and muP's by up to 1.50 (at width 64)")
    assert v.text.endswith("; muP's optima at widths 32 and 128 lie 0.10 octaves apart.")   # the ends agree
    assert "at any wider width" in v.rule
    # one seed at the middle width: its move's noise is the pooled SD x sqrt(1/2 + 1/1)
    one_seed = frame[~((frame.width == 64) & (frame.seed == 1))]
    sd = width.optimum_noise(one_seed, "final_train_loss")[0]
    middle = width.shift_tests(one_seed, "final_train_loss")["mup"]
    assert middle["width"] == 64 and middle["noise"] == pytest.approx(sd * np.sqrt(1.5)) and middle["moves"]
    # muP within the threshold at every width: the width whose move comes nearest it is read, here the widest
    steady = width.shift_tests(jittered(SP_DRIFTS, {0: 0.0, 1: 0.05}), "final_train_loss")
    assert steady["mup"]["width"] == 4096 and not steady["mup"]["moves"]
    assert width.verdict(steady, "The MLP").word == CONFIRMED and "apart" not in width.verdict(steady, "The MLP").text


def test_a_width_with_no_optimum_is_passed_over():
    diverged = {("mup", 1024, k): "diverged" for k in range(-10, 2)}   # every LR of one width diverged
    frame = pd.concat([sweep(SP_DRIFTS, log2_lrs=range(-10, 2), status=diverged).assign(seed=s) for s in (0, 1)],
                      ignore_index=True)
    mup = width.shift_tests(frame, "final_train_loss")["mup"]
    assert mup["width"] == 4096 and mup["shift"] == pytest.approx(-0.2)
    one_width = width.shift_tests(jittered({("sp", 256): -3.0, ("mup", 256): -3.0}, {0: 0.0, 1: 0.1}),
                                  "final_train_loss")
    assert one_width["sp"]["moves"] is None and np.isnan(one_width["sp"]["shift"])


def test_the_cost_of_one_rate_for_every_width_is_where_the_shared_band_begins():
    frame = sweep({("sp", 256): -3.0, ("sp", 1024): -5.0, ("mup", 256): -4.0, ("mup", 1024): -4.0}, depth=1.0)
    costs = width.transfer_cost(frame, "final_train_loss")
    assert costs["mup"] == (0.0, -4.0)
    # SP: at -4 both widths are one octave off their best, loss 1.1 against 1.0
    assert costs["sp"][0] == pytest.approx(0.1) and costs["sp"][1] == -4.0
    assert width.shared_band(frame, "final_train_loss", tol=0.099)["sp"] == []
    assert width.shared_band(frame, "final_train_loss", tol=0.101)["sp"] == [-4.0]
    assert "within 10.1% of its own best" in width.band_note(frame, "final_train_loss", "the MLP", tol=0.101)
    note = width.cost_note(frame, "final_train_loss", "the MLP")
    assert "SP 10.0% (at log₂ LR -4)" in note and "muP 0.0% (at log₂ LR -4)" in note
    diverged = {("sp", 1024, k): "diverged" for k in range(-8, 0)}   # one width never trained: no shared rate
    assert np.isnan(width.transfer_cost(sweep({("sp", 256): -3.0, ("sp", 1024): -5.0}, status=diverged),
                                        "final_train_loss")["sp"][0])


def test_one_seed_gives_no_verdict():
    from lrlab.verdict import NOT_RESOLVED
    tests = width.shift_tests(sweep(SP_DRIFTS), "final_train_loss")
    assert tests["sp"]["moves"] is None
    v = width.verdict(tests, "The MLP")
    assert v.word == NOT_RESOLVED and "no seed noise measured" in v.text
    assert width.shift_number(tests).endswith("(one seed) octaves")   # no spread, no threshold to quote
    summary = width.sweep_summary(jittered(SP_DRIFTS, {0: 0.0, 1: 0.05}), "final_train_loss", "The MLP", "the MLP")
    assert summary.startswith("The MLP reproduces")


def test_wider_is_better_forgives_rises_within_seed_noise():
    rows = []
    for seed, noise in ((0, 0.0), (1, 0.2)):
        for w, loss in ((256, 1.5), (1024, 1.6)):   # wider is 0.1 worse: within 2 x sqrt(2) x 0.14
            rows.append(dict(parameterization="mup", width=w, lr=0.25, seed=seed, final_train_loss=loss + noise,
                             status="completed"))
    frame = width.sweep_frame(pd.DataFrame(rows))
    frame = pd.concat([frame, frame.assign(parameterization="sp")], ignore_index=True)
    assert width.wider_is_better(frame, "final_train_loss")["mup"] == (1, 1)
    assert width.wider_is_better(frame, "final_train_loss", tol=0.05)["mup"] == (0, 1)
    assert width.wider_word(frame, "final_train_loss") == "confirmed"


def test_the_shared_band_holds_the_rates_where_every_width_is_near_its_own_best():
    # muP's widths share their optimum; SP's are 2 octaves apart, too far for a 1% band at this depth
    frame = sweep({("sp", 256): -3.0, ("sp", 1024): -5.0, ("mup", 256): -4.0, ("mup", 1024): -4.0}, depth=1.0)
    bands = width.shared_band(frame, "final_train_loss")
    assert bands["mup"] == [-4.0] and bands["sp"] == []
    note = width.band_note(frame, "final_train_loss", "the MLP")
    assert "SP: none" in note and "muP: log₂ LR -4" in note


def test_a_contiguous_band_is_named_by_its_ends():
    flat = sweep({("sp", 256): -4.0, ("mup", 256): -4.0}, depth=0.01)   # within 1% from 2^-7 to 2^-1
    assert "log₂ LR -7 to -1" in width.band_note(flat, "final_train_loss", "the MLP")


def test_a_band_on_a_grid_finer_near_the_optimum_is_contiguous_when_it_holds_every_rate_between_its_ends():
    mixed = [-8, -7, -6.5, -6, -5.5, -5, -4]
    flat = sweep({("sp", 256): -6.0, ("mup", 256): -6.0}, log2_lrs=mixed, depth=0.2)   # 1%: half an octave, not one
    assert "log₂ LR -6.5 to -5.5" in width.band_note(flat, "final_train_loss", "the MLP")
    gapped = flat[~((flat.parameterization == "mup") & (flat.log2_lr == -6))]   # mup has no run at -6
    note = width.band_note(gapped, "final_train_loss", "the MLP")
    assert "muP: log₂ LR -6.5, -5.5" in note and "SP: log₂ LR -6.5 to -5.5" in note


def test_the_edge_note_names_each_width_whose_best_rate_is_the_grids_end():
    frame = sweep({("sp", 256): -1.0, ("sp", 1024): -4.0, ("mup", 256): -4.0, ("mup", 1024): -8.0})
    note = width.edge_note(frame, "final_train_loss", "the MLP")
    assert "SP at width 256 (log₂ LR -1)" in note and "muP at width 1024 (log₂ LR -8)" in note
    assert "width 1024 (log₂ LR -4)" not in note
    assert width.edge_note(sweep(SP_DRIFTS), "final_train_loss", "the MLP") == ""


def test_wider_is_better_counts_the_rates_where_loss_never_rises_with_width():
    rows = []
    for w, losses in ((256, [2.0, 1.5, 1.2]), (1024, [1.9, 1.6, 1.0])):   # the middle rate gets worse wider
        for k, loss in zip((-3, -2, -1), losses):
            for p in ("sp", "mup"):
                rows.append(dict(parameterization=p, width=w, lr=2.0 ** k, final_train_loss=loss, status="completed"))
    ordered = width.wider_is_better(width.sweep_frame(pd.DataFrame(rows)), "final_train_loss")
    assert ordered == {"sp": (2, 3), "mup": (2, 3)}


def test_the_readout_growth_compares_the_widest_to_the_narrowest_at_the_third_step():
    coords = pd.DataFrame([dict(width=w, module=m, t=t, l1=l1) for w, l1 in ((256, 1.0), (1024, 4.0))
                           for m in ("readout", "fc1") for t in (1, 3)])
    assert width.readout_growth(coords) == pytest.approx(4.0)


def test_the_readout_growth_can_be_read_at_any_recorded_step():
    coords = pd.DataFrame([dict(width=w, module="readout", t=t, l1=l1 * t) for w, l1 in ((256, 1.0), (1024, 4.0))
                           for t in (1, 3)] + [dict(width=1024, module="readout", t=1, l1=-3.0)])
    assert width.readout_growth(coords, t=1) == pytest.approx(0.5 / 1.0)   # 1024's t=1 mean is (4 - 3) / 2
    assert width.readout_growth(coords) == pytest.approx(4.0)
    assert np.isnan(width.readout_growth(coords, t=5))                      # a step the check did not run


def test_the_comparison_table_quotes_the_shifts_as_factors():
    frame = sweep(SP_DRIFTS)
    gpt = frame.assign(final_test_loss=frame.final_train_loss)
    versus = width.versus(frame, gpt, "quick", "gpu").set_index("claim")
    table = versus.ours
    assert table.iloc[0].startswith("4.0x (256 to 4096, quick)")
    assert "(char GPT 256 to 4096, gpu)" in table.iloc[3]
    assert list(versus.verdict) == ["not resolved"] * 4            # one seed: no noise, no verdict
    seeded = jittered(SP_DRIFTS, {0: 0.0, 1: 0.05})
    verdicts = width.versus(seeded, seeded.assign(final_test_loss=seeded.final_train_loss), "quick", "gpu").verdict
    # muP's made-up optima creep 0.2 octaves wider, so some rates get worse with width beyond the noise
    assert list(verdicts) == ["confirmed", "confirmed", "contradicted", "confirmed"]


def test_settings_are_named_for_every_profile():
    for settings in (width.MLP_SETTINGS, width.GPT_SETTINGS):
        assert set(settings) == {"smoke", "quick", "gpu", "full"}
        assert len({frozenset(s) for s in settings.values()}) == 1
    assert np.all([c.base_width == width.MLP_SETTINGS["quick"]["base_width"] for c in width.mlp_runs("quick")])


def test_the_width_exponent_is_the_log_log_slope_with_its_seed_error():
    optimum = pd.DataFrame(dict(parameterization="sp", width=[64, 256, 1024], log2_lr_opt=[-5.0, -6.0, -7.0]))
    slope, se = width.width_exponent(optimum, "sp", sd=0.4)
    assert slope == pytest.approx(-0.5) and se == pytest.approx(0.4 / np.sqrt(8))
    assert np.isnan(width.width_exponent(optimum, "sp")[1])
    assert width.published_width_exponent() == pytest.approx(-0.77, abs=0.01)   # GPT-3, Table 2.1
    # a fit without its narrowest width: the line through the rest, its error from fewer, closer widths
    slope, se = width.width_exponent(optimum[optimum.width > 64], "sp", sd=0.4)
    assert slope == pytest.approx(-0.5) and se == pytest.approx(0.4 / np.sqrt(2))
    assert all(np.isnan(width.width_exponent(optimum[optimum.width > 256], "sp", sd=0.4)))   # one width: no slope
    kept, fits = width.exponents_without(optimum, 0.4, skip=1)
    assert kept == [256, 1024] and fits["sp"] == pytest.approx((-0.5, 0.4 / np.sqrt(2)))
    assert all(np.isnan(fits["mup"]))   # no muP widths in this optimum


def test_the_minimums_note_names_what_falls_short_of_the_papers_minimums():
    gpt = pd.DataFrame(dict(width=[32, 128], depth=2, batch_size=32, block_size=64, epochs=2, steps_per_epoch=100))
    note = width.minimums_note(gpt)
    assert "width (32; the paper's example 256)" in note and "training steps (200; the paper's example 5,000)" in note
    assert "batch size" not in note and "depth (2;" in note
    big = gpt.assign(width=[256, 512], depth=4, block_size=128, epochs=50)
    assert width.minimums_note(big) == "Our GPT runs meet every one of them."


@pytest.mark.parametrize("runs, settings", [(width.mlp_runs, width.MLP_SETTINGS), (width.gpt_runs, width.GPT_SETTINGS)])
def test_quick_runs_two_seeds_at_every_width_and_the_gpu_profile_two_at_the_ends_only(runs, settings):
    def seeds_per_width(profile):
        by_width = {}
        for c in runs(profile):
            by_width.setdefault(c.width, set()).add(c.seed)
        return {w: len(s) for w, s in sorted(by_width.items())}

    assert set(seeds_per_width("quick").values()) == {2}
    assert width.seeds_words(settings["quick"]) == "two seeds at every width"
    gpu = seeds_per_width("gpu")
    ends = {min(gpu), max(gpu)}
    assert {w: n for w, n in gpu.items() if w in ends} == {w: 2 for w in ends}
    assert set(n for w, n in gpu.items() if w not in ends) == {1}
    assert width.seeds_words(settings["gpu"]) == "two seeds at the narrowest and widest width and one between"


def test_the_grid_is_named_by_its_ends_and_steps_and_where_it_is_finer():
    words = lambda grid: width.grid_words(pd.DataFrame(dict(log2_lr=grid)))   # noqa: E731
    assert words(range(-14, -1)) == "log₂ LR -14 to -2, one octave apart"
    assert words(width.GPT_SETTINGS["quick"]["log2_lrs"]) == ("log₂ LR -12 to -2, one octave apart "
                                                              "and half an octave from -9 to -4")
    assert words([-6, -2]) == "log₂ LR -6 and -2"


def test_the_seeds_note_says_whether_every_seed_makes_each_move_that_counts():
    apart = jittered(SP_DRIFTS, {0: -0.3, 1: 0.3})
    note = width.seeds_note(apart, "final_train_loss", width.shift_tests(apart, "final_train_loss"))
    assert note == ("Each seed's own best log₂ LR: SP -3.30 and -2.70 at width 256, -5.30 and -4.70 at width 4,096: "
                    "every seed makes the move.")   # muP's 0.2 octaves does not count: not named
    # one seed of the widest width stays at the narrowest's optimum: the means move, not every seed
    per_seed = {0: {("sp", 256): -3.0, ("sp", 4096): -5.0, ("mup", 256): -3.0, ("mup", 4096): -3.0},
                1: {("sp", 256): -3.2, ("sp", 4096): -3.1, ("mup", 256): -3.2, ("mup", 4096): -3.2}}
    straddle = pd.concat([sweep(o, range(-10, 2)).assign(seed=s) for s, o in per_seed.items()], ignore_index=True)
    lenient = width.shift_tests(straddle, "final_train_loss", noise_multiple=0.5)
    assert lenient["sp"]["moves"]
    assert width.seeds_note(straddle, "final_train_loss", lenient).endswith(
        "SP's seeds overlap, and its move rests on the seed means.")
    assert width.seeds_note(straddle, "final_train_loss", width.shift_tests(straddle, "final_train_loss")) == ""
    assert width.seeds_note(sweep(SP_DRIFTS), "final_train_loss", lenient) == ""   # one seed per width


# -- Part 3: weight decay under muP

def test_the_decay_sweep_is_part_ones_muP_runs_at_one_rate_with_sgdw_on_the_normalised_grid():
    from lrlab.experiments.weight_decay import lambda_from_normalized
    s, d = width.MLP_SETTINGS["quick"], width.DECAY_SETTINGS["quick"]
    runs = width.mlp_decay_runs("quick")
    part_one = {c.id for c in width.mlp_runs("quick")}
    reference = [c for c in runs if c.weight_decay == 0]
    assert reference and all(c.id in part_one for c in reference)   # no new run without decay
    assert {(c.width, c.seed) for c in reference} == {(w, k) for w in s["widths"] for k in range(width.seeds_at(s, w))}
    assert all(c.parameterization == "mup" and c.lr == 2.0 ** d["log2_lr"] for c in runs)
    decayed = [c for c in runs if c.weight_decay > 0]
    assert all(c.optimizer == "sgdw" for c in decayed) and len(decayed) == len(reference) * len(d["log2_lambda_norms"])
    assert sorted({c.weight_decay for c in decayed}) == pytest.approx(
        [lambda_from_normalized(2.0 ** j, 64, 10 * s["per_class"], s["epochs"]) for j in d["log2_lambda_norms"]])
    frame = width.decay_frame(pd.DataFrame([dict(weight_decay=c.weight_decay, batch_size=c.batch_size, epochs=c.epochs,
                                                 train_per_class=c.train_per_class) for c in runs]))
    assert sorted(frame.log2_decay.dropna().unique()) == pytest.approx(d["log2_lambda_norms"])
    assert frame.log2_decay[frame.weight_decay == 0].isna().all()
    assert {c.width for c in width.mlp_decay_runs("gpu")} == set(width.DECAY_SETTINGS["gpu"]["widths"])
    for profile in width.MLP_SETTINGS:
        assert "mlp_decay" in width.parts(profile)
        chunk = next(c for c in width.chunks(profile) if c.name == "mlp_decay")
        assert list(chunk.runs) == width.mlp_decay_runs(profile) and chunk.tier == 2


def decay_sweep(optimum, seeds=(0, 1), grid=range(-9, -1), none=2.0, jitter=0.2, depth=0.02):
    """A made-up Part 3: test loss = 1.7 + depth * (log2 decay - optimum[w] - jitter * seed)^2 per width and seed,
    and `none` without decay (SGD, lambda 0). lambda is stored as the normalised decay times the sqrt(b / (B T))
    of batch 64 on 5,000 images for 5 epochs."""
    scale = np.sqrt(64 / (5000 * 5))
    rows = []
    for w, best in optimum.items():
        for seed in seeds:
            rows.append(dict(width=w, seed=seed, weight_decay=0.0, final_test_loss=none))
            rows += [dict(width=w, seed=seed, weight_decay=scale * 2.0 ** j,
                          final_test_loss=1.7 + depth * (j - best - jitter * seed) ** 2) for j in grid]
    frame = pd.DataFrame(rows).assign(parameterization="mup", lr=2.0 ** -7, batch_size=64, epochs=5,
                                      train_per_class=500, status="completed")
    return width.decay_frame(frame)


@pytest.mark.parametrize("optimum, seeds, none, word, said", [
    ({256: -5.0, 1024: -5.1, 2048: -4.9}, (0, 1), 2.0, "contradicted", "transfers under muP"),
    ({256: -6.0, 1024: -5.0, 2048: -4.0}, (0, 1), 2.0, "confirmed", "does not stay put"),
    ({256: -5.0, 1024: -5.1, 2048: -4.9}, (0, 1), 1.7, "not resolved", "No decay lowers the test loss"),
    ({256: -5.0, 1024: -5.1, 2048: -8.9}, (0, 1), 2.0, "not resolved", "grid's edge at width 2,048"),
    ({256: -5.0, 1024: -5.1, 2048: -4.9}, (0,), 2.0, "not resolved", "no seed noise measured"),
])
def test_the_decay_transfer_verdict_reads_the_best_decays_move_against_its_seed_noise(optimum, seeds, none, word,
                                                                                      said):
    verdict = width.decay_transfer_verdict(decay_sweep(optimum, seeds, none=none))
    assert verdict.word == word and said in verdict.text, verdict.text
    assert verdict.rule == width.DECAY_RULE and "no dropout" in verdict.text


def test_the_best_decay_per_width_is_the_refined_minimum_and_its_gain_is_read_against_no_decay():
    frame = decay_sweep({256: -5.3, 2048: -4.6}, jitter=0.0)
    best = width.decay_optima(frame).set_index("width").log2_decay_opt
    assert best[256] == pytest.approx(-5.3) and best[2048] == pytest.approx(-4.6)
    test = width.decay_shift_test(frame)
    assert test["shift"] == pytest.approx(0.7) and test["narrowest"] == 256 and test["width"] == 2048
    gains = width.decay_gains(frame).set_index("width")
    assert gains.loc[256, "none"] == 2.0 and gains.loc[256, "gap"] == pytest.approx(1.7 + 0.02 * 0.3 ** 2 - 2.0)
    table = width.decay_table(frame)
    assert list(table.width) == [256, 2048] and table["best λ_norm"].tolist() == pytest.approx([2 ** -5.3, 2 ** -4.6])
    assert "lowers the test loss by" in width.decay_gain_words(width.decay_gains(frame))
    one_seed = width.decay_gains(frame).assign(margin=float("nan"))
    assert width.decay_gain_words(one_seed).endswith("; no seed noise is measured to weigh the difference against.")


def test_the_decay_part_with_only_its_no_decay_runs_recorded_reads_as_not_yet_run():
    """At a profile where only Part 1's runs are in (they are Part 3's runs without decay), nothing breaks."""
    from lrlab.figures.lr_vs_width import decay_under_mup
    from lrlab.verdict import NOT_RESOLVED
    frame = decay_sweep({256: -5.0, 2048: -5.0})
    frame = frame[frame.weight_decay == 0]
    verdict = width.decay_transfer_verdict(frame)
    assert verdict.word == NOT_RESOLVED and "No run with weight decay" in verdict.text
    assert width.decay_table(frame).empty and width.decay_best_words(frame, (0.025, 0.05)) == ""
    assert width.decay_grid_words(frame).startswith("no decay yet")
    test = width.decay_shift_test(frame)
    decay_under_mup(width.decay_curves(frame), {256: 2.0, 2048: 2.0}, width.decay_optima(frame),
                    width.decay_seed_optima(frame), test)


def test_the_decay_grid_and_best_decays_are_said_from_the_records():
    frame = decay_sweep({256: -5.3, 2048: -4.6}, jitter=0.0)
    assert width.decay_grid_words(frame) == "8 normalised decays, log₂ λ_norm -9 to -2, one octave apart"
    assert width.decay_best_words(frame, (0.025, 0.05)).startswith(
        f"The best normalised decay lies between {2 ** -5.3:.3f} and {2 ** -4.6:.3f} across the widths")


def test_the_decay_sweeps_rate_is_placed_in_part_ones_muP_sweep():
    decay = decay_sweep({256: -5.0, 2048: -5.0})   # at log2 LR -7
    at_minus_7 = sweep({("mup", 256): -7.0, ("mup", 2048): -7.0, ("sp", 256): -4.0})
    assert width.decay_rate_words(at_minus_7, decay) == "the best training-loss rate of every muP width in Part 1"
    apart = sweep({("mup", 256): -7.0, ("mup", 2048): -6.0})
    assert width.decay_rate_words(apart, decay) == ("the best training-loss rate of muP width 256 in Part 1 "
                                                    "(width 2,048 at log₂ -6)")


# -- the sentences the chapter's prose glues: each says what the records say, whatever they say


def coords_of(readout, seeds=(1.0, 1.1)):
    """Made-up coordinate checks: the readout's mean |output| per (parameterization, t) and width, times each seed's
    factor (the same at every width, so the seed means keep the ratios given)."""
    return {p: pd.DataFrame([dict(width=w, module="readout", t=t, l1=l1 * s) for (q, t), at in readout.items()
                             if q == p for w, l1 in at.items() for s in seeds]) for p in ("sp", "mup")}


def test_the_coordinate_check_says_whose_logits_grow_with_width():
    def said(sp, mup):
        return width.coord_growth_words(coords_of({("sp", 3): {256: 1.0, 4096: sp}, ("mup", 3): {256: 1.0, 4096: mup}}))
    # over a 16-fold range, growth counts beyond a factor of 4 (the width's square root)
    assert said(10.0, 0.7).startswith("once training starts, SP's logits grow with width (faster than the width's "
                                      "square root) and muP's do not. The muP model is built right")
    assert "fails the check" in said(10.0, 8.0) and "as SP's do" in said(10.0, 8.0)
    assert "fails the check" in said(2.0, 8.0) and "as SP's do" not in said(2.0, 8.0)
    assert said(3.9, 1.0).startswith("neither parameterization's logits grow") and "muP model passes" in said(3.9, 1.0)


def test_the_coordinate_check_at_initialisation_is_read_against_its_seed_error():
    def at_init(mup, seeds=(1.0, 1.1), t=1):
        coords = coords_of({("sp", 1): {256: 0.4, 4096: 0.4}, ("mup", 1): {256: 0.4, 4096: 0.4 * mup}}, seeds)
        return width.coord_init_words(coords, t=t)
    # seeds 10% apart: log SD 0.067 at each width, and the ratio of two 2-seed means has that error too
    coords = coords_of({("sp", 1): {256: 0.4, 4096: 0.4}})
    assert width.readout_growth_error(coords["sp"], 1) == pytest.approx(np.log(1.1) / np.sqrt(2))
    assert at_init(0.25) == ("The measured factors, 1.00 under SP and 0.25 under muP, differ from these by sampling "
                             "noise: by less than 2 times their seed errors of 7% and 7% of each (the spread of two "
                             "seeds at each width, on one batch of 64 images).")
    off = at_init(0.2)   # log(0.2 / 0.25) is 3.3 seed errors
    assert off.startswith("The measured factors are 1.00 under SP and 0.20 under muP, with seed errors of 7% and 7%")
    assert off.endswith(": muP's lies 3.3 seed errors from its prediction, further than the spread of the seeds "
                        "accounts for.")
    assert "no seed error to read them against" in at_init(0.25, seeds=(1.0,))
    assert "these predictions are for initialisation, t = 1" in at_init(0.25, t=3)


def test_mups_factor_after_the_updates_lies_between_its_initial_one_and_one():
    def said(after):
        return width.coord_updates_words(coords_of({("mup", 1): {256: 1.0, 4096: 0.25},
                                                    ("mup", 3): {256: 1.0, 4096: after}}))
    assert said(0.7) == ("That is why muP's factor at t = 3, 0.70, is below 1, and nearer 1 than at t = 1, 0.25, as "
                         "the updates take over.")
    assert said(1.5).endswith("it is 1.50, which this argument does not explain.")
    assert said(0.2).endswith("it is 0.20, which this argument does not explain.")


FLAT_SP_MUP_NEAR = {("sp", 256): -3.0, ("sp", 4096): -3.0, ("mup", 256): -3.0, ("mup", 4096): -3.2}


def test_whether_a_move_is_real_reads_its_seed_noise_its_floor_and_the_grids_step():
    floored = width.shift_tests(jittered(FLAT_SP_MUP_NEAR, {0: 0.0, 1: 0.05}), "final_train_loss")["mup"]
    said = width.move_reality_words(floored, 1.0)
    assert said.startswith("It is beyond the seed noise (") and "but under the 0.5-octave floor." in said
    assert "a factor of 1.15 in the learning rate, a fraction of the grid's step of one octave, and it comes " \
        "from a parabola" in said
    drifts = width.shift_tests(jittered(SP_DRIFTS, {0: 0.0, 1: 0.05}), "final_train_loss")["sp"]
    said = width.move_reality_words(drifts, 1.0)
    assert said.startswith("By the book's rule it is:") and said.endswith("more than the grid's step of one octave.")
    noisy = width.shift_tests(jittered(FLAT_SP_MUP_NEAR, {0: -1.0, 1: 1.0}), "final_train_loss")["mup"]
    assert width.move_reality_words(noisy, 1.0).startswith("Not by the seed noise: it is 0.1 times its seed noise")
    one_seed = width.shift_tests(sweep(FLAT_SP_MUP_NEAR), "final_train_loss")["mup"]
    assert width.move_reality_words(one_seed, 1.0).startswith("With one seed per width no seed noise is measured")
    assert width.grid_step(sweep(FLAT_SP_MUP_NEAR, log2_lrs=[-8, -7, -6.5, -6, -4])) == 2.0


def test_the_shared_band_in_words_names_its_rates_or_what_one_rate_costs():
    frame = sweep({("sp", 256): -3.0, ("sp", 1024): -5.0, ("mup", 256): -4.0, ("mup", 1024): -4.0}, depth=1.0)
    assert width.band_words(frame, "final_train_loss", "sp", "the GPT") == "Under SP the GPT has none."
    assert width.band_words(frame, "final_train_loss", "mup", "the GPT") == "Under muP the GPT has one, log₂ LR -4."
    flat = sweep({("sp", 256): -4.0, ("mup", 256): -4.0}, depth=0.01)
    assert width.band_words(flat, "final_train_loss", "sp", "the MLP") == "Under SP the MLP has 7, log₂ LR -7 to -1."
    assert width.band_cost_words(frame, "final_train_loss", "mup") == \
        "one rate (log₂ LR -4) serves every width within 1% of its own best loss."
    assert width.band_cost_words(frame, "final_train_loss", "sp") == (
        "no one rate serves every width within 1% of its own best loss; the best single rate, log₂ LR -4, leaves "
        "the worst width 10.0% above its own.")
    loose = width.band_cost_words(frame, "final_train_loss", "sp", tol=0.45)   # one octave off costs 40%
    assert loose == "three rates (log₂ LR -5, -4, -3) serve every width within 45% of its own best loss."


def test_whether_a_verdict_rests_on_the_floor_is_read_by_lowering_it():
    floored = jittered(FLAT_SP_MUP_NEAR, {0: 0.0, 1: 0.05})   # muP's 0.2 octaves: beyond the noise, under the floor
    assert width.floor_rests_words(floored, "final_train_loss", "The MLP", "the MLP", 0.1) == \
        'the chapter\'s "not resolved" for the MLP rests on it.'
    still = jittered({("sp", 256): -3.0, ("sp", 4096): -3.0, ("mup", 256): -3.0, ("mup", 4096): -3.0},
                     {0: 0.0, 1: 0.05})
    assert width.floor_rests_words(still, "final_train_loss", "The MLP", "the MLP", 0.1) == \
        'the chapter\'s "not resolved" for the MLP does not rest on it: with the floor at 0.1 octave it stays.'


def test_how_strict_the_rule_can_get_is_read_against_the_floor_and_students_t():
    assert width.strict_bound_words(dict(shift=-2.0)) == "lets SP's shift count as long as *k* stays below"
    assert width.strict_bound_words(dict(shift=0.3)).startswith("does not count SP's shift at any *k*: it lies under "
                                                                "the 0.5-octave floor.")

    def margin(noise, moves=True, dof=6):   # Student's t at 6 degrees of freedom: 2.45
        return width.strict_margin_words(dict(shift=-2.0, noise=noise, moves=moves), dof, "the GPT")
    assert margin(0.1) == "nowhere near 20. SP's drift in the GPT is no artefact of a lenient rule."
    assert margin(0.5).startswith("still below 4.0: SP's drift in the GPT survives that stricter test")
    assert margin(0.9).startswith("above 2.2: at that test SP's drift in the GPT would not count")
    assert "does not count even under the book's rule" in margin(1.5, moves=False)
    assert "no seed noise measured" in margin(float("nan"), moves=None, dof=0)


def test_a_stricter_rule_can_change_a_verdict_only_where_a_move_counts():
    floored = jittered(FLAT_SP_MUP_NEAR, {0: 0.0, 1: 0.05})
    assert width.stricter_words(floored, "final_train_loss", "The MLP", "The MLP", 20.0).startswith(
        "The MLP's verdict cannot change in this direction: none of its moves counts")
    drifts = jittered(SP_DRIFTS, {0: 0.0, 1: 0.05})
    said = width.stricter_words(drifts, "final_train_loss", "The MLP", "The MLP", 100.0)
    assert said.startswith("The MLP's verdict can change in this direction, as a move of its optimum counts (SP's "
                           "largest move is ")
    assert said.endswith("; at a multiple of 100 it changes from confirmed to **not resolved**.")


def test_the_drift_to_pay_for_names_the_parameterizations_whose_optimum_moves():
    def tests(sp, mup):
        return {"sp": dict(moves=sp), "mup": dict(moves=mup)}
    assert width.drift_words(tests(False, False), "The MLP") == \
        "The MLP at this scale has no drift to pay for under either parameterization"
    assert width.drift_words(tests(True, False), "The MLP") == "The MLP at this scale drifts under SP only"
    assert width.drift_words(tests(True, True), "The MLP") == \
        "The MLP at this scale drifts under both parameterizations"
    assert "no seed noise" in width.drift_words(tests(None, None), "The MLP")


def lopsided(optimum, seeds=(0, 1), log2_lrs=range(-8, 0)):
    """A made-up sweep whose loss rises gently below each optimum and steeply above it (toward divergence)."""
    rows = [dict(parameterization=p, width=w, lr=2.0 ** k, seed=seed, status="completed",
                 final_test_loss=1 + (0.02 if k <= best else 0.5) * (k - best) ** 2 + 0.001 * seed)
            for (p, w), best in optimum.items() for k in log2_lrs for seed in seeds]
    return width.sweep_frame(pd.DataFrame(rows))


def test_the_first_shared_rate_and_what_mup_buys_are_read_off_the_sweep():
    drifting = {("sp", 32): -3.0, ("sp", 128): -5.0, ("mup", 32): -4.0, ("mup", 128): -4.0}
    frame = lopsided(drifting)
    tests = width.shift_tests(frame, "final_test_loss")
    said = width.sp_gap_words(frame, "final_test_loss", tests["sp"], "the GPT")
    assert said.startswith("Under SP the GPT's optima drift by up to ")
    assert "It does not sit halfway" in said and said.endswith("lies nearer the widest net's, where the narrow nets "
                                                               "are merely slow.")
    bought = width.mup_gap_words(frame, "final_test_loss", tests)
    assert bought.startswith("Under muP the optima lie closer together")
    assert "within the shift test's threshold" in bought
    assert bought.endswith("under SP. That gap is what muP buys.") and "costs little: 0.0% under muP" in bought
    # no drift anywhere: no story about the curves' shape, and nothing for muP to buy
    still = lopsided({("sp", 32): -4.0, ("sp", 128): -4.0, ("mup", 32): -4.0, ("mup", 128): -4.0})
    still_tests = width.shift_tests(still, "final_test_loss")
    said = width.sp_gap_words(still, "final_test_loss", still_tests["sp"], "the GPT")
    assert "within the shift test's threshold" in said and "It does not sit halfway" not in said
    assert width.mup_gap_words(still, "final_test_loss", still_tests).endswith("Here muP buys nothing.")


def test_the_width_exponents_words_follow_the_fit():
    assert width.fit_through_words([64, 128]) == "(with two widths an octave apart, the difference of their log₂ η)"
    assert width.fit_through_words([128, 256, 512, 1024]) == "(a least-squares slope through four widths)"
    assert width.spread_words([32, 64, 128], [64, 128]) == "from 2 to 1/2 here"
    assert width.spread_words([64, 128, 256, 512, 1024], [128, 256, 512, 1024]) == "from 10 to 5 here"
    assert (width.fell_or_rose(-1.9), width.fell_or_rose(0.3)) == ("fell", "rose")
    assert (width.slope_verb(-0.9, 0.1), width.slope_verb(0.5, 0.1), width.slope_verb(-0.1, 0.1)) == \
        ("falls", "rises", "moves")
    assert width.exponent_theory_words(-0.94, 0.09) == "Why −1 rather than −1/2:"
    # within two errors of both -1 and -1/2: only nearer one
    assert width.exponent_theory_words(-0.8, 0.2).startswith("Why nearer −1 than −1/2")
    assert width.exponent_theory_words(-0.6, 0.05).startswith("SP's exponent over every width, -0.60, lies nearer")
    assert width.mup_fit_words(-0.40, 0.18).endswith("more than two errors from the 0 muP is built for, is the "
                                                     "warning.")
    assert "lies within two errors of the 0" in width.mup_fit_words(0.05, 0.1)
    assert "nan" not in width.mup_fit_words(float("nan"), float("nan"))
    assert "nan" not in width.exponent_verdicts(0.0, float("nan"))[0].number


def test_the_gpt_prose_reads_its_head_size_and_its_range_against_gpt3s_from_the_code():
    assert all(w % width.gpt_head_size() == 0 for s in width.GPT_SETTINGS.values() for w in s["widths"])
    assert width.gpt3_range_words([32, 64, 128]) == \
        "its much narrower range of widths (4-fold, against GPT-3's 16-fold)"
    assert width.gpt3_range_words([64, 1024]) == \
        "a range of widths as wide in ratio (16-fold, against GPT-3's 16-fold)"


def test_the_coordinate_check_figure_draws_its_last_step_solid_whatever_the_number_of_steps():
    from lrlab.figures.lr_vs_width import coord_check
    frame = pd.DataFrame([dict(width=w, module="readout", t=t, l1=float(w * t))
                          for w in (64, 128) for t in (1, 2, 3, 4)])
    fig = coord_check({"sp": frame, "mup": frame})
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_lines()}
    assert styles == {"readout, t = 1": ":", "readout, t = 4": "-"}
    assert width.COORD_STEPS == 3 and width.readout_growth(frame) == pytest.approx(2.0)   # read at t = COORD_STEPS
