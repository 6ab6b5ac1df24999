"""The book shows each part of a chapter from the best profile that has it, and says so.

Records here are made up (tests/fabricate.py) in a temporary store: these tests are about which
records a page reads and what it says about them, not about their numbers."""

import pytest

from fabricate import fake_runs
from lrlab import experiments
from lrlab.book import open_chapter
from lrlab.errors import LrlabError


def chunk(name, experiment, profile="gpu"):
    return next(c for c in experiments.chunks(experiment, profile) if c.name == name)


@pytest.fixture
def quick_store(tmp_path):
    """Every quick run of linear_scaling, super_convergence and weight_decay recorded."""
    for name in ("linear_scaling", "super_convergence", "weight_decay"):
        fake_runs(tmp_path, name, "quick", experiments.runs(name, "quick"))
    return tmp_path


def test_without_gpu_records_every_part_is_quick_and_the_note_says_what_is_pending(quick_store):
    chapter = open_chapter("linear_scaling", "auto", quick_store)
    assert {chapter.profile_of(p) for p in chapter.part} == {"quick"} and not chapter.mixed
    assert chapter.label == "quick"
    assert "**quick** profile" in chapter.note("Small.") and "lrlab queue" in chapter.note("Small.")
    assert "The GPU-scale runs are pending:" in chapter.note("Small.")
    assert chapter.source("batch_sweep").startswith("Profile quick: 16 runs on")


def test_a_caption_says_how_many_of_its_parts_runs_a_figure_draws(quick_store):
    chapter = open_chapter("linear_scaling", "auto", quick_store)
    n = len(chapter.records("warmups", "batch_sweep"))
    assert chapter.source("warmups", "batch_sweep", drawn=4).startswith(
        f"Profile quick: it draws 4 of the {n} runs of the warmups and the batch sweep, on ")
    assert chapter.source("batch_sweep", drawn=16) == chapter.source("batch_sweep")   # every run: no count


def test_a_finished_chunk_shows_its_part_at_gpu_marked_partial(quick_store):
    fake_runs(quick_store, "linear_scaling", "gpu", chunk("elbow_and_rules", "linear_scaling").runs)
    chapter = open_chapter("linear_scaling", "auto", quick_store)
    # the three parts are shown together: all from gpu, the sweep with seed 0 only
    assert [chapter.profile_of(p) for p in ("batch_sweep", "warmups", "rules")] == ["gpu"] * 3
    sweep = chapter.part["batch_sweep"]
    assert (len(sweep.records), sweep.declared) == (8, 16) and not sweep.complete
    assert {r["config"]["seed"] for r in chapter["batch_sweep"]} == {0}
    assert chapter.part["rules"].complete
    note = chapter.note("Small.")
    assert "the batch sweep (8 of 16 runs)" in note and "**gpu**" in note
    assert f"16 of its {len(experiments.runs('linear_scaling', 'gpu'))} runs" in note
    assert all(change in note for change in experiments.get("linear_scaling").GPU_CHANGES)
    assert "pending for the batch sweep (8 of 16 runs)" in chapter.source("batch_sweep")


def test_a_chunk_with_a_run_missing_shows_nothing_at_gpu(quick_store):
    fake_runs(quick_store, "linear_scaling", "gpu", chunk("elbow_and_rules", "linear_scaling").runs[:-1])
    chapter = open_chapter("linear_scaling", "auto", quick_store)
    assert {chapter.profile_of(p) for p in chapter.part} == {"quick"}
    # the note counts what is in rather than calling the GPU runs pending
    declared = len(experiments.runs("linear_scaling", "gpu"))
    runs = len(chunk("elbow_and_rules", "linear_scaling").runs) - 1
    assert f"The GPU-scale runs are not all recorded yet ({runs} of {declared};" in chapter.note("Small.")


def test_a_corrupt_gpu_record_counts_as_missing(quick_store):
    runs = chunk("elbow_and_rules", "linear_scaling").runs
    fake_runs(quick_store, "linear_scaling", "gpu", runs)
    (quick_store / "gpu" / "linear_scaling" / f"{runs[0].id}.json").write_text('{"id": ')
    chapter = open_chapter("linear_scaling", "auto", quick_store)
    assert chapter.profile_of("batch_sweep") == "quick"


