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
