"""The linear-scaling chapter's declaration: the rule, the three warmups, the alternatives, seeds."""
import math
from collections import Counter

import pandas as pd
import pytest

from lrlab.config import RunConfig
from lrlab.experiments import linear_scaling as ls
from lrlab.schedules import lr_curve


@pytest.mark.parametrize("profile", ["smoke", "quick", "full"])
def test_sweep_follows_the_linear_rule_with_seeds_and_one_bn_batch(profile):
    s, parts = ls.SETTINGS[profile], ls.parts(profile)
    runs = ls.runs(profile)
    assert len({r.id for r in runs}) == len(runs)
    sweep = parts["batch_sweep"]
    assert Counter(r.batch_size for r in sweep) == {b: s["seeds"] for b in s["batches"]}
    assert s["seeds"] >= 2 and ls.REFERENCE_BATCH in s["batches"]
    for r in sweep:
        assert r.lr == pytest.approx(0.1 * r.batch_size / 128)
        assert r.nesterov and r.weight_decay == 1e-4 and not r.decay_norm_and_bias and r.zero_init_residual
        # BatchNorm always sees 128 images (the paper's fixed per-worker BN), whatever the batch
        assert (r.micro_batch or r.batch_size) == min(r.batch_size, ls.BN_BATCH)
        assert ls.describe(r.to_dict()) == ("linear", "gradual" if r.batch_size > 128 else "none")
    # the noise scale is measured in every seed of the reference run, nowhere else
    assert {(r.batch_size, r.seed) for r in runs if r.noise_scale_every} == {
        (128, k) for k in range(s["seeds"])}


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_every_large_batch_has_three_warmups_and_the_largest_two_alternative_rules(profile):
    s, parts = ls.SETTINGS[profile], ls.parts(profile)
    warm = Counter((r.batch_size, ls.describe(r.to_dict())[1]) for r in parts["warmups"])
    large = [b for b in s["batches"] if b >= 512]
    assert large and all(warm[(b, w)] == 1 for b in large for w in ls.WARMUPS)
    rules = {(r.batch_size, ls.describe(r.to_dict())[0]) for r in parts["rules"]}
    assert rules == {(b, rule) for b in s["largest"] for rule in ("linear", "sqrt", "none")}
    # every batch takes (nearly) the same images per epoch: one budget for all
    n = 10 * s["per_class"] if s["per_class"] else 50_000
    budgets = [n // b * b for b in s["batches"]]
    assert max(budgets) / min(budgets) < 1.02


def test_the_three_warmups_start_from_the_reference_rate():
    base = ls.parts("quick")["batch_sweep"][0]
    total = 60
    curves = {w: lr_curve("warmup_multistep", total, lr=c.lr, **c.schedule_args)["lr"]
              for w in ls.WARMUPS for c in [ls.config_for(base, 1024, warmup=w)]}
    warmup_steps = round(ls.WARMUP_FRACTION * total)
    assert curves["none"][0] == pytest.approx(0.8)
    assert curves["constant"][0] == curves["constant"][warmup_steps - 1] == pytest.approx(0.1)
    assert curves["gradual"][0] == pytest.approx(0.1)
    assert curves["gradual"][warmup_steps // 2] == pytest.approx(0.1 + 0.7 * (warmup_steps // 2) / warmup_steps)
    for w in ls.WARMUPS:   # after the warmup all three are the same schedule: 0.8, /10 at 1/3, 2/3, 8/9
        assert curves[w][warmup_steps:] == pytest.approx(curves["none"][warmup_steps:])
    assert curves["none"][-1] == pytest.approx(0.8e-3)


def test_rules_are_read_back_from_a_config():
    base = ls.parts("quick")["batch_sweep"][0]
    assert ls.describe(ls.config_for(base, 4096, rule="sqrt").to_dict()) == ("sqrt", "gradual")
    assert ls.describe(ls.config_for(base, 4096, rule="none").to_dict()) == ("none", "none")
    assert ls.config_for(base, 4096, rule="sqrt").lr == pytest.approx(0.1 * math.sqrt(32))


# -- the chapter's analysis, on made-up records

def made_up(batch, error, seed=0, rule="linear", warmup="gradual", diverged=False, epochs=10):
    """A record as the store gives it: test error (%) `error` in its last epochs, or diverged."""
    config = ls.config_for(RunConfig(task="cifar10", model="resnet8", epochs=epochs), batch, rule, warmup, seed)
    acc = 1 - error / 100
    history = [dict(epoch=e, test_acc=acc, train_acc=acc) for e in range(1, epochs + 1)]
    return dict(id=config.id, config=config.to_dict(), status="diverged" if diverged else "completed",
                history=history, final=dict(steps=epochs * 4096 // batch))


def sweep_of(errors, diverged=()):
    """batch -> errors per seed."""
    records = [made_up(b, e, seed=s, diverged=(b, s) in diverged) for b, es in errors.items() for s, e in enumerate(es)]
    rows = ls.run_rows(records, 1)
    return rows, ls.by_batch(rows)


def test_the_error_is_the_median_of_the_final_epochs_in_the_papers_proportion():
    assert ls.final_epochs(90) == 5 and ls.final_epochs(10) == 1 and ls.final_epochs(30) == 2
    record = made_up(128, 20.0)
    record["history"][-2]["test_acc"], record["history"][-3]["test_acc"] = 0.5, 0.9
    assert ls.final_error(record, 3) == pytest.approx(20.0)
    assert math.isnan(ls.final_error(made_up(128, 20.0, diverged=True), 1))


def test_a_batch_breaks_when_its_error_clears_twice_the_pooled_seed_sd():
    # pooled SD 0.99 (pairs 1.4 apart); the reference at 20; 512 sits 2.5 above, beyond the 1.98-point margin
    _, batches = sweep_of({64: [19.3, 20.7], 128: [19.3, 20.7], 256: [20.3, 21.7], 512: [21.8, 23.2],
                           1024: [29.3, 30.7]})
    rule = ls.find_break(batches)
    assert rule.pooled_sd == pytest.approx(0.99, abs=0.001) and rule.reference == pytest.approx(20.0)
    assert rule.batch == 512 and rule.largest_ok == 256
    verdict = ls.break_verdict(batches, rule)
    assert verdict.startswith("By that test the error starts to climb at batch 512 (learning rate 0.4)")
    # the headline, in errors with their seed SDs as Goyal's Fig. 3 gives them
    assert ls.holds_number(batches, rule) == ("test error 20.00% ± 0.99 at 128, 21.00% ± 0.99 at 256 holds, 22.50% ± 0.99 "
                                              "at 512 climbs (margin 2.0 points, 2 seeds a batch)")
    assert "The largest batch that holds the reference error is 256, 2 times" in verdict
    assert "Below the reference, batch 64 gives 20.0%." in verdict


def test_a_diverged_seed_breaks_its_batch_whatever_its_mean():
    _, batches = sweep_of({128: [19.3, 20.7], 256: [19.3, 20.7], 512: [19.3, 20.7]}, diverged={(512, 1)})
    assert ls.find_break(batches).batch == 512


def test_a_curve_that_never_climbs_says_so():
    _, batches = sweep_of({128: [19.3, 20.7], 256: [19.3, 20.7], 512: [20.3, 21.7]})
    rule = ls.find_break(batches)
    assert rule.batch is None and rule.largest_ok == 512
    assert ls.break_verdict(batches, rule) == ("By that test the error never climbs: every batch up to 512 holds "
                                               "the reference error.")


def test_with_one_seed_only_divergence_breaks_and_the_verdict_waits():
    _, batches = sweep_of({128: [20.0], 256: [25.0], 512: [40.0]})
    rule = ls.find_break(batches)
    assert rule.one_seed and rule.batch is None and "not measured yet" in rule.margin
    assert "the verdict waits for the second seed" in ls.break_verdict(batches, rule)
    assert ls.holds_number(batches, rule) == "test error 20.00% (one seed) at 128; one seed per batch, so no margin"
    assert "one seed per batch so far" in ls.margin_words(rule)


def test_the_warmup_verdict_counts_gaps_beyond_the_margin_and_names_the_best_per_batch():
    records = [made_up(512, 30.0, warmup="none"), made_up(512, 22.0, warmup="constant"),
               made_up(512, 21.0, warmup="gradual"), made_up(1024, 0.0, warmup="none", diverged=True),
               made_up(1024, 26.0, warmup="constant"), made_up(1024, 25.0, warmup="gradual")]
    warm = ls.run_rows(records, 1)
    table, diverged, shown = ls.warmup_table(warm)
    assert shown.set_index("batch (LR)").loc["1,024 (0.8)", "no warmup"] == "diverged"
    assert ls.divergence_claim(warm).word == "confirmed"                 # none diverged where gradual trained
    calm = ls.run_rows([r for r in records if r["status"] != "diverged"], 1)
    claim = ls.divergence_claim(calm)
    assert claim.word == "contradicted"
    assert "No run without warmup diverged where gradual warmup trains, up to batch 512" in claim.text
    assert ls.warmup_steps_words(warm).startswith("The warmup is the first 17% of each run")
    _, batches = sweep_of({128: [19.3, 20.7], 256: [19.3, 20.7]})
    verdict = ls.warmup_verdict(table, diverged, ls.find_break(batches))
    assert verdict.startswith("Gradual warmup beats no warmup by more than the 2.0-point noise margin at 1 of 2")
    assert "beats constant warmup by that margin at 0 of 2" in verdict
    assert "Lowest error per batch: gradual at 512, gradual at 1,024." in verdict
    assert "1 without warmup, 0 with constant warmup, 0 with gradual warmup" in verdict


def test_where_every_warmup_diverged_nothing_is_compared_and_the_claim_is_not_resolved():
    # the first GPU records' shape: gradual alone from 512 (the sweep), all three diverged at 8k and 16k
    records = ([made_up(b, 20.0) for b in (512, 1024)]
               + [made_up(b, 0.0, warmup=w, diverged=True) for b in (8192, 16384)
                  for w in ("none", "constant", "gradual")])
    warm = ls.run_rows(records, 1)
    table, diverged, shown = ls.warmup_table(warm)
    assert list(shown["batch (LR)"]) == ["8,192 (6.4)", "16,384 (12.8)"]          # the batches with all three
    assert (shown.drop(columns="batch (LR)") == "diverged").all().all()
    _, one_seed = sweep_of({128: [20.0], 256: [25.0]})
    verdict = ls.warmup_verdict(table, diverged, ls.find_break(one_seed))
    assert verdict.startswith("No batch size has gradual warmup and both others trained, so no gap between warmups "
                              "is measured (batch sizes 8,192 and 16,384). Diverged runs count as losses: 2 without")
    claim = ls.divergence_claim(warm)
    assert claim.word == "not resolved" and "No run without warmup diverged" not in claim.text
    assert "At batches 8,192 and 16,384 the runs diverged with gradual warmup too" in claim.text
    # beside a batch where gradual warmup trains, the diverged pair is named but the verdict comes from the rest
    trained_at_8k = ls.run_rows([made_up(8192, 25.0, warmup=w) for w in ("none", "constant", "gradual")], 1)
    claim = ls.divergence_claim(pd.concat([warm[warm.batch != 8192], trained_at_8k]))
    assert claim.word == "contradicted" and claim.text.startswith("No run without warmup diverged where gradual "
                                                                   "warmup trains, up to batch 8,192")
    assert "At batch 16,384 the runs diverged with gradual warmup too" in claim.text


def test_the_rules_verdict_names_the_only_rule_that_trained():
    records = [made_up(8192, 0.0, rule="linear", diverged=True), made_up(8192, 57.4, rule="sqrt"),
               made_up(8192, 71.7, rule="none"), made_up(16384, 0.0, rule="linear", diverged=True),
               made_up(16384, 0.0, rule="sqrt", diverged=True), made_up(16384, 23.2, rule="none")]
    _, one_seed = sweep_of({128: [20.0], 256: [25.0]})
    verdict = ls.rules_verdict(ls.run_rows(records, 1), (8192, 16384), ls.find_break(one_seed))
    assert verdict.startswith("At 8,192 the square-root rule is best, 14.3 points ahead of the next")
    assert "at 16,384 only the no-scaling rule trained, the others diverged." in verdict
    assert ("No scaling's error against the linear rule's: not measured at 8,192 (the linear run diverged) and "
            "not measured at 16,384 (the linear run diverged);") in verdict
    assert "nan" not in verdict


def test_fig_2_shows_a_batch_that_has_all_three_warmups():
    # the GPU profile's shape: the gradual warmup from 512 (the sweep's own runs), all three at 8k and 16k only
    warm = ls.run_rows([made_up(b, 20.0) for b in (512, 1024, 2048, 4096)]
                       + [made_up(b, 20.0, warmup=w) for b in (8192, 16384) for w in ls.WARMUPS], 1)
    holds_to_4k = ls.Break(20.0, 0.5, 8192, 4096, True)
    batch, why = ls.warmup_batch(warm, holds_to_4k)
    assert batch == 8192 and why.startswith("No batch with all three warmups (they run at every batch from 8,192 up)")
    assert ls.warmup_batch(warm, ls.Break(20.0, 0.5, None, 16384, True))[0] == 16384
    assert ls.warmup_batch(warm, ls.Break(20.0, 0.5, None, 16384, True))[1].startswith("Batch 16,384 is the largest")


def test_the_rules_verdict_orders_the_rules_at_each_largest_batch():
    records = [made_up(2048, e, rule=r) for r, e in (("linear", 25.0), ("sqrt", 26.0), ("none", 35.0))]
    rules = ls.run_rows(records, 1)
    _, batches = sweep_of({128: [19.3, 20.7]})
    verdict = ls.rules_verdict(rules, (2048,), ls.find_break(batches))
    assert verdict.startswith("At 2,048 the linear rule is best, 1.0 points ahead of the next (within the 2.0-point")
    assert "No scaling's error against the linear rule's: +10.0 points (at 2,048)" in verdict
    assert "square root (+2.5), then none (+17.9)" in verdict   # Table 2a's 26.22 and 41.67 against 23.74
    table = ls.rules_table(rules, (2048,)).set_index("rule")
    assert table.loc["none (LR 0.1)", "batch 2,048: LR"] == "0.1" and table.loc["none (LR 0.1)", "paper, 8k (%)"] == "41.67"


def test_with_one_seed_the_rules_verdict_reads_no_margin_rather_than_within_it():
    records = [made_up(2048, e, rule=r) for r, e in (("linear", 25.0), ("sqrt", 26.0), ("none", 35.0))]
    _, one_seed = sweep_of({128: [20.0], 2048: [25.0]})
    verdict = ls.rules_verdict(ls.run_rows(records, 1), (2048,), ls.find_break(one_seed))
    assert verdict.startswith("At 2,048 the linear rule is best, 1.0 points ahead of the next (no noise margin to "
                              "read it against yet: one seed).")
    assert "within" not in verdict


def test_the_rules_verdict_signs_no_scaling_s_gap_when_it_is_ahead():
    records = [made_up(2048, e, rule=r) for r, e in (("linear", 25.0), ("sqrt", 26.0), ("none", 23.0))]
    _, batches = sweep_of({128: [19.3, 20.7]})
    verdict = ls.rules_verdict(ls.run_rows(records, 1), (2048,), ls.find_break(batches))
    assert verdict.startswith("At 2,048 the no-scaling rule is best")
    assert "against the linear rule's: -2.0 points" in verdict and "trails" not in verdict


def test_the_comparison_pairs_batches_by_their_factor_over_each_reference():
    _, batches = sweep_of({128: [19.3, 20.7], 4096: [24.3, 25.7]})
    table = ls.versus(batches, ls.find_break(batches)).set_index("our batch")
    assert table.loc["4,096", "paper batch"] == "8,192" and table.loc["4,096", "paper error (%)"] == "23.74 ± 0.09"
    assert table.loc["4,096", "our change"] == "+5.00" and table.loc["128", "our error (%)"] == "20.00 ± 0.99"
    assert table.loc["4,096", "verdict"] == "contradicted" and table.loc["128", "verdict"] == "—"


def test_each_batch_of_the_comparison_gets_the_break_rules_word():
    _, batches = sweep_of({64: [19.3, 20.7], 128: [19.3, 20.7], 256: [20.3, 21.7], 512: [21.8, 23.2],
                           1024: [19.3, 20.7]}, diverged={(1024, 0)})
    words = ls.versus(batches, ls.find_break(batches)).set_index("our batch").verdict
    assert words["256"] == "confirmed" and words["512"] == "contradicted" and words["64"] == "confirmed"
    assert words["1,024"] == "contradicted"   # a diverged seed breaks the batch
    _, one_seed = sweep_of({128: [20.0], 256: [25.0]})
    assert ls.versus(one_seed, ls.find_break(one_seed)).set_index("our batch").verdict["256"] == "not resolved"


def test_the_noise_scale_is_read_before_and_after_the_first_decay():
    noise = pd.DataFrame(dict(epoch=[0, 1, 2, 4, 6], seed=0, b_simple=[50.0, 100.0, 300.0, 2000.0, 4000.0],
                              big_batch=1024, big_batches=8, batch_size=128, micro_batch=None))
    _, batches = sweep_of({128: [19.3, 20.7], 256: [19.3, 20.7], 512: [29.3, 30.7]})
    numbers, verdict = ls.noise_summary(noise, 10 / 3, ls.find_break(batches))
    assert numbers["noise_lo"] == 100.0 and numbers["noise_hi"] == 4000.0
    assert ls.noise_ends_words(noise) == "At initialisation B_simple is 50; at the end of training, 4,000."
    assert "the median of the 3 estimates is 100; after it, 3,000 (2 estimates)" in verdict
    assert verdict.endswith("Our curve starts to climb at batch 512, above the early noise scale and below the late one.")


def test_an_undefined_noise_scale_at_either_end_is_said_and_the_nearest_estimate_given():
    # the GPU's shape late in training: |G|²'s estimate comes out negative, B_simple is NaN
    noise = pd.DataFrame(dict(epoch=[0, 3, 6, 9], seed=0, b_simple=[float("nan"), 900.0, 45000.0, float("nan")]))
    said = ls.noise_ends_words(noise)
    assert said.startswith("At initialisation B_simple is undefined (the estimate of |G|² came out negative); at "
                           "epoch 3, its first measurement with one, it is 900; at the end of training it is "
                           "undefined, and at epoch 6, the last measurement with a positive |G|² estimate, 45,000.")
    assert said.endswith("2 of the 4 estimates are undefined: their |G|² came out negative, as it does when the "
                         "true gradient is small beside the noise.")
    assert "nan" not in said
    # two seeds: a measurement where one seed has no estimate reads the other's
    two = pd.DataFrame(dict(epoch=[0, 0, 9, 9], seed=[0, 1, 0, 1], b_simple=[100.0, 120.0, float("nan"), 5000.0]))
    assert ls.noise_ends_words(two).startswith("At initialisation B_simple is 110; at the end of training, 5,000.")
    assert "undefined" in ls.noise_ends_words(noise.assign(b_simple=float("nan")))


def test_the_seed_spread_of_the_noise_scale_is_the_largest_ratio_per_measurement():
    noise = pd.DataFrame(dict(epoch=[0, 0, 4, 4, 9, 9, 10], seed=[0, 1, 0, 1, 0, 1, 0],
                              b_simple=[100.0, 148.0, 1000.0, 3150.0, 5000.0, 12900.0, 7000.0],
                              big_batch=1024, big_batches=8, batch_size=128, micro_batch=None))
    spread = ls.seed_spread(noise)
    assert spread["seed_ratio_max"] == pytest.approx(3.15) and spread["seed_ratio_epoch"] == 4
    assert spread["seed_ratio_final"] == pytest.approx(2.58)            # epoch 10 has one seed only
    numbers, _ = ls.noise_summary(noise, 10 / 3, ls.find_break(sweep_of({128: [19.3, 20.7]})[1]))
    assert numbers["noise_small"] == 128 and numbers["noise_per_big"] == 8
    assert math.isnan(ls.seed_spread(noise[noise.seed == 0])["seed_ratio_max"])


def test_no_break_is_read_without_a_flat_stretch_below_it():
    # the quick profile's shape: error rises from the smallest batch, batch 32 beats the reference beyond the margin
    _, batches = sweep_of({32: [65.15, 66.55], 64: [65.5, 66.9], 128: [67.25, 68.65], 256: [69.4, 70.8],
                           512: [72.35, 73.75]})
    rule = ls.find_break(batches)
    assert rule.flat is False and rule.batch == 256 and rule.ahead == 32
    assert ls.rule_holds_verdict(rule).text == ("Not resolved at this scale: no flat stretch: batch 32 already beats the "
                                                "reference batch 128 by more than the 2.0-point margin, so training is "
                                                "step-limited.")
    verdict = ls.break_verdict(batches, rule)
    assert verdict.startswith("**Inconclusive at this scale**: there is no flat stretch to break from. Batch 32")
    assert "(By the margin alone the error would climb at batch 256.)" in verdict
    assert ls.holds_number(batches, rule).startswith("no flat stretch: test error 65.85% ± 0.99 at 32 against 67.95% ± 0.99 at 128")
    _, held = sweep_of({64: [19.3, 20.7], 128: [19.3, 20.7], 256: [20.3, 21.7], 512: [25.8, 27.2]})
    flat = ls.find_break(held)
    assert flat.flat is True and ls.break_verdict(held, flat).startswith("By that test the error starts to climb at")
    assert ls.find_break(sweep_of({64: [19.0], 128: [20.0]})[1]).flat is None   # one seed: unknown
    noise = pd.DataFrame(dict(epoch=[0, 1, 4], seed=0, b_simple=[50.0, 100.0, 2000.0], big_batch=1024, big_batches=8,
                              batch_size=128, micro_batch=None))
    _, words = ls.noise_summary(noise, 10 / 3, rule)
    assert words.endswith("Our curve has no flat stretch to break from (above), so no batch of ours is set beside them.")


# -- the exercises' knobs: each changes what the rule reads, and leaves the book's reading at its default

def test_the_error_window_can_be_widened_in_the_papers_proportion_up_to_the_whole_run():
    assert ls.final_epochs(10, of_90=5) == ls.final_epochs(10) == 1
    assert ls.final_epochs(10, of_90=45) == 5 and ls.final_epochs(30, of_90=45) == 15
    assert ls.final_epochs(10, of_90=90) == 10 and ls.final_epochs(10, of_90=500) == 10
    assert ls.final_epochs(10, of_90=0) == 1


def test_the_break_rules_margin_is_a_number_of_pooled_sds():
    # pooled SD 0.99; 512 sits 2.5 above the reference: beyond 2 SDs (1.98), within 3 (2.97)
    _, batches = sweep_of({64: [19.3, 20.7], 128: [19.3, 20.7], 256: [20.3, 21.7], 512: [21.8, 23.2],
                           1024: [29.3, 30.7]})
    book, wide = ls.find_break(batches), ls.find_break(batches, sds=3.0)
    assert book.sds == 2.0 and book.threshold == pytest.approx(2 * 0.99, abs=0.002) and book.batch == 512
    assert wide.threshold == pytest.approx(3 * 0.99, abs=0.003) and wide.batch == 1024 and wide.largest_ok == 512
    assert ls.Break(10.0, 0.5, 256, 128, True).threshold == 1.0      # the default margin: 2 SDs
    # the flat test reads the same margin: batch 32 is 2.1 points ahead of 128, within 3 SDs, beyond 2
    _, steep = sweep_of({32: [65.15, 66.55], 64: [65.5, 66.9], 128: [67.25, 68.65], 256: [69.4, 70.8],
                         512: [72.35, 73.75]})
    assert ls.find_break(steep).flat is False and ls.find_break(steep, sds=3.0).flat is True
    table = ls.margin_table(steep, ls.find_break(steep)).set_index("batch")
    assert table.loc["32", "above the reference (points)"] == pytest.approx(-2.1)
    assert table.loc["32", "in pooled SDs"] == pytest.approx(-2.1 / 0.98995, abs=1e-3)
    # the claim's word over margins: not resolved (no flat stretch), then contradicted (256 breaks), confirmed
    spans = ls.words_by_margin(steep)
    assert [w for _, _, w in spans] == ["not resolved", "contradicted", "confirmed"]
    assert spans[0][1] == pytest.approx(2.1 / 0.98995, abs=1e-3) and spans[-1][1] == 6.0
    assert ls.words_by_margin(sweep_of({128: [20.0], 256: [25.0]})[1]) == []   # one seed: no margin
    assert ls.margin_size_words(wide) == "a margin of 2.97 points"
    assert ls.pooled_sd_words(wide) == "The margin is 3 times the pooled SD of 0.99 points."


def test_with_one_seed_per_batch_the_margin_exercise_says_there_is_no_margin():
    _, one_seed = sweep_of({128: [20.0], 256: [25.0]})
    rule = ls.find_break(one_seed)
    # no SD to count in: the column goes, rather than showing blanks the table's na_rep would call diverged
    assert list(ls.margin_table(one_seed, rule).columns) == ["batch", "error (%)", "above the reference (points)"]
    assert ls.margin_size_words(rule) == "no margin: one seed per batch so far"
    assert ls.pooled_sd_words(rule).startswith("With one seed per batch so far there is no pooled SD, so no margin")


def test_each_rule_gives_its_rate_and_the_gradual_warmup_its_steps_at_a_batch():
    rates, steps = ls.rates_at(8192, "full")
    assert steps == 30 * (50_000 // 8192) == 180
    r = rates.set_index("rule")
    linear, sqrt, none = r.loc["linear, gradual warmup"], r.loc["square root, gradual warmup"], r.loc["none (LR 0.1)"]
    assert linear["peak LR"] == pytest.approx(6.4) and sqrt["peak LR"] == pytest.approx(0.8) and none["peak LR"] == 0.1
    assert linear["warmup steps"] == sqrt["warmup steps"] == 30 and none["warmup steps"] == 0
    assert linear["LR at step 0"] == pytest.approx(0.1) and linear["LR halfway through the warmup"] == pytest.approx(3.25)
    assert sqrt["LR halfway through the warmup"] == pytest.approx(0.45) and math.isnan(none["LR halfway through the warmup"])
    assert linear["LR at the last step"] == pytest.approx(6.4e-3)
    rates, steps = ls.rates_at(8192, "quick")          # larger than the quick training set: no step
    assert steps == 0 and rates["LR at step 0"].isna().all()


def run_with_errors(batch, seed, errors):
    """A made-up run whose test error (%) per epoch is `errors`."""
    record = made_up(batch, errors[-1], seed=seed, epochs=len(errors))
    for h, e in zip(record["history"], errors):
        h["test_acc"] = 1 - e / 100
    return record


def test_the_verdict_is_read_over_every_window_of_final_epochs():
    # the last epoch: 256 holds 128's error; the first: 256 is 10 points behind, so the two-epoch median breaks
    records = [run_with_errors(*run) for run in ((32, 0, [17.3, 18.3]), (32, 1, [18.7, 19.7]), (128, 0, [19.3, 19.3]),
                                                 (128, 1, [20.7, 20.7]), (256, 0, [29.3, 19.3]), (256, 1, [30.7, 20.7]))]
    readings = ls.final_epochs_readings(records, 2)
    assert list(readings["linear scaling"]) == ["confirmed", "contradicted"]
    assert list(readings["first batch that climbs"]) == ["none", "256"] and list(readings["holds up to"]) == ["256", "128"]
    assert list(readings["best smaller batch's lead"]) == pytest.approx([1.0, 1.5])
    assert ls.word_spans(readings["final epochs"], readings["linear scaling"]) == [(1, 1, "confirmed"), (2, 2, "contradicted")]
    assert ls.word_spans([1, 2, 3], ["a", "a", "b"]) == [(1, 2, "a"), (3, 3, "b")]
    assert ls.spans_words(ls.word_spans([1, 2, 3], ["a", "a", "b"]), "final epochs") == (
        "**a** from 1 to 2 final epochs; **b** for 3 final epochs")
    assert ls.lead_words(readings, 1).startswith("The best batch below 128 leads it by 1.00 points over the book's "
                                                 "window and by 1.50 over the whole run: in these runs the small batches "
                                                 "are ahead early")
    assert ls.lead_words(ls.final_epochs_readings(records[2:], 2), 1) == ""      # no batch below the reference


def test_the_errors_per_batch_in_words():
    _, batches = sweep_of({128: [19.3, 20.7], 256: [24.3, 25.7]}, diverged={(256, 0), (256, 1)})
    assert ls.error_words(batches) == "Mean test error over seeds: 20.0% at batch 128, diverged at 256."


def test_the_noise_scales_growth_is_told_apart_across_and_between_decays():
    noise = pd.DataFrame(dict(epoch=[0, 0, 2, 2, 4, 4], seed=[0, 1] * 3, b_simple=[100, 100, 200, 200, 2000, 2000]))
    assert ls.noise_growth(noise, [3.0]) == ("The two seeds' median goes from 100 at the first measurement to 2,000 "
                                             "at the last. Across a decay of the rate it changes x10 (epochs 2 to 4); "
                                             "between measurements with no decay between them, x2 (epochs 0 to 2).")
    assert "Too few" in ls.noise_growth(noise[noise.epoch == 0], [3.0])
    assert ls.noise_growth(noise[noise.seed == 1], [3.0]).startswith("Seed 1's estimate goes from 100 at the first")


def test_the_seeds_spread_of_the_noise_scale_in_words_and_with_one_seed():
    noise = pd.DataFrame(dict(epoch=[0, 0, 4, 4], seed=[0, 1, 0, 1], b_simple=[100.0, 150.0, 1000.0, 1200.0]))
    assert ls.seed_spread_words(noise) == ("The estimates are noisy: the seeds' estimates differ by a factor of up to "
                                           "1.5 (at epoch 0.0) and by 1.2 at the end of training.")
    assert ls.seed_spread_words(noise[noise.seed == 0]) == ("How far two seeds' estimates differ is not measured yet: "
                                                            "one seed so far.")


def test_the_noise_figures_caption_says_what_is_drawn_beside_the_estimates():
    _, batches = sweep_of({128: [19.3, 20.7], 256: [19.3, 20.7], 512: [25.3, 26.7]})
    assert ls.noise_beside(ls.find_break(batches)) == ("Beside it, the largest batch that holds and the first that "
                                                       "climbs in our redrawing of Fig. 1")
    _, steep = sweep_of({64: [10.3, 10.7], 128: [19.3, 20.7], 256: [25.3, 26.7]})
    assert ls.noise_beside(ls.find_break(steep)).startswith("No batch sizes are drawn beside it")


def test_the_fig_1_caption_counts_the_diverged_runs_or_says_there_are_none():
    rows, _ = sweep_of({128: [19.3, 20.7], 512: [19.3, 20.7]})
    assert ls.diverged_words(rows) == "no run diverged"
    rows, _ = sweep_of({128: [19.3, 20.7], 4096: [19.3, 20.7]}, diverged={(4096, 0), (4096, 1)})
    assert ls.diverged_words(rows) == "red crosses, above the curve: the 2 diverged runs (batch 4,096)"


def test_the_fig_1_caption_and_figure_draw_no_band_or_margin_with_one_seed():
    from lrlab.figures.linear_scaling import error_against_batch
    rows, batches = sweep_of({128: [19.3, 20.7], 512: [19.3, 20.7]})
    words = ls.fig1_lines_words(batches, rows, ls.find_break(batches))
    assert words.startswith("Line: mean over 2 seeds at each batch;") and "dotted: that plus twice the pooled" in words
    rows, batches = sweep_of({128: [19.3], 512: [25.0], 1024: [0.0]}, diverged={(1024, 0)})
    rule = ls.find_break(batches)
    assert ls.fig1_lines_words(batches, rows, rule) == (
        "Line: one seed at each batch so far (the band of seed standard deviations and the noise margin need a "
        "second); red crosses, above the curve: the 1 diverged run (batch 1,024). Dashed: the error at batch 128.")
    fig = error_against_batch(batches, rows, rule)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert not any("SD" in label for label in labels) and "diverged" in labels


def test_the_warmup_span_says_how_few_per_epoch_points_it_holds():
    run = made_up(512, 30.0, epochs=10)   # a 1/6 warmup: 1.67 epochs, one point (epoch 1)
    assert ls.warmup_span_words(run, 10) == ("the shaded span is the warmup, the first 1.67 epochs, which holds one "
                                             "of the per-epoch points: the figure shows where each warmup leaves the "
                                             "run, not the warmup itself")
    assert ls.warmup_span_words(made_up(512, 30.0, epochs=90), 90) == "the shaded span is the warmup, the first 15 epochs"


# -- the prose's protocol and the exercises' answers, generated so they stay true whatever the records say

def test_the_protocol_is_stated_from_the_constants(monkeypatch):
    words = ls.protocol_words()
    assert words["milestones"] == "a third, two thirds and eight ninths" and words["warmup"] == "the first sixth"
    assert words["last_decay"] == ("Any window up to the last ninth of training (10 of 90) does the same here, since "
                                   "the last decay is at eight ninths.")
    assert words["whole_run"].endswith("halfway through training, before two of the three decays")
    assert ls.lr_decay() == pytest.approx(0.1)
    assert ls.fraction_words(0.5) == "a half" and ls.fraction_words(0.37) == "37%"
    # the words follow the code: other milestones and warmup, other words
    monkeypatch.setattr(ls, "MILESTONES", [1 / 2, 3 / 4])
    monkeypatch.setattr(ls, "WARMUP_FRACTION", 1 / 10)
    words = ls.protocol_words()
    assert words["milestones"] == "a half and three quarters" and words["warmup"] == "the first tenth"
    assert "the last quarter of training (22.5 of 90)" in words["last_decay"]
    assert words["whole_run"].endswith("before one of the two decays")


def test_the_rates_exercise_is_worked_through_at_the_batch_it_asks_for():
    worked = ls.rates_worked(8192, "full")
    assert worked["rates"] == ("k = 8,192/128 = 64: the linear rule gives 0.1 · 64 = 6.4, the square-root rule "
                               "0.1 · √64 = 0.8, no scaling 0.1.")
    assert worked["steps"] == ("An epoch is ⌊50,000/8,192⌋ = 6 steps, so 30 epochs are 180 steps and the warmup, the "
                               "first sixth, is 30 of them.")
    assert worked["halfway"].startswith("For the linear rule s = 0.1/6.4 and w = 30, so at step t = 15 its rate is "
                                        "0.1 + (6.4 − 0.1) · 15/30 = 3.25 (the square root's, 0.1 + (0.8 − 0.1) · "
                                        "15/30 = 0.45)")
    assert worked["last"] == "After the three decays the last step runs at a thousandth of the peak."
    assert worked["climb"] == "ours climbs a factor of 64 in 30 steps, each adding 6.3/30 = 0.21 to the rate."
    # an odd warmup: the step the schedule reads, not an exact half
    assert "at step t = 7 its rate is 0.1 + (12.8 − 0.1) · 7/15 = 6.03" in ls.rates_worked(16384, "full")["halfway"]
    at_reference = ls.rates_worked(128, "full")   # no rule's rate above the reference: nothing warms up
    assert at_reference["steps"].endswith("30 epochs are 11,700 steps.")
    assert at_reference["halfway"] == "At this batch no rule's rate is above 0.1, so none warms up."
    too_large = ls.rates_worked(8192, "quick")    # larger than the quick training set
    assert "takes no step at all" in too_large["steps"] and too_large["halfway"] == too_large["last"] == ""


STEEP = {32: [65.15, 66.55], 64: [65.5, 66.9], 128: [67.25, 68.65], 256: [69.4, 70.8], 512: [72.35, 73.75]}
ELBOW = {64: [19.3, 20.7], 128: [19.3, 20.7], 256: [19.5, 20.9], 512: [19.6, 21.0], 1024: [29.3, 30.7]}


def test_the_margin_solution_says_whether_the_word_rests_on_the_curve_or_on_the_convention():
    def said(errors):
        batches = sweep_of(errors)[1]
        return ls.margin_convention_words(batches, ls.find_break(batches))
    # the quick profile's shape: no flat stretch, and the word changes at 2.12 SDs, close to the book's 2
    assert said(STEEP) == ("Here the errors rise steadily from 65.8% at batch 32 to 73.0% at batch 512, with no flat "
                           "stretch at batch 128, and the word at 2 SDs, **not resolved**, changes at 2.12 SDs, "
                           "within a fifth of that margin: the verdict depends on where the convention puts the line "
                           "rather than on an elbow in the curve.")
    # an elbow: flat, then ten points up at once; the nearest change of word is far from 2 SDs
    assert said(ELBOW) == ("Here the errors hold batch 128's within the margin up to batch 512 and the curve breaks at "
                           "batch 1,024, and the word at 2 SDs, **confirmed**, changes at 0.20 SDs, 1.80 SDs away: the "
                           "shape of the curve, not the convention, sets the word.")
    # flat with no break, but a smaller batch ahead by 1.92 SDs: the flat test hinges on the margin
    assert said({64: [17.4, 18.8], 128: [19.3, 20.7], 256: [19.3, 20.7]}).endswith(
        "every batch up to 256, and the word at 2 SDs, **confirmed**, changes at 1.92 SDs, within a fifth of that "
        "margin: the verdict depends on where the convention puts the line rather than on the flat curve.")
    # a batch that breaks at 2 SDs and holds above: the break moves, the word does not
    assert said({128: [19.3, 20.7], 256: [19.3, 20.7], 512: [21.4, 22.8]}).endswith(
        "the word, **confirmed**, holds for every margin from 0 to 6 pooled SDs: it does not hinge on the convention.")
    assert said({128: [20.0], 256: [25.0]}).startswith("With one seed per batch there is no pooled SD yet")
    rising = said({32: [65.15, 66.55], 64: [68.5, 69.9], 128: [67.25, 68.65], 256: [69.4, 70.8]})   # 64 above 128
    assert rising.startswith("Here the errors rise (not at every batch) from 65.8% at batch 32 to 70.1% at batch 256")


def test_the_retraining_solution_says_how_near_the_line_the_quick_records_sit():
    steep = sweep_of(STEEP)[1]
    batch, points = ls.nearest_crossing(steep, ls.find_break(steep))
    assert batch == 32 and points == pytest.approx(2.1 - 2 * 0.98995, abs=1e-3)
    assert ls.nudge_words(points) == "a quarter of a point"
    said = ls.retrain_words(steep)
    assert said.startswith("In the book's quick records batch 32 sits 0.12 points from the break rule's line (the "
                           "1.98-point margin below batch 128's error), so a change that small in one batch's error "
                           "can make the stretch below batch 128 flat or not and change the verdict's word; the climb "
                           "from 65.8% at batch 32 to 73.0% at batch 512, 3.6 margins from end to end, should not "
                           "move.")
    # an elbow: the nearest batch is far from the line, above the reference
    assert ls.retrain_words(sweep_of(ELBOW)[1]).startswith(
        "In the book's quick records batch 512 sits 1.68 points from the break rule's line (the 1.98-point margin "
        "above batch 128's error), the nearest of any batch: it takes a change of that size in one batch's error to "
        "move the first batch that climbs by one doubling")
    assert ls.retrain_words(sweep_of({128: [19.3, 20.7], 256: [19.4, 20.8]})[1]).endswith(
        "the errors span less than one margin from end to end, so even the curve's shape can move.")
    # a diverged batch is broken whatever its error: it is no nearest crossing
    diverged = sweep_of({128: [19.3, 20.7], 256: [19.4, 20.8], 512: [21.0, 22.4]}, diverged={(256, 0)})[1]
    assert ls.nearest_crossing(diverged, ls.find_break(diverged))[0] == 512
    one_seed = sweep_of({128: [20.0], 256: [25.0]})[1]
    assert ls.nearest_crossing(one_seed, ls.find_break(one_seed))[0] is None
    assert ls.retrain_words(one_seed).startswith("With one seed per batch the book's quick records have no margin")
    assert [ls.nudge_words(p) for p in (0.07, 0.3, 0.9, 2.4, float("nan"))] == [
        "a tenth of a point", "half a point", "a point", "3 points", "a small amount"]


def test_the_window_solution_reads_the_lead_over_the_window_the_exercise_asks_for():
    records = [run_with_errors(*run) for run in ((32, 0, [17.3, 18.3, 18.3]), (32, 1, [18.7, 19.7, 19.7]),
                                                 (128, 0, [19.3, 19.3, 19.3]), (128, 1, [20.7, 20.7, 20.7]))]
    readings = ls.final_epochs_readings(records, 3)
    assert "and by 1.00 over the whole run" in ls.lead_words(readings, 1, 3) and ls.lead_words(readings, 1) == \
        ls.lead_words(readings, 1, 3)
    assert "over the book's window and by 1.00 over the final epoch" in ls.lead_words(readings, 2, 1)


def test_fig_1_labels_its_band_with_the_papers_sds_and_its_margin_line_with_the_rules():
    from lrlab.figures.linear_scaling import error_against_batch
    sweep, batches = sweep_of({64: [19.3, 20.7], 128: [19.3, 20.7], 256: [20.3, 21.7], 512: [21.8, 23.2]})
    fig = error_against_batch(batches, sweep, ls.find_break(batches, sds=3.0))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert f"mean ± {ls.FIG1_BAND_SDS:g} SD over seeds" in labels and "+ 3 pooled SD" in labels
    assert ls.find_break(batches).sds == ls.MARGIN_SDS == ls.FIG1_BAND_SDS   # the book's margin: the paper's band


def test_the_budget_sentence_says_whether_every_batch_takes_the_same_images_per_epoch():
    assert ls.epoch_images_words(4100, (32, 1024, 4096)).startswith("Every batch takes the same 4,096 images per epoch")
    words = ls.epoch_images_words(50_000, (128, 16384))   # 49,920 against 3 x 16,384 = 49,152
    assert "from 49,152 to 49,920 images per epoch: their budgets differ by at most 1.5%." in words
