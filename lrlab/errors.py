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


def one_line(error):
    """An exception's message on one line (its type's name when it has none)."""
    return " ".join(str(error).split()) or type(error).__name__