def test_parts_compared_with_each_other_come_from_one_profile(quick_store):
    # the ResNet-56 one cycle without its baseline: the headline pair stays at quick
    fake_runs(quick_store, "super_convergence", "gpu", chunk("resnet56_headline", "super_convergence").runs)
    chapter = open_chapter("super_convergence", "auto", quick_store)
    assert chapter.profile_of("headline_one_cycle") == chapter.profile_of("headline_baseline") == "quick"
    assert not chapter.has("first_headline_one_cycle")
    # the first GPU chunk: ResNet-20's pair, the baseline's first seed only
    fake_runs(quick_store, "super_convergence", "gpu", chunk("resnet20_headline", "super_convergence").runs)
    chapter = open_chapter("super_convergence", "auto", quick_store)
    assert chapter.profile_of("first_headline_one_cycle") == chapter.profile_of("first_headline_baseline") == "gpu"
    assert len(chapter["first_headline_one_cycle"]) == 2 and len(chapter["first_headline_baseline"]) == 1
    assert chapter.mixed and chapter.label == "gpu + quick"
    mixed = chapter.source("first_headline_one_cycle", "headline_one_cycle")
    assert mixed.startswith("This figure mixes profiles:") and " at gpu " in mixed and " at quick " in mixed


def test_the_clipping_arms_wait_for_the_chunk_of_the_unclipped_runs(tmp_path):
    # the clipped arm is the warmup sweep's: its chunk lands first, and the comparison stays at quick till its twin does
    fake_runs(tmp_path, "rules_of_thumb", "quick", experiments.runs("rules_of_thumb", "quick"))
    fake_runs(tmp_path, "rules_of_thumb", "gpu", chunk("warmup", "rules_of_thumb").runs)
    chapter = open_chapter("rules_of_thumb", "auto", tmp_path)
    assert chapter.profile_of("warmup") == "gpu"
    assert chapter.profile_of("clipping_on") == chapter.profile_of("clipping_off") == "quick"
    fake_runs(tmp_path, "rules_of_thumb", "gpu", chunk("clipping", "rules_of_thumb").runs)
    chapter = open_chapter("rules_of_thumb", "auto", tmp_path)
    assert chapter.profile_of("clipping_on") == chapter.profile_of("clipping_off") == "gpu"


def test_a_part_made_of_another_parts_runs_so_far_waits_for_its_own_chunk(tmp_path):
    # the width chapter's Part 3 reuses Part 1's runs without decay: Part 1's first chunk does not show Part 3 at gpu
    fake_runs(tmp_path, "lr_vs_width", "quick", experiments.runs("lr_vs_width", "quick"))
    fake_runs(tmp_path, "lr_vs_width", "gpu", chunk("mlp_coarse", "lr_vs_width").runs)
    chapter = open_chapter("lr_vs_width", "auto", tmp_path)
    assert chapter.profile_of("mlp") == "gpu" and chapter.profile_of("mlp_decay") == "quick"
    fake_runs(tmp_path, "lr_vs_width", "gpu", chunk("mlp_decay", "lr_vs_width").runs)
    chapter = open_chapter("lr_vs_width", "auto", tmp_path)
    assert chapter.profile_of("mlp_decay") == "gpu"


def test_the_range_test_rules_are_read_against_the_sweeps_on_their_own_model_and_profile(quick_store):
    from lrlab.experiments import super_convergence as sc
    # the GPU range tests (ResNet-56) land before the GPU sweeps (ResNet-20): the figure of the range test
    # shows them, the rules' verdicts still read the quick range test against the quick sweeps
    fake_runs(quick_store, "super_convergence", "gpu", chunk("range_tests", "super_convergence").runs)
    chapter = open_chapter("super_convergence", "auto", quick_store)
    assert chapter.profile_of("range_test_loss") == "gpu" and chapter["range_test_loss"][0]["config"]["model"] == "resnet56"
    assert chapter.profile_of("sweep_range_test") == chapter.profile_of("peak_sweep") == "quick"
    assert chapter["sweep_range_test"][0]["config"]["model"] == chapter["peak_sweep"][0]["config"]["model"]
    verdicts = sc.verdicts(chapter)
    assert verdicts["rule_steepest"].profile == verdicts["rule_min_over_10"].profile == "quick"
    # the paper-beside-ours table names the model and profile of each range-test row, with no verdict word
    parts = {p: chapter[p] for p in chapter.part}
    rules = sc.range_rules(parts["range_test_loss"][0], parts["range_test_loss_torch_lr_finder"][0])[2]
    table = sc.versus(parts, {p: chapter.profile_of(p) for p in parts}, "ResNet-8", 500,
                      sc.budget_curve(parts["budget_curve"]), (4.0, 6.0), sc.SETTINGS["quick"], rules)
    range_rows = table[table.claim.str.contains("range.test")]
    assert len(range_rows) == 3 and all("ResNet-56, gpu)" in ours for ours in range_rows.ours)
    assert list(table.verdict.iloc[-2:]) == ["—"] * 2 and table.verdict.iloc[-3] == sc.tools_agree_verdict(rules).word
    assert sc.sweep_range_words(chapter["sweep_range_test"][0], chapter["range_test_loss"][0]).startswith(
        "a range test of ResNet-8")
    # at quick the sweeps' range test is the same run as the one the chapter draws first
    quick = open_chapter("super_convergence", "quick", quick_store)
    assert sc.sweep_range_words(quick["sweep_range_test"][0], quick["range_test_loss"][0]) == "the range test above"
    # once the GPU sweeps land, their own ResNet-20 range test comes with them
    fake_runs(quick_store, "super_convergence", "gpu", chunk("resnet20_sweeps", "super_convergence").runs)
    chapter = open_chapter("super_convergence", "auto", quick_store)
    assert chapter.profile_of("sweep_range_test") == chapter.profile_of("peak_sweep") == "gpu"
    assert {chapter["sweep_range_test"][0]["config"]["model"], chapter["peak_sweep"][0]["config"]["model"]} == {"resnet20"}
    assert sc.verdicts(chapter)["rule_steepest"].profile == "gpu"


