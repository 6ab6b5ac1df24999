"""User-facing errors: one line that names the bad value and the valid choices."""


class LrlabError(Exception):
    """Bad input. The CLI prints the message on one line and exits non-zero."""


def check_choice(kind, value, choices):
    """Return `value` if it is one of `choices`, else raise naming them all."""
    choices = list(choices)
    if value not in choices:
        raise LrlabError(f"unknown {kind} {value!r}; valid choices: {', '.join(map(str, choices))}")
    return value


def check_positive(name, value, allow_none=False):
    """Sizes, learning rates and budgets must be > 0 (and finite)."""
    if value is None and allow_none:
        return value
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and value != float("inf")
    if not ok:
        raise LrlabError(f"{name} must be a positive number, got {value!r}")
    return value


def check_int(name, value, minimum=1):
    """Counts (steps, batch sizes, seeds, epochs) must be whole numbers >= `minimum`; numpy's too."""
    import numbers
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise LrlabError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


BOUNDS = {"both": "[{}, {}]", "neither": "({}, {})", "low": "[{}, {})"}   # which ends a range includes


def check_range(name, value, low, high, closed="both"):
    """`value` a number in [low, high] (or (low, high), or [low, high): `closed` says which ends count)."""
    bounds = BOUNDS[check_choice("range ends", closed, BOUNDS)].format(low, high)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    above = number and (low <= value if closed in ("both", "low") else low < value)
    below = number and (value <= high if closed == "both" else value < high)
    if not (above and below):
        raise LrlabError(f"{name} must be in {bounds}, got {value!r}")
    return value


def check_non_negative(name, value):
    """Decays and the like: a finite number >= 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < float("inf"):
        raise LrlabError(f"{name} must be a number >= 0, got {value!r}")
    return value


def one_line(error):
    """An exception's message on one line (its type's name when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__


def error_line(exc):
    """One line naming an exception: its type and its message on one line."""
    text = one_line(exc)
    return f"{type(exc).__name__}: {text[:300]}" if text != type(exc).__name__ else text
