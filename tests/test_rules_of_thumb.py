"""The rules-of-thumb chapter: its declarations (equal budgets, a grid per variant) and its verdict rules."""
import math

import numpy as np
import pandas as pd
import pytest

from lrlab.experiments import rules_of_thumb as rot
from lrlab.verdict import CONFIRMED, CONTRADICTED, NOT_RESOLVED


def test_every_schedule_gets_the_same_budget_and_the_same_grid_of_peak_rates():
    runs = rot.schedule_runs("quick")
    by_policy = {}
    for config in runs:
        by_policy.setdefault(config.schedule, []).append(config)
    assert set(by_policy) == {schedule for schedule, _ in rot.SCHEDULE_POLICIES.values()}
    assert len({(c.epochs, c.batch_size, c.train_per_class, c.model) for c in runs}) == 1
    grids = {s: sorted(c.lr for c in configs if c.seed == 0) for s, configs in by_policy.items()}
    assert len({tuple(g) for g in grids.values()}) == 1
    repeated = {c.schedule for c in runs if c.seed > 0}
    assert repeated == {rot.SCHEDULE_POLICIES[label][0] for label in rot.SEED_REPEATS}


def test_the_warmup_sweep_reaches_adams_0_1_and_repeats_the_compared_warmups():
    runs = rot.warmup_runs("quick")
    assert {c.schedule_args["warmup"] for c in runs} == set(rot.WARMUPS)
    assert any(abs(math.log2(c.lr / rot.ADAM_CLAIM_LR)) <= 0.5 for c in runs)
    assert {c.schedule_args["warmup"] for c in runs if c.seed > 0} == set(rot.WARMUP_REPEATS)
    assert {c.optimizer for c in runs} == {"adam"}


def _schedules(acc, repeats=(-1.0, 1.0)):
    """A made-up schedule frame: `acc` policy -> accuracies over the log2 grid -3..-1 (NaN: diverged),
    and repeats of cosine and step at 2^-2, `repeats` points off the seed-0 run there (SD 1 by default)."""
    rows = []
    for policy, values in acc.items():
        for k, value in zip((-3, -2, -1), values):
            rows.append(dict(policy=policy, lr=2.0 ** k, seed=0, acc=value, id=f"{policy}{k}",
                             status="diverged" if np.isnan(value) else "completed"))
        if policy in ("cosine", "step"):
            rows += [dict(policy=policy, lr=0.25, seed=s, acc=values[1] + r, id=f"{policy}-s{s}", status="completed")
                     for s, r in enumerate(repeats, start=1)]
    return pd.DataFrame(rows)


def test_best_cells_pick_from_seed_zero_and_report_what_diverged():
    frame = _schedules({"cosine": [50.0, 60.0, np.nan], "step": [55.0, 52.0, 51.0]})
    best = rot.best_cells(frame, "policy", "acc", ["step", "cosine", "absent"])
    assert list(best.index) == ["step", "cosine"]
    assert best.loc["cosine", "acc"] == 60.0 and best.loc["cosine", "best lr"] == 0.25
    assert best.loc["cosine", "diverged"] == 1 and best.loc["cosine", "largest lr not diverged"] == 0.25
    assert best.loc["step", "rates"] == 3 and best.loc["step", "id"] == "step-3"
    sd, dof = rot.seed_noise(frame, "policy", "acc")
    assert dof == 4 and sd == pytest.approx(1.0)   # each repeat group: seed 0 and its two repeats


def test_the_sweep_captions_count_the_diverged_runs_and_say_when_two_best_curves_coincide():
    frame = _schedules({"constant": [50.0, 60.0, np.nan], "step": [55.0, 61.0, 51.0]})
    assert rot.crosses_words(frame) == "crosses: the one run that diverged"
    assert rot.crosses_words(frame[frame.status != "diverged"]) == "no run diverged"
    best = rot.best_cells(frame, "policy", "acc", ["constant", "step"])
    assert rot.coinciding_words(best).startswith("The constant rate's curve lies under step decay's") and \
        "both best runs have the peak 0.25" in rot.coinciding_words(best)
    best.loc["step", "best lr"] = 0.5
    assert rot.coinciding_words(best) == ""


@pytest.mark.parametrize("cosine, word", [(70.0, CONFIRMED), (50.0, CONTRADICTED), (61.0, NOT_RESOLVED)])
def test_cosine_beats_step_only_beyond_seed_noise(cosine, word):
    frame = _schedules({"cosine": [cosine, 40.0, 40.0], "step": [60.0, 40.0, 40.0]})
    best = rot.best_cells(frame, "policy", "acc", rot.SCHEDULE_POLICIES)
    verdict = rot.cosine_step_verdict(best, rot.seed_noise(frame, "policy", "acc")[0])   # margin 2.8
    assert verdict.word == word, verdict.text


def test_without_seed_noise_no_schedule_wins():
    frame = _schedules({"cosine": [90.0, 40.0, 40.0], "step": [60.0, 40.0, 40.0]}, repeats=())
    best = rot.best_cells(frame, "policy", "acc", rot.SCHEDULE_POLICIES)
    assert rot.cosine_step_verdict(best, float("nan")).word == NOT_RESOLVED


@pytest.mark.parametrize("linear, word", [(59.0, CONFIRMED), (70.0, CONFIRMED), (50.0, CONTRADICTED)])
def test_matching_cosine_means_not_below_it_beyond_noise(linear, word):
    frame = _schedules({"cosine": [60.0, 40.0, 40.0], "step": [40.0, 40.0, 40.0],
                        "linear to zero": [linear, 40.0, 40.0]})
    best = rot.best_cells(frame, "policy", "acc", rot.SCHEDULE_POLICIES)
    sd = rot.seed_noise(frame, "policy", "acc")[0]
    assert rot.matches_cosine_verdict(best, sd, "linear to zero", "them").word == word