def test_a_part_only_the_gpu_profile_declares_is_empty_until_recorded(quick_store):
    chapter = open_chapter("weight_decay", "auto", quick_store)
    assert not chapter.has("headline_long") and chapter["headline_long"] == []
    fake_runs(quick_store, "weight_decay", "gpu", chunk("headline_seeds", "weight_decay").runs)
    chapter = open_chapter("weight_decay", "auto", quick_store)
    assert chapter.has("headline_long") and chapter.profile_of("headline_long") == "gpu"
    assert chapter.profile_of("grid") == "quick"
    assert {r["config"]["epochs"] for r in chapter["headline_long"]} == {30}


def test_a_named_profile_shows_only_that_profile_and_must_be_complete(quick_store):
    fake_runs(quick_store, "linear_scaling", "gpu", chunk("elbow_and_rules", "linear_scaling").runs)
    chapter = open_chapter("linear_scaling", "quick", quick_store)
    assert {chapter.profile_of(p) for p in chapter.part} == {"quick"}
    with pytest.raises(LrlabError, match="lrlab sweep linear_scaling --profile gpu"):
        open_chapter("linear_scaling", "gpu", quick_store)
    with pytest.raises(LrlabError, match="'fast'.*valid"):
        open_chapter("linear_scaling", "fast", quick_store)
    with pytest.raises(LrlabError, match="no part 'sweep'.*batch_sweep"):
        open_chapter("linear_scaling", "quick", quick_store)["sweep"]


def test_a_complete_gpu_profile_is_shown_alone_with_its_changes(tmp_path):
    fake_runs(tmp_path, "basics", "gpu", experiments.runs("basics", "gpu"))
    chapter = open_chapter("basics", "auto", tmp_path)   # no quick records needed
    assert chapter.profiles == ["gpu"] and chapter.part["lr_sweep"].complete
    note = chapter.note("Small.")
    assert note.startswith("This page shows the **gpu** profile: all 50 runs on NVIDIA H100")
    assert all(change in note for change in experiments.get("basics").GPU_CHANGES) and "Small." not in note


def test_the_frames_carry_each_runs_profile(quick_store):
    fake_runs(quick_store, "weight_decay", "gpu", chunk("headline_seeds", "weight_decay").runs)
    chapter = open_chapter("weight_decay", "auto", quick_store)
    frame = chapter.runs("grid", "headline_long")
    assert set(frame.profile) == {"quick", "gpu"}
    assert len(frame) == len(chapter["grid"]) + len(chapter["headline_long"])
    assert set(chapter.history("headline_long").profile) == {"gpu"}


def test_every_experiment_declares_parts_that_cover_its_runs():
    for name in experiments.EXPERIMENTS:
        module = experiments.get(name)
        for profile in ("smoke", "quick", "gpu", "full"):
            declared = {c.id for configs in module.parts(profile).values() for c in configs}
            assert declared == {c.id for c in module.runs(profile)}, (name, profile)
        named = {p for profile in ("quick", "gpu") for p in module.parts(profile)}
        assert set(getattr(module, "PART_TITLES", {})) <= named, name
        for group in getattr(module, "SHOWN_TOGETHER", ()):
            assert set(group) <= {p for profile in ("quick", "gpu") for p in module.parts(profile)}, group


def test_a_chapter_that_reproduces_no_paper_says_what_its_gpu_profile_departs_from():
    from lrlab.book.chapter import _protocol
    assert _protocol(experiments.get("basics")) == "the full profile's protocol"
    assert _protocol(experiments.get("linear_scaling")) == "the paper's protocol"
