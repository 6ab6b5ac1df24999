"""Which runs may train as one stack (`lrlab.stacked`), and how many at once on this device.

Runs stack when they differ only in MEMBER_FIELDS. How many (K) is a measurement, not a constant:
`lrlab bench --stack` and the GPU calibration time each model shape stacked K = 1, 4, 16, 64 at a
time against one run alone, on this device, and stop at the first K that does not fit its memory.
A shape stacks at the measured K with the best speed-up, and only where that beats training alone;
where nothing is measured it trains alone. On a CPU, for instance, oneDNN's grouped convolutions
are slower than the same convolutions one by one, so ResNets measure below 1x and train alone.

A run with no partner (a headline run, the one left over after the stacks of K) still trains as a
stack of one where the bench measured that faster than the run alone: on a GPU a stack's step is
replayed from a CUDA graph (`lrlab.stack_step`), a lone run's is dispatched from Python operator by
operator, and a small model's step is mostly that dispatching.

A stack's optimizer update is compiled (`lrlab.stacked_optim.FusedUpdate`) where the bench timed the
shape's stack of K so and that, its compilation included, beats the update as written for these runs
(`StackSizes.fused_update`); a GPU job times it for shapes whose update could be a large share of a
step (`lrlab.calibrate.update_could_pay`).
"""
from typing import NamedTuple

from lrlab.errors import LrlabError, check_positive
from lrlab.stacked_optim import FAMILIES

# What members of one stack may differ in; every other field must agree (the optimizer up to its
# family: sgd with sgdw, adam with adamw).
MEMBER_FIELDS = ("optimizer", "lr", "momentum", "weight_decay", "decay_norm_and_bias", "schedule", "schedule_args",
                 "seed", "init", "zero_init_residual", "divergence_factor")


def stack_key(config):
    """What a run must share with the others of its stack, or None if it always trains alone."""
    if (config.runner != "lrlab" or config.trace_every or config.noise_scale_every or config.batch_growth
            or config.init_from or config.lr_layer_decay):   # a stack starts from fresh weights at one rate a member
        return None
    shared = {k: v for k, v in config.to_dict().items() if k not in MEMBER_FIELDS}
    shared["optimizer_family"] = FAMILIES[config.optimizer]
    return tuple(sorted((k, repr(v)) for k, v in shared.items()))


# A stack of one does a lone run's arithmetic plus the stack's bookkeeping; it can only win by replaying its
# step from a CUDA graph, and must win by more than a bench's run-to-run spread (on 2 CPU cores a stack of
# one ResNet-8, no graph, measured 1.09x of the run alone): so only a graphed row of at least this counts.
LONE_STACK_MIN = 1.2


def bench_shape(config):
    """The (model spec, batch) a bench row measures for this run: the batch its forward sees."""
    return config.model_spec, config.micro_batch or config.batch_size


