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
        return True

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


def test_sd_range_is_the_chi_square_interval_of_a_measured_sd():
    lo, hi = rot.sd_range(4)
    assert lo == pytest.approx(0.60, abs=0.01) and hi == pytest.approx(2.87, abs=0.03)
    assert rot.sd_range(40)[1] < 1.3 < hi                    # more repeats, a tighter range
    assert all(math.isnan(x) for x in rot.sd_range(0))


def test_schedule_shapes_follow_the_closed_forms_and_the_cooldown_knob_moves_only_wsd():
    book = rot.schedule_shapes(100).set_index("policy")
    longer = rot.schedule_shapes(100, wsd_decay=0.5).set_index("policy")
    assert book.loc["warmup-stable-decay", "at 75%"] == 1.0 and book.loc["warmup-stable-decay", "at 90%"] == 0.5
    assert longer.loc["warmup-stable-decay", "at 75%"] == pytest.approx(0.5)       # (1 - 0.75) / 0.5
    assert longer.loc["warmup-stable-decay", "at 90%"] == pytest.approx(0.2)
    assert longer.loc["warmup-stable-decay", "mean over the run"] == pytest.approx(1 - 0.05 / 2 - 0.5 / 2)
    assert book.loc["cosine", "at 50%"] == pytest.approx(0.5) and book.loc["step", "at 75%"] == pytest.approx(0.01)
    assert book.drop("warmup-stable-decay").equals(longer.drop("warmup-stable-decay"))
