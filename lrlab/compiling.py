"""Which runs train with torch.compile: on a GPU, those whose shape the bench measured faster compiled,
by more than the compilation costs.

torch.compile fuses a step's small operators into fewer kernels, and a small model's step on a GPU is
mostly the launching of its operators (ResNet-20 took 11 ms a step at batch 128 and at batch 1000 on
the H200). But a run pays a compilation before its first step: on a fresh GPU machine a cold one, 15 s
for ResNet-8 on the H200 and more for deeper nets. So whether a run compiles is a measurement, as a
stack's K is (`lrlab.stacking`): bench rows of its shape (model, batch) timed eager (EAGER_MODE) and
compiled (COMPILED_MODE) on this device. The runs of a shape that train alone compile together when,
by those rows, their steps compiled plus one cold compilation and a reuse per further run take at most
1/COMPILE_MIN of their steps eager, and less than as graphed stacks of one where that was measured.
On a CPU nothing compiles by default (the issue asks it of CUDA; on 2 CPU cores it gained 0-10%).
"""
from typing import NamedTuple

from lrlab.stacking import bench_shape

EAGER_MODE = "bf16+channels_last"             # what a run on CUDA does (channels_last for ResNets only)
COMPILED_MODE = "bf16+channels_last+compile"
# The compiled run's time, compilation included, must be this much shorter than eager: more than a
# bench's spread (on 2 CPU cores a stack of one ResNet-8, the same arithmetic as the run alone, measured
# 1.09x of it; lrlab.stacking.LONE_STACK_MIN).
COMPILE_MIN = 1.1
# A GPU job benches a shape compiled (a cold compilation: 15 s for ResNet-8 on the H200, more for deeper
# nets) only for runs that could repay it several times over: its runs alone in the job predicted at
# least this long (most of a job: the Tier-1 headline run, 8 min, is; a grid's few leftover runs are not).
BENCH_WORTH_S = 300.0


class CompileSpeed(NamedTuple):
    """One shape's bench rows: examples (tokens) per second eager and compiled, the seconds of a cold
    compilation and of a further one in the same process (a second model of the shape)."""
    eager_per_s: float
    compiled_per_s: float
    compile_s: float
    reuse_s: float


def compilable(config):
    """Whether a run could compile at all: lrlab's own loop (torch-lr-finder's is its own)."""
    return config.runner == "lrlab"


class CompileSpeeds:
    """The compile rows of one device (or set of devices), by (model spec, batch): the latest row of
    each mode wins, so a pair measured together (a job's compile bench) supersedes older rows."""

    def __init__(self, rows=()):
        eager, compiled = {}, {}
        for row in rows:
            try:
                shape, per_s, mode = (row["model"], int(row["batch_size"])), float(row["per_s"]), row.get("mode")
                if mode == COMPILED_MODE:
                    compiled[shape] = (per_s, float(row["compile_s"]), float(row.get("compile_reuse_s") or 0.0))
                elif mode == EAGER_MODE:
                    eager[shape] = per_s
            except (KeyError, TypeError, ValueError):   # a failed row, a row of another kind
                continue
        self.speeds = {shape: CompileSpeed(eager[shape], *compiled[shape])
                       for shape in eager.keys() & compiled.keys() if eager[shape] > 0 and compiled[shape][0] > 0}

    @classmethod
    def measured(cls, results_root, device_name):
        """From the bench and calibration records of `device_name` (its full name)."""
        return cls.measured_where(results_root, lambda env: env["device"] == device_name)

    @classmethod
    def for_planning(cls, results_root, device_name):
        """For estimates on the GPU `device_name` (a short name, e.g. H100): its own rows, then, for a
        shape it has not measured, another GPU's."""
        def here(env):
            return device_name.lower() in env["device"].lower()
        mine = cls.measured_where(results_root, here)
        others = cls.measured_where(results_root, lambda env: env.get("device_type") == "cuda" and not here(env))
        mine.speeds = {**others.speeds, **mine.speeds}
        return mine

    @classmethod
    def measured_where(cls, results_root, device_matches):
        """From the bench and calibration records whose env `device_matches`, oldest first."""
        return cls(_rows(results_root, device_matches))

    def speed(self, config):
        return self.speeds.get(bench_shape(config)) if compilable(config) else None

    def compiled_seconds(self, config, eager_s, first=True):
        """A prediction of `eager_s` seconds for `config` trained eager, for the same run compiled: with
        a cold compilation (`first` of its shape), else a reuse; `eager_s` where nothing is measured."""
        speed = self.speed(config)
        if speed is None:
            return eager_s
        return eager_s * speed.eager_per_s / speed.compiled_per_s + (speed.compile_s if first else speed.reuse_s)

    def choose(self, configs, lone_speedups=None):
        """The positions of `configs` (runs that train alone) that should compile. A shape's runs
        compile together (one cold compilation, then a reuse each) when that is COMPILE_MIN times faster
        than eager and faster than each as a graphed stack of one (`lone_speedups`: per run, the
        measured speed-up of that, or None)."""
        lone_speedups = lone_speedups or [None] * len(configs)
        by_shape = {}
        for i, config in enumerate(configs):
            if self.speed(config) is not None:
                by_shape.setdefault(bench_shape(config), []).append(i)
        chosen = []
        for shape, positions in by_shape.items():
            speed = self.speeds[shape]
            eager = [_step_seconds(shape, configs[i], speed.eager_per_s) for i in positions]
            compiled = (sum(_step_seconds(shape, configs[i], speed.compiled_per_s) for i in positions)
                        + speed.compile_s + (len(positions) - 1) * speed.reuse_s)
            best_otherwise = sum(s / (lone_speedups[i] or 1.0) for s, i in zip(eager, positions))
            if compiled * COMPILE_MIN <= sum(eager) and compiled < best_otherwise:
                chosen += positions
        return sorted(chosen)