class StackSizes:
    """K (and the speed-up it measured) for each run, from stacked bench rows of one device."""

    def __init__(self, rows=(), fixed=None):
        self.fixed = check_positive("stack", fixed, allow_none=True)
        self.best = {}       # (spec, batch) -> (K, speed-up over one after another)
        self.lone = {}       # (spec, batch) -> speed-up of a graphed stack of one over the run alone, where it pays
        self.shapes = set()  # every (spec, batch) measured stacked, whether or not a K paid
        self.fused = {}      # (spec, batch, K) -> FusedRow: that stack timed with its update compiled
        self.single_per_s = {}   # (spec, batch, K) -> the rate of the run alone that stack was compared with
        for row in rows:
            try:
                shape, k, speedup = (row["model"], int(row["batch_size"])), int(row["members"]), \
                    float(row["stacked_over_sequential"])
                if row.get("fused_update") is True:
                    self.fused[shape + (k,)] = FusedRow(speedup, float(row["update_compile_s"]),
                                                        float(row["per_s"]) / speedup)
            except (KeyError, TypeError, ValueError, ZeroDivisionError):   # out of memory, another kind of row
                continue
            if is_fused_row(row):   # it times another path (its update compiled, or failing to)
                continue
            self.shapes.add(shape)
            if speedup > 0 and row.get("per_s"):
                self.single_per_s[shape + (k,)] = float(row["per_s"]) / speedup
            if k > 1 and speedup > max(1.0, self.best.get(shape, (1, 1.0))[1]):
                self.best[shape] = (k, speedup)
            if k == 1 and row.get("cuda_graph") is True and speedup >= LONE_STACK_MIN:
                self.lone[shape] = speedup
        for shape, lone in self.lone.items():   # K runs as K stacks of one, where that measured faster
            if shape in self.best and self.best[shape][1] <= lone:
                del self.best[shape]

    @classmethod
    def measured(cls, results_root, device_name):
        """From every bench and calibration record of `device_name` (its full name) under results/bench."""
        return cls(_bench_rows(results_root, lambda env: env["device"] == device_name))

    @classmethod
    def for_planning(cls, results_root, device_name):
        """For estimates on the GPU `device_name` (a short name, e.g. H100): the shapes it has measured
        stacked as it measured them, any other shape as the other GPUs measured it (a stack's speed-up
        is a property of launches saved more than of the chip). `.measured_on`: shape -> the GPU whose
        rows gave it."""
        def on(env):
            return device_name.lower() in env["device"].lower()
        here = cls(_bench_rows(results_root, on))
        elsewhere = {}
        for record_device in sorted({env["device"] for env in _bench_envs(results_root)
                                     if env["device_type"] == "cuda" and not on(env)}):
            other = cls.measured(results_root, record_device)
            for shape in other.shapes - here.shapes - set(elsewhere):
                elsewhere[shape] = (other.best.get(shape), other.lone.get(shape), record_device,
                                    {key: row for key, row in other.fused.items() if key[:2] == shape})
        here.measured_on = {shape: device_name for shape in here.shapes}
        for shape, (best, lone, device, fused) in elsewhere.items():
            here.measured_on[shape] = device
            if best:
                here.best[shape] = best
            if lone:
                here.lone[shape] = lone
            here.fused.update(fused)
        here.shapes |= set(elsewhere)
        return here

    def choose(self, config):
        """(K, speed-up): how many runs like `config` to train at once; (1, 1.0) means alone."""
        if stack_key(config) is None:
            return 1, 1.0
        if self.fixed is not None:
            return self.fixed, 1.0
        return self.best.get(bench_shape(config), (1, 1.0))

    def fused_update(self, configs):
        """(fused, speed-up) for `configs`, runs that stack together at the K chosen for them: whether
        their optimizer update should be compiled (`lrlab.stacked_optim.FusedUpdate`), and the stack's
        speed-up over the runs one after another, compilation included. It is compiled where a bench row
        timed this shape's stack of K so, and the runs' steps at that speed plus the compilation take at
        most 1/COMPILE_MIN of their steps as written (the margin torch.compile must clear for lone runs)."""
        from lrlab.compiling import COMPILE_MIN, _step_seconds
        k, speedup = self.choose(configs[0])
        shape = bench_shape(configs[0])
        row = self.fused.get(shape + (k,)) if self.fixed is None and k > 1 else None
        if row is None or row.speedup <= 0:
            return False, speedup
        one_after_another = sum(_step_seconds(shape, config, row.single_per_s) for config in configs)
        compiled = one_after_another / row.speedup + row.compile_s
        if compiled * COMPILE_MIN <= one_after_another / speedup:
            return True, one_after_another / compiled
        return False, speedup

    def lone_speedup(self, config):
        """The measured speed-up of `config` trained as a stack of one over the same run alone, where a
        graphed stack of one measured at least LONE_STACK_MIN; else None (it trains alone)."""
        if stack_key(config) is None or self.fixed is not None:
            return None
        return self.lone.get(bench_shape(config))


# Commit 86ce160 (2026-11-28 00:15 UTC) gathers a stack's batches as one; stack rows measured before it
# had each member's loader launch its own kernels every step, most of a small stack's step on a GPU.
# A job measures such a shape again before it stacks it (lrlab.calibrate.bench_unmeasured_stacks).
ONE_GATHER_SINCE = "2026-11-28T00:15:00Z"
# Since 2026-11-28 10:20 UTC a stacked GPT's attention is the fused kernel a single run calls
# (lrlab.stacked.stacked_causal_attention); rows before it timed attention written out under vmap, its
# (K x batch, heads, T, T) scores in memory: slower, and out of memory sooner.
FUSED_ATTENTION_SINCE = "2026-11-28T10:20:00Z"
# Since 2026-11-28 17:00 UTC a stack's steps on a GPU are replayed from a CUDA graph (lrlab.stack_step);
# GPU rows before it dispatched every operator of every step from Python, most of a small stack's time.
CUDA_GRAPHS_SINCE = "2026-11-28T17:00:00Z"
# Since 2026-11-29 04:50 UTC a stacked ResNet runs its members' channels side by side (lrlab.side_by_side),
# not under vmap: rows before it timed BatchNorm's scale and shift as extra passes over the activations
# (568 operators that are not views in a step of 2 ResNet-20s, against 395 since).
SIDE_BY_SIDE_SINCE = "2026-11-29T04:50:00Z"


