"""Every chapter has 3-5 exercises, each with a solution and a command that turns real knobs of its
own page; `lrlab notebooks -p` refuses what the page does not have. (The pages' runs with the
exercises' knobs are in tests/test_book.py: the smoke book is executed with them.)"""
import pytest

from lrlab.book.exercises import declared, knobs_of, page_knobs
from lrlab.errors import LrlabError
from lrlab.notebooks import chapters, check_knobs, page_parameters

CHAPTERS = [name for name in chapters() if name[:2] in ("01", "02", "03", "04", "05", "06")]


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_chapter_has_three_to_five_exercises_each_with_a_solution(name):
    exercises, solved = declared(chapters()[name].read_text())
    assert 3 <= len(exercises) <= 5, [label for label, _ in exercises]
    assert {label for label, _ in exercises} <= solved


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_exercise_command_runs_its_own_page_with_knobs_it_has(name):
    exercises, _ = declared(chapters()[name].read_text())
    book_values = page_parameters(name)
    for label, commands in exercises:
        assert commands, f"{label} has no lrlab notebooks command"
        for command in commands:
            names, knobs, _ = knobs_of(command)
            assert names == [name], command
            check_knobs(name, knobs)
            assert all(knobs[k] != book_values[k] for k in knobs), f"{command} turns a knob to the book's value"
    # the knobs the exercises turn do not contradict each other: one run of the page shows them all
    turned = [k for _, commands in exercises for c in commands for k in knobs_of(c)[1]]
    assert len(turned) == len(set(turned)) == len(page_knobs(name))


def test_unknown_or_mistyped_knobs_and_the_commands_own_options_are_refused_in_one_line():
    with pytest.raises(LrlabError, match="unknown parameter of 01_basics 'curvature'.*exercise_curvature"):
        check_knobs("01_basics", {"curvature": 100})
    with pytest.raises(LrlabError, match="takes a float .* got 'steep'"):
        check_knobs("01_basics", {"exercise_curvature": "steep"})
    with pytest.raises(LrlabError, match="set by lrlab notebooks' own option --profile"):
        check_knobs("01_basics", {"profile": "gpu"})
    assert check_knobs("01_basics", {"exercise_curvature": 100}) == {"exercise_curvature": 100.0}


def test_the_command_line_refuses_a_bad_knob_before_any_page_runs(tmp_path):
    from test_sweep_cli import lrlab
    out = lrlab("notebooks", "01_basics", "-p", "exercise_curvatur", "100", "--results", str(tmp_path))
    assert out.returncode != 0 and "exercise_curvature" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "executing" not in out.stdout


def test_a_train_it_yourself_exercise_quotes_the_recorded_time_and_says_when_there_is_none(tmp_path):
    from fabricate import fake_runs
    from lrlab import experiments
    from lrlab.book.exercises import training_words
    assert training_words(tmp_path, "basics", "quick").startswith("no quick run of basics is recorded")
    configs = experiments.runs("basics", "quick")[:45]   # 1 s each (made up): under a minute
    fake_runs(tmp_path, "basics", "quick", configs)
    said = training_words(tmp_path, "basics", "quick")
    assert said.startswith("about 1 minute (45 runs one after another")
    assert "NVIDIA H100 80GB HBM3 (made up)" in said


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_exercise_statement_quotes_its_commands_values_from_the_command(name):
    from lrlab.book.exercises import COMMAND_GLUE, command_values, statements
    source = chapters()[name].read_text()
    exercises, _ = declared(source)
    said = statements(source)
    for label, commands in exercises:
        for command in commands:
            for knob in knobs_of(command)[1]:
                glue = COMMAND_GLUE + knob.removeprefix("exercise_")
                assert f"`{glue}" in said[label], f"{label} types the value of {knob} instead of quoting {glue}"
                assert glue in command_values(name)
    # and the page glues them
    assert "exercises.command_values(" in source