def runs_without_partner(configs, groups):
    """(positions, configs, speed-ups as stacks of one or None) of the runs of `groups` (`lrlab.stacking.
    Group`s of `configs`) that have no partner: alone, or stacks of one. Only these may compile."""
    singles = [group for group in groups if len(group.positions) == 1]
    return ([group.positions[0] for group in singles], [configs[group.positions[0]] for group in singles],
            [group.speedup if group.stacked else None for group in singles])


def compiled_positions(configs, groups, compiling):
    """Of `groups` (`lrlab.stacking.Group`s of `configs`), the positions of the runs without a partner
    that `compiling` (a CompileSpeeds, or None) has compile."""
    if not compiling:
        return set()
    positions, lone_configs, speedups = runs_without_partner(configs, groups)
    return {positions[j] for j in compiling.choose(lone_configs, speedups)}


def _step_seconds(shape, config, per_s):
    """The seconds a run's forward-backward passes take at `per_s` examples (tokens) a second, as the
    bench timed them: every pass of the run (a step of micro-batches is several) at the shape's batch."""
    from lrlab import cost
    from lrlab.bench import GPT_BLOCK
    _, batch = shape
    passes = cost.run_steps(config) * (config.batch_size // batch)
    return passes * batch * (GPT_BLOCK if config.model == "chargpt" else 1) / per_s


def _rows(results_root, device_matches):
    """The rows of the matching devices' bench and calibration records, oldest record first."""
    from lrlab.results import Store
    records = [record for record in Store(results_root).bench_records(kinds=("bench", "calibration"))
               if device_matches(record["env"])]
    return [row for record in sorted(records, key=lambda r: r["created"]) for row in record["rows"]]


def resolve(compile, device, results_root):
    """`compile` as `lrlab.runner.train_runs` takes it: "auto" is, on a GPU, the CompileSpeeds of this
    device's bench (each run alone compiles where they say it pays) and, elsewhere, False."""
    if compile != "auto":
        return bool(compile)
    if str(device).startswith("cpu"):
        return False
    from lrlab.env import device_name
    return CompileSpeeds.measured(results_root, device_name(device))


def parse_compile(value):
    """--compile: auto (the bench decides, on a GPU), on, or off."""
    from lrlab.errors import LrlabError
    choices = {"auto": "auto", "on": True, "off": False}
    if value not in choices:
        raise LrlabError(f"--compile {value!r} is not one of auto, on, off")
    return choices[value]