def stack_path_changes(spec, gpu=False):
    """[(date, what the stacked path did before it)]: the changes that make an older stack row of model
    `spec` (measured on a GPU, or not) time a slower path than today's."""
    changes = [(ONE_GATHER_SINCE, "each member's batches were drawn one member at a time, K times the data "
                                  "kernels of one run")]
    if str(spec).startswith("chargpt"):
        changes.append((FUSED_ATTENTION_SINCE, "a GPT's attention was written out under vmap, its (K x batch, "
                                               "heads, T, T) scores in memory"))
    if str(spec).startswith("resnet"):
        changes.append((SIDE_BY_SIDE_SINCE, "a ResNet stack ran under vmap, which applied BatchNorm's scale and "
                                            "shift as extra passes over the activations"))
    if gpu:
        changes.append((CUDA_GRAPHS_SINCE, "every step's operators were dispatched one by one from Python, "
                                           "not replayed from a CUDA graph"))
    return changes


def measures_todays_stacks(spec, created, gpu=False):
    """Whether a stack row of model `spec` measured on `created` (an ISO time), on a GPU or not, times
    today's stacked path."""
    return all(created >= since for since, _ in stack_path_changes(spec, gpu))


def _bench_envs(results_root):
    from lrlab.results import Store
    return [record["env"] for record in Store(results_root).bench_records(kinds=("bench", "calibration"))]


def _bench_rows(results_root, device_matches):
    """The stack rows of the matching devices' bench and calibration records, each stamped with its
    device and date, as `latest_stack_rows` keeps them."""
    from lrlab.results import Store
    rows = [{**row, "device": record["env"]["device"], "created": record["created"]}
            for record in Store(results_root).bench_records(kinds=("bench", "calibration"))
            if device_matches(record["env"]) for row in record["rows"]]
    return latest_stack_rows(rows)


def is_fused_row(row):
    """Whether a stack's bench row was timed with its optimizer update compiled (True), or meant to be
    and the compilation failed ("failed: ..."); not for a row without the field, or NaN in a table."""
    value = row.get("fused_update")
    return value is True or isinstance(value, str)


def is_stack_row(row):
    """Whether a bench row times a stack (K >= 1 members; a shape whose K = 4 ran out of memory has K = 1 only)."""
    members = row.get("members")
    return isinstance(members, (int, float)) and members >= 1   # NaN (a pandas row of one run) is not


def latest_stack_rows(rows):
    """Of bench rows stamped with `device` and `created` (their record's), those that hold each device's
    latest stacked measurement of their shape, in the order given: a measurement supersedes the ones
    before it. Rows of a shape never measured stacked are left out."""
    def key(row):   # a stack timed with its update compiled supersedes only rows timed so
        return row["device"], row.get("model"), row.get("batch_size"), is_fused_row(row)
    latest = {}
    for row in rows:
        if is_stack_row(row):
            latest[key(row)] = max(latest.get(key(row), row["created"]), row["created"])
    return [row for row in rows if latest.get(key(row)) == row["created"]]


class FusedRow(NamedTuple):
    """A stack's bench row timed with its optimizer update compiled: its speed-up over the runs one after
    another, the compilation's seconds, and the rate of the run alone it was compared with."""
    speedup: float
    compile_s: float
    single_per_s: float


class Group(NamedTuple):
    """Runs (positions in a list of configs) that train as one, at the speed-up measured for them over
    the same runs alone one after another; `stacked`: through `lrlab.stacked` (a stack of one included);
    `fused_update`: with the stack's optimizer update compiled (`StackSizes.fused_update`)."""
    positions: list
    speedup: float
    stacked: bool
    fused_update: bool = False


def stack_groups(configs, sizes, also_share=lambda config: None):
    """[Group]: `configs` (by position) as they would train, in stacks of the K `sizes` chose for them
    (runs that share a stack key and `also_share`, e.g. the epoch a checkpoint resumes from) with the
    speed-up measured for that K; then each run left without a partner, as a stack of one where that
    measured faster (`StackSizes.lone_speedup`), else alone at 1.0; stacks first, then the rest, each
    in the order of `configs`."""
    groups, alone = {}, []
    for i, config in enumerate(configs):
        k, speedup = sizes.choose(config)
        if k < 2:
            alone.append(i)
            continue
        groups.setdefault((stack_key(config), also_share(config)), (k, speedup, []))[2].append(i)
    stacks = []
    for k, _, members in groups.values():
        for start in range(0, len(members), k):
            chunk = members[start:start + k]
            if len(chunk) > 1:
                fused, speedup = sizes.fused_update([configs[i] for i in chunk])
                stacks.append(Group(chunk, speedup, True, fused))
            else:
                alone += chunk
    singles = [(i, sizes.lone_speedup(configs[i])) for i in sorted(alone)]
    return stacks + [Group([i], lone or 1.0, lone is not None) for i, lone in singles]


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
