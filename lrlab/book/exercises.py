"""What the chapters' exercises print: the knob a reader turned, and what training would cost.

A chapter's exercises are `{exercise}` blocks (sphinx-exercise) at the end of its page. Each turns a
knob of the page's parameters cell (`exercise_*`, the book's value by default) with
`lrlab notebooks NN_name -p exercise_x VALUE` and reads the result in the exercise itself, under
"This page ran with ...", so the chapter's body keeps the book's values and its prose stays true.
"""


def ran_with(**knobs):
    """'This page ran with `exercise_x = 10.0`': the line an exercise's result sits under."""
    said = ", ".join(f"`{k} = {v!r}`" for k, v in knobs.items())
    return f"This page ran with {said}"


def training_minutes(results, experiment, profile="quick"):
    """(minutes, runs, devices): what the committed `profile` runs of `experiment` took, summed from their
    records' `wall_s` (training and evaluation; a stacked run its share of its stack's), and on which devices."""
    from lrlab.book.reproduction_cost import run_costs   # the cost page's own sum of the records' device time
    runs, _ = run_costs(results)
    runs = runs[(runs.experiment == experiment) & (runs.profile == profile)]
    return float(runs.minutes.sum()), len(runs), sorted(runs.device.unique())


def training_words(results, experiment, profile="quick"):
    """'about 5 minutes (58 runs, as measured on AMD EPYC (2 cores))', for an exercise that trains."""
    minutes, n, devices = training_minutes(results, experiment, profile)
    if not n:
        return f"no {profile} run of {experiment} is recorded yet, so its time is unknown"
    shown = max(1, round(minutes))
    return (f"about {shown:d} minute{'s' if shown > 1 else ''} ({n} runs one after another, the time their records "
            f"took on {' and '.join(devices)})")


def recorded_chapter(name, profile, results):
    """The chapter `name` read at `profile` when every run of it is recorded in `results`, else None
    (an exercise's solution quotes the book's own `profile` numbers where the store has them)."""
    from lrlab.book.chapter import open_chapter
    from lrlab.errors import LrlabError
    try:
        return open_chapter(name, profile, results)
    except LrlabError:
        return None


def _blocks(source):
    """[(label, body)] of each `{exercise}` block of a chapter's MyST source, in page order."""
    import re
    return re.findall(r"^:::\{exercise\}\n:label: (\S+)\n(.*?)^:::$", source, flags=re.M | re.S)


def declared(source):
    """The exercises of a chapter's MyST source: [(label, [the `lrlab notebooks` commands in it])]
    in page order, and the labels that have a `{solution}`."""
    import re
    solved = set(re.findall(r"^:::\{solution\} (\S+)$", source, flags=re.M))
    exercises = [(label, [line.strip() for line in body.splitlines() if line.strip().startswith("lrlab notebooks ")])
                 for label, body in _blocks(source)]
    return exercises, solved


def statements(source):
    """{label: the exercise's statement}: the text of each `{exercise}` block of a chapter's MyST source
    before its first command, where it says what the command changes."""
    return {label: body.split("```bash")[0] for label, body in _blocks(source)}


def knobs_of(command):
    """The -p knobs of one `lrlab notebooks` command line, as the command line would parse them:
    (chapter names, {name: value}, profile)."""
    import shlex
    from lrlab.cli import parser
    from lrlab.notebooks import parse_value
    args = parser().parse_args(shlex.split(command)[1:])
    return args.names, {k: parse_value(v) for k, v in args.parameter}, args.profile


def page_knobs(name):
    """Every knob the exercises of page `name` (a notebooks/ stem) turn, at the value they suggest:
    one run of the page with all of them shows every exercise's result (the tests run it so)."""
    from lrlab.notebooks import chapters, check_knobs
    exercises, _ = declared(chapters()[name].read_text())
    knobs = {}
    for _, commands in exercises:
        for command in commands:
            knobs.update(knobs_of(command)[1])
    return check_knobs(name, knobs)   # as the page receives them: 100 where a float is expected is 100.0


COMMAND_GLUE = "cmd_"   # an exercise statement quotes its command's values as {glue:text}`cmd_<knob>`


def command_values(name):
    """{"cmd_min_shift": 0.1, ...}: every knob the exercises of page `name` turn, at the value its command
    suggests, named as the statements quote it (`COMMAND_GLUE` and the knob without `exercise_`): glued, a
    statement cannot say one value while its command runs another."""
    return {COMMAND_GLUE + knob.removeprefix("exercise_"): value for knob, value in page_knobs(name).items()}