def _warmups(loss, zero_at_top="completed", top_loss=None, repeats=(-0.01, 0.01)):
    """A made-up warmup frame: `loss` warmup -> validation losses over log2 -5..-3 (2^-3 = 0.125), with
    repeats of no warmup and 10% at 2^-4, `repeats` off the seed-0 run there (SD 0.01)."""
    rows = []
    for warmup, values in loss.items():
        for k, value in zip((-5, -4, -3), values):
            status = zero_at_top if (warmup == 0.0 and k == -3) else "completed"
            value = (top_loss if top_loss is not None else value) if (warmup == 0.0 and k == -3) else value
            rows.append(dict(warmup=warmup, lr=2.0 ** k, seed=0, status=status, id=f"{warmup}{k}",
                             loss=np.nan if status == "diverged" else value,
                             diverged_at_step=7 if status == "diverged" else None))
        if warmup in rot.WARMUP_REPEATS:
            rows += [dict(warmup=warmup, lr=2.0 ** -4, seed=s, status="completed", loss=values[1] + r, id=f"{warmup}s{s}",
                          diverged_at_step=None) for s, r in enumerate(repeats, start=1)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("with_warmup, word", [(1.50, CONFIRMED), (1.90, CONTRADICTED), (1.78, NOT_RESOLVED)])
def test_warmup_is_needed_when_the_best_with_it_beats_the_best_without_beyond_noise(with_warmup, word):
    frame = _warmups({0.0: [1.8, 1.9, 2.0], 0.05: [with_warmup, 2.0, 2.0], 0.1: [2.0, 2.0, 2.0]})
    best = rot.best_cells(frame, "warmup", "loss", rot.WARMUPS, lower_is_better=True)
    verdict = rot.warmup_verdict(best, rot.seed_noise(frame, "warmup", "loss")[0])   # margin about 0.03
    assert verdict.word == word, verdict.text


@pytest.mark.parametrize("status, top_loss, word", [("diverged", None, CONFIRMED), ("completed", 1.81, CONTRADICTED),
                                                    ("completed", 2.5, NOT_RESOLVED)])
def test_adam_at_0_1_diverges_or_trains(status, top_loss, word):
    frame = _warmups({0.0: [1.8, 1.9, 2.0], 0.1: [1.8, 1.9, 2.0]}, zero_at_top=status, top_loss=top_loss)
    best = rot.best_cells(frame, "warmup", "loss", rot.WARMUPS, lower_is_better=True)
    verdict = rot.adam_divergence_verdict(frame, best, rot.seed_noise(frame, "warmup", "loss")[0], 200)
    assert verdict.word == word, verdict.text
    if word == CONFIRMED:
        assert "step 7 of 200" in verdict.text


def test_a_grid_that_stops_short_of_0_1_cannot_say():
    frame = _warmups({0.0: [1.8, 1.9, 2.0]})
    frame = frame[frame.lr < 0.1]
    best = rot.best_cells(frame, "warmup", "loss", rot.WARMUPS, lower_is_better=True)
    assert rot.adam_divergence_verdict(frame, best, 0.01, 200).word == NOT_RESOLVED


def test_a_gap_near_its_margin_is_called_a_close_call():
    assert rot.close_call(0.094, 0.090) and rot.close_call(-0.08, 0.09)
    assert not rot.close_call(0.2, 0.09) and not rot.close_call(0.01, 0.09)


def test_the_close_call_fraction_can_be_turned_and_a_missing_margin_is_never_a_close_call():
    assert rot.close_call(0.088, 0.1) and not rot.close_call(0.088, 0.1, within=0.1)   # 12% off its margin
    assert "within 10% of the margin" in rot.close_call(0.095, 0.1, within=0.1)
    assert not rot.close_call(float("nan"), float("nan")) and not rot.close_call(0.1, float("nan"))


def test_close_calls_tables_the_four_comparisons_against_their_margins():
    frame = _schedules({"cosine": [62.5, 40.0, 40.0], "step": [60.0, 40.0, 40.0],
                        "linear to zero": [70.0, 40.0, 40.0], "warmup-stable-decay": [60.0, 40.0, 40.0]})
    best = rot.best_cells(frame, "policy", "acc", rot.SCHEDULE_POLICIES)
    sd = rot.seed_noise(frame, "policy", "acc")[0]                        # 1: every schedule margin 2.83
    warm = _warmups({0.0: [1.8, 1.9, 2.0], 0.05: [1.78, 2.0, 2.0], 0.1: [2.0, 2.0, 2.0]})
    wbest = rot.best_cells(warm, "warmup", "loss", rot.WARMUPS, lower_is_better=True)
    table = rot.close_calls(best, sd, wbest, rot.seed_noise(warm, "warmup", "loss")[0])
    assert list(table.comparison) == [c[0] for c in rot.COMPARISONS.values()]
    row = table.set_index("comparison").loc["cosine against step decay"]
    assert row["gap"] == pytest.approx(2.5) and row["|gap| / margin"] == pytest.approx(2.5 / (2 * math.sqrt(2)))
    assert list(table["close call"]) == ["yes", "no", "yes", "no"]      # 0.88 and 0.88 of the margin
    assert list(rot.close_calls(best, sd, wbest, 0.01, within=0.1)["close call"]) == ["no", "no", "no", "no"]
    empty = rot.close_calls(best.iloc[:0], sd, wbest.iloc[:0], float("nan"))
    assert list(empty["close call"]) == ["no"] * 4


class _Chapter:
    """Just enough of `Chapter` for `verdicts`: the made-up frames as a chapter's runs."""

    def __init__(self, schedules, warmups):
        label = {label: schedule for label, (schedule, _) in rot.SCHEDULE_POLICIES.items()}
        self.frames = {
            "schedules": schedules.assign(schedule=schedules.policy.map(label), final_test_acc=schedules.acc / 100)
            .drop(columns=["policy", "acc"]),
            "warmup": warmups.assign(schedule_args=[{"warmup": w} for w in warmups.warmup],
                                     final_test_loss=warmups.loss, final_steps=200).drop(columns=["warmup", "loss"])}

    def has(self, part):
        return part in self.frames

    def runs(self, part):
        return self.frames[part]

    def profile_of(self, part):
        return "quick"


def test_scaling_the_seed_sds_scales_every_margin_and_only_flips_the_words_between_the_two_margins():
    chapter = _Chapter(_schedules({"cosine": [66.0, 40.0, 40.0], "step": [60.0, 40.0, 40.0]}),
                       _warmups({0.0: [1.8, 1.9, 2.0], 0.05: [1.75, 2.0, 2.0], 0.1: [2.0, 2.0, 2.0]}))
    book, noisier = rot.verdicts(chapter), rot.verdicts(chapter, sd_scale=2.0)
    assert book["cosine_beats_step"].word == CONFIRMED and "margin 2.8" in book["cosine_beats_step"].number
    assert noisier["cosine_beats_step"].word == CONFIRMED and "margin 5.7" in noisier["cosine_beats_step"].number
    assert book["warmup_needed"].word == CONFIRMED and noisier["warmup_needed"].word == NOT_RESOLVED   # gap 0.05
    assert rot.verdicts(chapter, sd_scale=3.0)["cosine_beats_step"].word == NOT_RESOLVED               # 6 < 8.5
    assert {n: v.word for n, v in rot.verdicts(chapter, sd_scale=1.0).items()} == {n: v.word for n, v in book.items()}


def test_cells_at_reads_every_variant_at_the_grid_rate_nearest_one_shared_rate():
    frame = _warmups({0.0: [1.8, 1.9, 2.0], 0.1: [1.95, 1.7, 1.9]})
    own = rot.best_cells(frame, "warmup", "loss", rot.WARMUPS, lower_is_better=True)
    assert list(own["best lr"]) == [2.0 ** -5, 2.0 ** -4]
    shared = rot.cells_at(frame, "warmup", "loss", rot.WARMUPS, 0.07, lower_is_better=True)   # nearest 2^-4
    assert list(shared["best lr"]) == [2.0 ** -4, 2.0 ** -4] and list(shared.rates) == [1, 1]
    assert list(shared.loss) == [1.9, 1.7]                 # seed 0 only, though 2^-4 has repeats
    sd = rot.seed_noise(frame, "warmup", "loss")[0]
    assert rot.warmup_verdict(shared, sd).word == CONFIRMED                 # -0.2 at 2^-4
    at_none = rot.cells_at(frame, "warmup", "loss", rot.WARMUPS, 2.0 ** -5, lower_is_better=True)
    assert rot.warmup_verdict(at_none, sd).word == CONTRADICTED            # +0.15 at no warmup's best
    assert rot.cells_at(frame.iloc[:0], "warmup", "loss", rot.WARMUPS, 0.07).empty


def test_the_exercises_answers_are_read_from_the_records_not_typed():
    frame = _schedules({"cosine": [62.5, 40.0, 40.0], "step": [60.0, 40.0, 40.0],
                        "linear to zero": [70.0, 40.0, 40.0], "warmup-stable-decay": [60.0, 40.0, 40.0]})
    best, sd = rot.best_cells(frame, "policy", "acc", rot.SCHEDULE_POLICIES), rot.seed_noise(frame, "policy", "acc")[0]
    warm = _warmups({0.0: [1.8, 1.9, 2.0], 0.05: [1.78, 2.0, 2.0], 0.1: [2.0, 2.0, 2.0]})
    wbest = rot.best_cells(warm, "warmup", "loss", rot.WARMUPS, lower_is_better=True)
    wsd = rot.seed_noise(warm, "warmup", "loss")[0]
    book, tighter = rot.close_calls(best, sd, wbest, wsd), rot.close_calls(best, sd, wbest, wsd, within=0.1)
    said = rot.close_call_change_words(book, tighter, 0.1)
    # cosine's lead and warmup-stable-decay's shortfall sit at 0.88 of their margins: flagged at 20%, not at 10%
    assert "cosine against step decay at 0.88" in said and "lose their flags" in said
    assert "an SD about 12% smaller would make the gap of cosine against step decay count" in rot.sd_move_words(book)
    assert rot.sd_move_words(tighter.assign(**{"close call": "no"})).startswith("No comparison")

    chapter = _Chapter(_schedules({"cosine": [66.0, 40.0, 40.0], "step": [60.0, 40.0, 40.0]}),
                       _warmups({0.0: [1.8, 1.9, 2.0], 0.05: [1.75, 2.0, 2.0], 0.1: [2.0, 2.0, 2.0]}))
    verdicts = rot.verdicts(chapter)
    changed = rot.changed_words(verdicts, rot.verdicts(chapter, sd_scale=2.0))
    assert "*include 5-10% warmup* (confirmed → not resolved" in changed and changed.endswith("The other 4 stay.")
    assert rot.changed_words(verdicts, verdicts) == "No word changes (all 5 stay)."
    assert "include 5-10% warmup* (at 2.00x: not resolved)" in rot.sd_range_words(chapter, verdicts, 0.9, 2.0)


def test_the_shared_rate_answer_says_where_warmup_moves_the_best_rate_and_what_it_costs_there():
    # no warmup is best at 2^-5, 10% at 2^-4: shared at 2^-4, warmup wins; shared at 2^-5, it loses
    frame = _warmups({0.0: [1.8, 1.9, 2.0], 0.1: [1.95, 1.7, 1.9]})
    best = rot.best_cells(frame, "warmup", "loss", rot.WARMUPS, lower_is_better=True)
    said = rot.shared_rate_words(frame, best, rot.seed_noise(frame, "warmup", "loss")[0], 2.0 ** -4)
    assert said["best_at"] == "where 10% warmup does best"
    assert "a gap of -0.200" in said["shared"] and "**confirmed**" in said["shared"]
    assert said["moves"] == "Warmup moves Adam's best peak rate up here, from 0.0312 without it to 0.0625 with 10%"
    assert "removing it costs +0.200 (confirmed)" in said["tuned"] and "(contradicted)" in said["tuned"]
    assert said["tuned"].endswith("the shared rate decides the answer.")
    alone = rot.shared_rate_words(frame[frame.warmup == 0.1], best.loc[[0.1]], 0.01, 2.0 ** -4)
    assert set(alone.values()) == {"No run without warmup or with 5-10% warmup is recorded."}
    # at no warmup's own best rate (2^-5) the 10% run diverged: that gap is not measured, and says so
    frame.loc[(frame.warmup == 0.1) & (frame.lr == 2.0 ** -5), ["status", "loss", "diverged_at_step"]] = \
        ["diverged", np.nan, 7]
    best = rot.best_cells(frame, "warmup", "loss", rot.WARMUPS, lower_is_better=True)
    said = rot.shared_rate_words(frame, best, rot.seed_noise(frame, "warmup", "loss")[0], 2.0 ** -4)
    assert "adding it cannot be measured: a run at that rate diverged (" in said["tuned"]
    assert "nan" not in said["tuned"] and "nan" not in said["shared"]


def test_the_batch_answer_scales_both_margins_and_reads_the_word_at_each():
    frame = _batch({"decay the rate": [49.0, 49.5, 50.0], "grow the batch": [47.0, 47.5, 48.0],
                    "neither": [30.0, 40.0, 50.0]})
    said = rot.batch_scaled_words(frame, 3.0)
    assert said.startswith("Growing the batch ends 2.00 points behind step decay")
    assert "the word is **not resolved** (the book's: **contradicted**)" in said and "stops counting at 3x" in said
    assert rot.batch_scaled_words(frame[frame.arm != "neither"], 2.0).endswith("not all recorded.")


def test_sd_range_is_the_chi_square_interval_of_a_measured_sd():
    lo, hi = rot.sd_range(4)
    assert lo == pytest.approx(0.60, abs=0.01) and hi == pytest.approx(2.87, abs=0.03)
    assert rot.sd_range(40)[1] < 1.3 < hi                    # more repeats, a tighter range
    assert all(math.isnan(x) for x in rot.sd_range(0))
    assert rot.sd_range_sentence(4, lo, hi).startswith("With 4 degrees of freedom, the true SD lies between 0.60 and")
    assert rot.sd_range_sentence(0, *rot.sd_range(0)).startswith("With no degree of freedom there is no measured SD")
    assert rot.sd_range_words(None, {}, *rot.sd_range(0)) == ""        # nothing to scale, nothing read


def test_a_seed_sd_in_words_or_why_there_is_none():
    assert rot.seed_sd_words(0.0123, 4, "validation loss") == "seed SD 0.012 in validation loss (4 degrees of freedom)"
    assert rot.seed_sd_words(0.0123, 1, "test accuracy").endswith("(1 degree of freedom)")
    assert rot.seed_sd_words(float("nan"), 0, "validation loss") == ("no seed SD in validation loss: no cell has two "
                                                                      "seeds that trained")


def test_schedule_shapes_follow_the_closed_forms_and_the_cooldown_knob_moves_only_wsd():
    book = rot.schedule_shapes(100).set_index("policy")
    longer = rot.schedule_shapes(100, wsd_decay=0.5).set_index("policy")
    assert book.loc["warmup-stable-decay", "at 75%"] == 1.0 and book.loc["warmup-stable-decay", "at 90%"] == 0.5
    assert longer.loc["warmup-stable-decay", "at 75%"] == pytest.approx(0.5)       # (1 - 0.75) / 0.5
    assert longer.loc["warmup-stable-decay", "at 90%"] == pytest.approx(0.2)
    assert longer.loc["warmup-stable-decay", "mean over the run"] == pytest.approx(1 - 0.05 / 2 - 0.5 / 2)
    assert book.loc["cosine", "at 50%"] == pytest.approx(0.5) and book.loc["step", "at 75%"] == pytest.approx(0.01)
    assert book.drop("warmup-stable-decay").equals(longer.drop("warmup-stable-decay"))


def test_the_batch_arms_share_everything_but_the_decay_or_the_growth():
    for profile in ("smoke", "quick", "gpu", "full"):
        runs = rot.batch_runs(profile)
        s = rot.BATCH_SETTINGS[profile]
        assert len(runs) == len(rot.BATCH_ARMS) * s["seeds"]
        assert len({(c.model, c.lr, c.batch_size, c.epochs, c.train_per_class, c.momentum, c.weight_decay)
                    for c in runs}) == 1
        assert {rot.arm_of(c.to_dict()) for c in runs} == set(rot.BATCH_ARMS)
        # the grown batch never outgrows the training set
        images = 10 * (s["per_class"] or 5000)
        assert s["batch"] * rot.BATCH_FACTOR ** len(rot.BATCH_MILESTONES) < images
        # the rate falls where the batch grows: the two arms' noise scales coincide epoch by epoch
        decay, grow, neither = (next(c for c in runs if rot.arm_of(c.to_dict()) == arm).to_dict()
                                for arm in rot.BATCH_ARMS)
        assert rot.noise_path(decay) == pytest.approx(rot.noise_path(grow))
        assert rot.noise_path(neither) == [1.0] * s["epochs"]
    assert rot.noise_path(decay)[-1] == pytest.approx(1 / 25)
    assert "batch" in {chunk.name for chunk in rot.chunks("gpu")}


def _batch(acc, updates=(100, 60, 100)):
    """A made-up part-3 frame: `acc` arm -> test accuracies of its seeds (NaN: diverged)."""
    growth = {"milestones": rot.BATCH_MILESTONES, "factor": rot.BATCH_FACTOR}
    rows = [dict(arm=arm, lr=0.1, seed=i, acc=a, id=f"{arm}{i}", updates=n, epochs=12, batch_size=32,
                 train_per_class=300, batch_growth=growth if arm == "grow the batch" else {},
                 status="diverged" if np.isnan(a) else "completed")
            for (arm, values), n in zip(acc.items(), updates) for i, a in enumerate(values)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("grow, neither, word", [
    ([47.0, 48.0, 49.0], [35.0, 36.0, 37.0], CONFIRMED),       # grow matches decay, and decay matters
    ([43.0, 44.0, 45.0], [35.0, 36.0, 37.0], CONTRADICTED),    # grow falls behind beyond noise
    ([52.0, 53.0, 54.0], [35.0, 36.0, 37.0], CONTRADICTED),    # or gets ahead: not the same effect either
    ([47.0, 48.0, 49.0], [47.5, 48.5, 49.5], NOT_RESOLVED),    # decaying the rate does nothing here
])
def test_batch_growth_matches_decay_only_where_the_decay_itself_matters(grow, neither, word):
    frame = _batch({"decay the rate": [47.5, 48.5, 49.5], "grow the batch": grow, "neither": neither})
    verdict = rot.batch_growth_verdict(frame)
    assert verdict.word == word and "60 updates against 100" in verdict.number
    arms = rot.batch_arms(frame)
    assert list(arms.index) == list(rot.BATCH_ARMS) and arms.loc["grow the batch", "updates"] == 60
    # quick's set-up: 93 batches an epoch; the last 3 epochs take ceil(93 / 25) = 4 updates each when grown
    assert arms["after the last milestone"].to_dict() == {"decay the rate": 279, "grow the batch": 12, "neither": 279}


def test_batch_growth_without_every_arm_or_its_noise_cannot_say():
    assert rot.batch_growth_verdict(_batch({"decay the rate": [48.0], "grow the batch": [48.0]})).word == NOT_RESOLVED
    one_seed = _batch({"decay the rate": [48.0], "grow the batch": [48.0], "neither": [30.0]})
    assert rot.batch_growth_verdict(one_seed).word == NOT_RESOLVED


def test_each_batch_comparison_pools_only_its_two_arms_seed_noise():
    # the constant rate's seeds scatter widely; that must not widen the margin between the two quiet arms
    frame = _batch({"decay the rate": [49.0, 49.5, 50.0], "grow the batch": [47.0, 47.5, 48.0],
                    "neither": [30.0, 40.0, 50.0]})
    gap, margin, sign = rot.arm_gap(frame, "grow the batch", "decay the rate")
    assert gap == pytest.approx(-2.0) and margin == pytest.approx(2 * 0.5 * math.sqrt(2 / 3)) and sign == -1
    assert rot.batch_growth_verdict(frame).word == CONTRADICTED
    assert rot.batch_growth_verdict(frame, sd_scale=3.0).word == NOT_RESOLVED   # 3x the SDs: both gaps within noise
    assert rot.arm_gap(frame, "decay the rate", "neither")[1] == pytest.approx(2 * math.sqrt(50.125) * math.sqrt(2 / 3))


def test_the_chapters_verdicts_read_the_batch_part_from_its_records_fields():
    arms = {"decay the rate": ("multistep", {}), "grow the batch": ("constant", {"milestones": [0.5], "factor": 5}),
            "neither": ("constant", {})}
    accs = {"decay the rate": [0.48, 0.49], "grow the batch": [0.485, 0.49], "neither": [0.36, 0.37]}
    runs = pd.DataFrame([dict(id=f"{arm}{i}", lr=0.125, seed=i, schedule=arms[arm][0], batch_growth=arms[arm][1],
                              final_test_acc=a, status="completed", final_steps=60 if arms[arm][1] else 100)
                         for arm, values in accs.items() for i, a in enumerate(values)])
    chapter = _Chapter.__new__(_Chapter)
    chapter.frames = {"batch": runs}
    found = rot.verdicts(chapter)
    assert list(found) == ["batch_instead_of_decay"] and found["batch_instead_of_decay"].word == CONFIRMED
    assert found["batch_instead_of_decay"].profile == "quick"


def test_the_clipping_part_is_the_warmup_sweeps_runs_without_warmup_with_and_without_clipping():
    parts = rot.parts("quick")
    without_warmup = [c for c in rot.warmup_runs("quick") if c.schedule_args["warmup"] == 0.0]
    assert parts["clipping_on"] == without_warmup                      # the clipped arm is the warmup sweep's
    unclipped = parts["clipping_off"]
    assert [c.replace(grad_clip=rot.CLIP_NORM) for c in unclipped] == without_warmup
    assert not any(c.grad_clip for c in unclipped)
    assert ("clipping_on", "clipping_off") in rot.SHOWN_TOGETHER      # one arm never shown beside the other's scale
    chunk = next(c for c in rot.chunks("quick") if c.name == "clipping")
    assert list(chunk.runs) == unclipped and chunk.tier == 2                 # its chunk trains only what is new


def _clipping(clipped, unclipped, repeats=(-0.01, 0.01)):
    """A made-up clipping part as `Chapter.runs` gives it: each arm's losses over the log2 grid -6..-4 (None:
    diverged at step 3), and two repeats of each arm at 2^-6, `repeats` off its seed-0 loss (SD 0.01)."""
    rows = []
    for clip, values in ((1.0, clipped), (None, unclipped)):
        for k, value in zip((-6, -5, -4), values):
            rows.append(dict(lr=2.0 ** k, seed=0, grad_clip=clip, schedule_args={"warmup": 0.0},
                             status="diverged" if value is None else "completed",
                             final_test_loss=np.nan if value is None else value,
                             diverged_at_step=3 if value is None else None))
        rows += [dict(lr=2.0 ** -6, seed=s, grad_clip=clip, schedule_args={"warmup": 0.0}, status="completed",
                      final_test_loss=values[0] + r, diverged_at_step=None) for s, r in enumerate(repeats, start=1)]
    return rot.clipping_frame(pd.DataFrame(rows))


@pytest.mark.parametrize("clipped, unclipped, word, said", [
    ([2.0, 2.1, 2.6], [2.0, 2.1, None], CONFIRMED, "diverges at 0.0625 (diverged at step 3; clipped: 2.600)"),
    ([2.0, 2.1, 2.6], [2.0, 2.1, 2.62], CONTRADICTED, "saves no run"),
    ([2.0, 2.1, 2.6], [2.0, 2.1, 2.9], NOT_RESOLVED, "helps there without saving a run"),
    ([2.0, 2.01, 2.02], [2.0, 2.01, 2.02], NOT_RESOLVED, "there is no run for clipping to save"),
])
def test_clipping_saves_a_run_only_where_the_unclipped_run_diverges_and_the_clipped_one_trains(
        clipped, unclipped, word, said):
    frame = _clipping(clipped, unclipped)
    sd, dof = rot.seed_noise(frame, "arm", "loss")
    assert dof == 4 and sd == pytest.approx(0.01)                      # margin 2 sqrt 2 x 0.01, about 0.028
    verdict = rot.clipping_verdict(rot.clipping_pairs(frame), sd)
    assert verdict.word == word and said in verdict.text, verdict.text


def test_clipping_that_diverges_where_the_unclipped_run_trains_is_said():
    frame = _clipping([2.0, 2.1, None], [2.0, 2.1, 2.7])
    verdict = rot.clipping_verdict(rot.clipping_pairs(frame), 0.01)
    assert verdict.word == CONTRADICTED
    assert verdict.number == ("0 of 3 rates saved from divergence; beyond the margin (0.028), unclipped worse at "
                              "0 rates and better at 0 rates")
    helped = rot.clipping_verdict(rot.clipping_pairs(_clipping([2.0, 2.1, 2.6], [2.0, 2.1, 2.9])), 0.01)
    assert helped.number.endswith("unclipped worse at 1 rate and better at 0 rates")
    assert "Clipping diverges where the unclipped run does not at 0.0625" in verdict.text


def test_clipping_without_its_second_arm_or_its_noise_cannot_say():
    frame = _clipping([2.0, 2.1, 2.6], [2.0, 2.1, None])
    assert rot.clipping_verdict(rot.clipping_pairs(frame[frame.arm == rot.CLIPPING_ARMS[0]]), 0.01).word == NOT_RESOLVED
    assert rot.clipping_verdict(rot.clipping_pairs(frame), float("nan")).word == NOT_RESOLVED


def test_the_lion_part_is_the_10_percent_warmup_sweep_again_with_lion_two_octaves_lower():
    parts = rot.parts("quick")
    adam = [c for c in rot.warmup_runs("quick") if c.schedule_args["warmup"] == rot.LION_WARMUP]
    assert parts["lion_adam"] == adam and {c.optimizer for c in adam} == {"adam"}
    lion = parts["lion"]
    assert [c.replace(optimizer="adam", lr=c.lr * 2 ** rot.LION_SHIFT) for c in lion] == adam
    assert sorted({c.seed for c in lion}) == [0, 1, 2] and {c.weight_decay for c in lion} == {0.0}
    assert np.log2(min(c.lr for c in lion)) == -13 and np.log2(max(c.lr for c in lion)) == -5
    assert ("lion_adam", "lion") in rot.SHOWN_TOGETHER
    chunk = next(c for c in rot.chunks("gpu") if c.name == "lion")
    assert list(chunk.runs) == rot.lion_runs("gpu") and chunk.tier == 2       # Adam's arm is the warmup chunk's


def _lion(adam, lion, repeats=(-0.01, 0.01)):
    """A made-up Lion comparison as `Chapter.runs` gives it: {log2 lr: loss (None: diverged)} per optimizer at
    seed 0, and two repeats of each at its best rate, `repeats` off its loss (seed SD 0.01)."""
    rows = []
    for name, losses in (("adam", adam), ("lion", lion)):
        for k, value in losses.items():
            rows.append(dict(id=f"{name}{k}", lr=2.0 ** k, seed=0, optimizer=name, schedule_args={"warmup": 0.1},
                             status="diverged" if value is None else "completed",
                             final_test_loss=np.nan if value is None else value))
        best = min((v, k) for k, v in losses.items() if v is not None)
        rows += [dict(id=f"{name}{best[1]}-{s}", lr=2.0 ** best[1], seed=s, optimizer=name,
                      schedule_args={"warmup": 0.1}, status="completed", final_test_loss=best[0] + r)
                 for s, r in enumerate(repeats, start=1)]
    return rot.lion_frame(pd.DataFrame(rows))


ADAM = {-9: 2.4, -8: 2.2, -7: 2.0, -6: 2.2, -5: 2.6}


@pytest.mark.parametrize("lion, word, said", [
    ({-11: 2.4, -10: 2.2, -9: 2.0, -8: 2.2, -7: 2.5}, CONFIRMED, "4 times apart, in the claimed 3 to 10"),
    ({-9: 2.4, -8: 2.2, -7: 2.0, -6: 2.3, -5: None}, CONTRADICTED, "1 times apart, outside"),
    ({-14: 2.3, -13: 2.2, -12: 2.0, -11: 2.2, -10: 2.5}, CONTRADICTED, "32 times apart"),   # at least 16x
    ({-13: 2.3, -12: 2.2, -11: 2.0, -10: 2.2, -9: 2.5}, NOT_RESOLVED, "16 times apart, outside"),  # 8 to 32x
    ({-10: 2.4, -9: 2.02, -8: 2.0, -7: 2.3, -6: 2.6}, NOT_RESOLVED, "2 times apart, outside"),     # 1 to 8x
    ({-11: 2.0, -10: 2.2, -9: 2.4, -8: 2.6, -7: 2.8}, NOT_RESOLVED, "allow at least"),   # best on the grid's edge
])
def test_lions_rate_is_read_from_the_two_sweeps_near_optimal_bands(lion, word, said):
    frame = _lion(ADAM, lion)
    sd, dof = rot.seed_noise(frame, "arm", "loss")
    assert dof == 4 and sd == pytest.approx(0.01)
    bands = rot.sweep_bands(frame, rot.LION_ARMS, sd)
    verdict = rot.lion_verdict(bands)
    assert verdict.word == word and said in verdict.text, verdict.text
    assert verdict.rule == rot.LION_RULE
    table = rot.sweep_band_table(frame, bands, rot.LION_ARMS, "optimizer")
    assert list(table.optimizer) == ["Adam", "Lion"] and table["best lr"][0] == 2.0 ** -7


def test_lion_without_either_sweep_cannot_say():
    frame = _lion(ADAM, {-9: 2.0, -8: 2.2})
    bands = rot.sweep_bands(frame[frame.arm == "Adam"], rot.LION_ARMS, 0.01)
    assert rot.lion_verdict(bands).word == NOT_RESOLVED
    assert rot.lion_verdict(rot.sweep_bands(frame, rot.LION_ARMS, float("nan"))).word == NOT_RESOLVED


def test_lions_loss_at_its_best_rate_is_set_against_adams_with_the_best_gap_rule():
    worse = _lion(ADAM, {-11: 2.4, -10: 2.2, -9: 2.1, -8: 2.2, -7: 2.5})
    said = rot.lion_loss_words(worse, 0.01)
    assert "Lion ends at a validation loss of 2.100, Adam at 2.000: a gap of +0.100" in said
    assert said.endswith("so Lion trains worse than Adam here.")
    level = _lion(ADAM, {-11: 2.4, -10: 2.2, -9: 2.01, -8: 2.2, -7: 2.5})
    assert rot.lion_loss_words(level, 0.01).endswith("the two are within seed noise of each other.")
    assert rot.lion_loss_words(level, float("nan")) == ""
    assert rot.lion_loss_words(level[level.arm == "Adam"], 0.01) == ""


def test_the_lion_figure_draws_both_bands_and_where_the_claim_puts_lions_best():
    import matplotlib
    matplotlib.use("Agg")
    from lrlab.figures.rules_of_thumb import lion_sweep
    frame = _lion(ADAM, {-11: 2.4, -10: 2.2, -9: 2.1, -8: 2.2, -7: None})
    fig = lion_sweep(frame, rot.sweep_bands(frame, rot.LION_ARMS, 0.01))
    ax = fig.axes[0]
    assert {t.get_text() for t in ax.texts} == {"Adam's near-optimal band", "Lion's near-optimal band"}
    claimed = next(p for p in ax.patches if "claimed" in p.get_label())
    # from Adam's best, 2^-7, less log2(10) to less log2(3)
    assert claimed.get_x() == pytest.approx(-7 - np.log2(10))
    assert claimed.get_x() + claimed.get_width() == pytest.approx(-7 - np.log2(3))
    assert len(ax.collections) >= 3    # the repeats of each optimizer, and the cross of Lion's diverged run


def test_the_decay_comparison_is_the_lion_references_runs_again_as_adamw_with_torchs_decay_01():
    parts = rot.parts("quick")
    assert parts["adamw_reference"] == parts["lion_adam"]
    decayed = parts["adamw_decay"]
    assert [c.replace(optimizer="adam", weight_decay=0.0, decay_norm_and_bias=True) for c in decayed] == \
        parts["lion_adam"]
    # torch's AdamW decays by lr_t * 0.1 a step: the paper's lambda (what a config holds) is 0.1 * lr
    assert all(c.optimizer == "adamw" and c.weight_decay == pytest.approx(0.1 * c.lr) for c in decayed)
    assert not any(c.decay_norm_and_bias for c in decayed)   # as GPT-style training: matrices and embeddings
    assert ("adamw_reference", "adamw_decay") in rot.SHOWN_TOGETHER
    chunk = next(c for c in rot.chunks("gpu") if c.name == "adamw_decay")
    assert list(chunk.runs) == rot.adamw_decay_runs("gpu") and chunk.tier == 2


def test_adamw_with_torchs_decay_decays_the_matrices_by_the_rate_times_01_and_spares_norms_and_biases():
    import torch
    from lrlab.optim import optimizer_for
    config = rot.adamw_decay_runs("smoke")[0]
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(1.0)
    opt = optimizer_for(model, config)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()   # a zero gradient: only the decay moves a weight
    weight, *rest = model.parameters()
    assert weight.detach() == pytest.approx(torch.full((3, 3), 1 - 0.1 * config.lr))
    assert all(torch.equal(p.detach(), torch.ones_like(p)) for p in rest)


def _adamw(reference, decayed, repeats=(-0.01, 0.01)):
    """A made-up decay comparison, as `_lion` makes a Lion one: {log2 lr: loss} per arm, repeats at each best."""
    frame = _lion(reference, decayed, repeats)
    return rot.adamw_frame(frame.assign(weight_decay=[0.1 * lr if name == "lion" else 0.0
                                                      for lr, name in zip(frame.lr, frame.optimizer)]))


@pytest.mark.parametrize("decayed, word, said", [
    ({-12: 2.4, -11: 2.2, -10: 2.0, -9: 2.2, -8: 2.5}, CONFIRMED, "overlaps the range"),
    ({-9: 2.4, -8: 2.2, -7: 2.0, -6: 2.2, -5: 2.6}, CONTRADICTED, "lies above the range"),
    ({-8: 2.0, -7: 2.2, -6: 2.4, -5: 2.6}, NOT_RESOLVED, "lies above the range"),   # may go on below the grid
])
def test_adamws_default_is_read_from_the_decayed_sweeps_near_optimal_band(decayed, word, said):
    frame = _adamw(ADAM, decayed)
    assert set(frame.arm) == set(rot.ADAMW_ARMS)
    bands = rot.sweep_bands(frame, rot.ADAMW_ARMS, 0.01)
    verdict = rot.adamw_verdict(bands)
    assert verdict.word == word and said in verdict.text, verdict.text
    assert verdict.rule == rot.ADAMW_RULE and "0.0001 to 0.001" in verdict.text
    assert rot.adamw_verdict({k: v for k, v in bands.items() if k != rot.ADAMW_ARMS[1]}).word == NOT_RESOLVED


def test_what_the_decay_does_is_set_against_the_reference_with_the_best_gap_rule():
    hurts = rot.adamw_decay_words(_adamw(ADAM, {-8: 2.2, -7: 2.1, -6: 2.3}), 0.01)
    assert hurts.startswith("At its best rate AdamW with decay 0.1 ends at a validation loss of 2.100, AdamW "
                            "without decay at 2.000")
    assert hurts.endswith("so the decay hurts here.")
    level = rot.adamw_decay_words(_adamw(ADAM, {-8: 2.2, -7: 2.005, -6: 2.3}), 0.01)
    assert level.endswith("so the decay changes nothing beyond seed noise here.")


def test_the_decay_figure_shades_the_claimed_range():
    import matplotlib
    matplotlib.use("Agg")
    from lrlab.figures.rules_of_thumb import adamw_sweep
    frame = _adamw(ADAM, {-9: 2.4, -8: 2.2, -7: 2.05, -6: 2.2, -5: None})
    fig = adamw_sweep(frame, rot.sweep_bands(frame, rot.ADAMW_ARMS, 0.01))
    ax = fig.axes[0]
    assert {t.get_text() for t in ax.texts} == {f"{arm}'s near-optimal band" for arm in rot.ADAMW_ARMS}
    claimed = next(p for p in ax.patches if "claimed" in p.get_label())
    assert claimed.get_x() == pytest.approx(np.log2(1e-4))
    assert claimed.get_x() + claimed.get_width() == pytest.approx(np.log2(1e-3))


def test_the_lowest_rate_says_whether_the_sweep_reaches_into_the_claimed_range():
    said = rot.lowest_rate_words([2.0 ** -8, 2.0 ** -11], (1e-4, 1e-3))
    assert said == "the lowest 0.00049 (inside the claimed range)"
    assert rot.lowest_rate_words([2.0 ** -8], (1e-4, 1e-3)).endswith("(above the claimed range)")
    assert rot.lowest_rate_words([], (1e-4, 1e-3)) == "none recorded"


def test_the_decays_shrink_is_the_product_of_one_less_the_scheduled_rate_times_01_over_the_steps():
    frame = _adamw(ADAM, {-9: 2.4, -8: 2.2, -7: 2.05, -6: 2.2, -5: 2.6})
    frame = frame.assign(schedule="constant", schedule_args=[{}] * len(frame), final_steps=100)
    bands = rot.sweep_bands(frame, rot.ADAMW_ARMS, 0.01)
    said = rot.decay_shrink_words(frame, bands)
    best, top = 1 - (1 - 0.1 * 2 ** -7) ** 100, 1 - (1 - 0.1 * 2 ** -5) ** 100
    assert said == (f"Over its 100 steps the decay alone shrinks a decayed weight by {best:.0%} at the decayed "
                    f"sweep's best rate (0.0078), and by {top:.0%} at its largest (0.031).")
    assert rot.decay_shrink_words(frame, {}) == ""


def test_the_wsd_exercises_arithmetic_follows_the_cooldown_and_agrees_with_the_schedulers():
    long = rot.wsd_worked(0.5)
    assert long["at"] == "0.25/0.5 = 0.5 at 75% and 0.1/0.5 = 0.2 at 90%"
    assert long["mean"] == "1 − 0.025 − 0.25 = 0.725" and long["linear_at"] == pytest.approx(0.95)
    assert rot.wsd_worked(0.2)["at"] == "still 1 at 75% and 0.1/0.2 = 0.5 at 90%"
    # the worked numbers are the schedulers' up to whole steps
    shapes = rot.schedule_shapes(1000, wsd_decay=0.5).set_index("policy")
    assert shapes.loc["warmup-stable-decay", "mean over the run"] == pytest.approx(long["mean_value"], abs=2e-3)
    said, mean = rot.step_mean_worked()
    assert said == "0.5 + 0.25 × 0.1 + 0.25 × 0.01" and mean == pytest.approx(shapes.loc["step", "mean over the run"])


def _fine_tuning(accs, repeats=(-0.5, 0.5)):
    """A made-up fine-tuning part as `Chapter.runs` gives it: each arm's test accuracies (fractions, None:
    diverged) over the log2 grid -6..-4, and two repeats of each fine-tuned arm at 2^-5, `repeats` points off
    its seed-0 accuracy (SD 0.5 points)."""
    start = {"classes": rot.START_CLASSES, "model": "resnet8"}
    arms = {"from scratch": (None, None), rot.ONE_RATE: (start, None), rot.DISCRIMINATIVE: (start, rot.ULMFIT_FACTOR)}
    rows = []
    for (arm, (init_from, decay)), values in zip(arms.items(), accs):
        for k, value in zip((-6, -5, -4), values):
            rows.append(dict(id=f"{arm}{k}", lr=2.0 ** k, seed=0, init_from=init_from, lr_layer_decay=decay,
                             status="diverged" if value is None else "completed",
                             final_test_acc=np.nan if value is None else value))
        if init_from:
            rows += [dict(id=f"{arm}-{s}", lr=2.0 ** -5, seed=s, init_from=init_from, lr_layer_decay=decay,
                          status="completed", final_test_acc=values[1] + r / 100) for s, r in enumerate(repeats, 1)]
    return rot.fine_tune_frame(pd.DataFrame(rows))


@pytest.mark.parametrize("discriminative, word, said", [
    ([0.70, 0.75, 0.73], CONFIRMED, "reaches 75.0% test accuracy, with one rate for every layer 71.0%: a gap of +4.0"),
    ([0.70, 0.71, None], NOT_RESOLVED, "Discriminative rates make no difference beyond seed noise here."),
    ([0.60, 0.66, 0.65], CONTRADICTED, "a gap of -5.0 points"),
])
def test_discriminative_rates_are_read_against_one_rate_each_at_its_best(discriminative, word, said):
    frame = _fine_tuning([[0.50, 0.55, 0.52], [0.68, 0.71, 0.69], discriminative])
    assert list(dict.fromkeys(frame.arm)) == list(rot.FINE_TUNE_ARMS)
    best = rot.best_cells(frame, "arm", "acc", rot.FINE_TUNE_ARMS)
    sd, dof = rot.seed_noise(frame, "arm", "acc")
    assert dof == 4 and sd == pytest.approx(0.5)   # two arms, three seeds each at 2^-5
    verdict = rot.layerwise_verdict(best, sd)
    assert verdict.word == word and said in verdict.text, verdict.text
    assert verdict.number.startswith(f"test acc. {best.loc[rot.DISCRIMINATIVE, 'acc']:.1f}% against 71.0%")
    assert rot.sd_by_rate_words(frame, "arm", "acc") == "0.50 points at 2⁻⁵"
    assert rot.sd_by_rate_words(frame[frame.seed == 0], "arm", "acc") == "no rate is repeated"
    words = rot.transfer_words(best, sd, {"test_acc": 0.8125})
    assert words.startswith("The start reaches 81.2% on its own five classes. Fine-tuned from it, the best run")
    assert "beats the best trained from scratch on the same images (55.0%)" in words
    assert rot.layerwise_verdict(best, float("nan")).word == NOT_RESOLVED


def test_the_fine_tuning_part_starts_every_fine_tuned_run_from_one_start_on_the_other_classes():
    runs = rot.fine_tune_runs("quick")
    start = rot.start_run("quick")
    assert start.classes == rot.START_CLASSES and start.init_from is None
    tuned = [r for r in runs if r.init_from]
    assert {r.id for r in runs} == {r.id for r in rot.parts("quick")["fine_tuning"]}
    assert all(r.init_from == tuned[0].init_from and r.classes == rot.TARGET_CLASSES for r in tuned)
    assert {rot.fine_tune_arm(r.init_from, r.lr_layer_decay) for r in runs} == set(rot.FINE_TUNE_ARMS)
    assert rot.repeat_history_words() == (
        "At `quick` we first placed the repeats at 2⁻⁵ alone, on a grid that ended at 2⁻²; the discriminative "
        "arm's best lay at that top, three octaves from the repeats, so we extended the grid to 2⁰ and repeated a "
        "second rate, 2⁻³, between the two arms' best rates")
    s = rot.FINE_TUNE_SETTINGS["quick"]
    assert len(runs) == 3 * len(s["log2_lrs"]) + 2 * s["extra_seeds"] * len(s["repeat_log2_lrs"])
