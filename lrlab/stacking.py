"""Which runs may train as one stack (`lrlab.stacked`), and how many at once on this device.

Runs stack when they differ only in MEMBER_FIELDS. How many (K) is a measurement, not a constant:
`lrlab bench --stack` and the GPU calibration time each model shape stacked K = 1, 4, 16, 64 at a
time against one run alone, on this device, and stop at the first K that does not fit its memory.
A shape stacks at the measured K with the best speed-up, and only where that beats training alone;
where nothing is measured it trains alone. On a CPU, for instance, oneDNN's grouped convolutions
are slower than the same convolutions one by one, so ResNets measure below 1x and train alone.
"""
from lrlab.errors import LrlabError, check_positive
from lrlab.stacked_optim import FAMILIES

# What members of one stack may differ in; every other field must agree (the optimizer up to its
# family: sgd with sgdw, adam with adamw).
MEMBER_FIELDS = ("optimizer", "lr", "momentum", "weight_decay", "decay_norm_and_bias", "schedule", "schedule_args",
                 "seed", "init", "zero_init_residual", "divergence_factor")


def stack_key(config):
    """What a run must share with the others of its stack, or None if it always trains alone."""
    if config.runner != "lrlab" or config.trace_every or config.noise_scale_every or config.batch_growth:
        return None
    shared = {k: v for k, v in config.to_dict().items() if k not in MEMBER_FIELDS}
    shared["optimizer_family"] = FAMILIES[config.optimizer]
    return tuple(sorted((k, repr(v)) for k, v in shared.items()))


def bench_shape(config):
    """The (model spec, batch) a bench row measures for this run: the batch its forward sees."""
    return config.model_spec, config.micro_batch or config.batch_size


class StackSizes:
    """K (and the speed-up it measured) for each run, from stacked bench rows of one device."""

    def __init__(self, rows=(), fixed=None):
        self.fixed = check_positive("stack", fixed, allow_none=True)
        self.best = {}   # (spec, batch) -> (K, speed-up over one after another)
        for row in rows:
            try:
                shape, k, speedup = (row["model"], int(row["batch_size"])), int(row["members"]), \
                    float(row["stacked_over_sequential"])
            except (KeyError, TypeError, ValueError):   # an out-of-memory row, a row of another kind
                continue
            if k > 1 and speedup > max(1.0, self.best.get(shape, (1, 1.0))[1]):
                self.best[shape] = (k, speedup)

    @classmethod
    def measured(cls, results_root, device_name):
        """From every bench and calibration record of `device_name` (its full name) under results/bench."""
        from lrlab.results import Store
        rows = [row for record in Store(results_root).bench_records(kinds=("bench", "calibration"))
                if record["env"]["device"] == device_name for row in record["rows"]]
        return cls(rows)

    def choose(self, config):
        """(K, speed-up): how many runs like `config` to train at once; (1, 1.0) means alone."""
        if stack_key(config) is None:
            return 1, 1.0
        if self.fixed is not None:
            return self.fixed, 1.0
        return self.best.get(bench_shape(config), (1, 1.0))


def parse_stack(value):
    """--stack: 'auto' (the bench decides), 'off', or a whole number K."""
    if value in (None, "auto"):
        return "auto"
    if value == "off":
        return None
    try:
        return StackSizes(fixed=int(value))
    except (TypeError, ValueError):
        raise LrlabError(f"--stack {value!r} is not auto, off or a whole number of runs, e.g. 8") from None
