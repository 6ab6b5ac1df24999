"""A run's configuration: a frozen dataclass whose canonical JSON hashes to the run's id.

Only what changes the result belongs here. Where and how fast a run executes (device,
torch.compile, checkpoint cadence) does not, so the same declaration resumes on a CPU or a GPU.
"""
import dataclasses
import functools
import hashlib
import json
from dataclasses import dataclass, field

from lrlab.errors import LrlabError, check_choice, check_int, check_positive, check_range

from lrlab.names import (ATTN_SCALES, AUGMENTATIONS, INITS, MODELS, OPTIMIZERS, PARAMETERIZATIONS, PRECISIONS,
                         RUNNERS, SCHEDULES, TASKS)


COUNTS = ("epochs", "batch_size", "block_size", "base_width", "noise_scale_batches", "width", "depth",
          "steps_per_epoch", "micro_batch", "train_per_class", "test_per_class", "trace_every", "noise_scale_every")
OPTIONAL_COUNTS = ("width", "depth", "steps_per_epoch", "micro_batch", "train_per_class", "test_per_class",
                   "trace_every", "noise_scale_every")   # None: not set
FLAGS = ("nesterov", "decay_norm_and_bias", "zero_init_residual", "trace_test")


@dataclass(frozen=True)
class RunConfig:
    task: str = "cifar10"
    model: str = "resnet20"
    width: int | None = None            # MLP hidden / GPT d_model; ResNets use their fixed 16/32/64
    depth: int | None = None            # GPT layers
    parameterization: str = "sp"        # "sp" or "mup" (muP via the `mup` package)
    base_width: int = 128               # muP's base shape: at this width muP equals SP
    init: str = "default"               # "default": torch's layer init; "lecun": N(0, 1/fan_in), zero biases
    optimizer: str = "sgd"
    lr: float = 0.1                     # peak/base LR; schedules multiply it
    momentum: float = 0.9               # SGD momentum, or Adam beta1
    nesterov: bool = False
    weight_decay: float = 0.0           # the paper's lambda (see lrlab.optim for the torch mapping)
    decay_norm_and_bias: bool = True    # False: no weight decay on 1-D params (BN, biases)
    schedule: str = "constant"
    schedule_args: dict = field(default_factory=dict)
    epochs: int = 1
    steps_per_epoch: int | None = None  # None: one pass over the training set
    batch_size: int = 128
    batch_growth: dict = field(default_factory=dict)  # {"milestones": [0.5, 0.75], "factor": 5}: see below
    micro_batch: int | None = None      # accumulate gradients over batch_size/micro_batch chunks
    augment: str = "crop+flip"
    classes: list | None = None         # CIFAR-10 classes kept, relabelled 0, 1, ... in this order; None: all ten
    train_per_class: int | None = None  # stratified subset for smoke/quick; None: all of it
    test_per_class: int | None = None
    bn_momentum: float = 0.1            # torch convention: Caffe's moving_average_fraction 0.95 is 0.05
    zero_init_residual: bool = False
    block_size: int = 128               # GPT context
    attn_scale: str | None = None       # GPT attention logits x this; None: SP 1/sqrt(d_head), muP 1/d_head
    grad_clip: float | None = None
    precision: str = "auto"             # auto: bf16 autocast on CUDA, fp32 on CPU
    divergence_factor: float = 4.0      # smoothed loss above factor x the first loss ends the run
    runner: str = "lrlab"               # "torch-lr-finder": a range test run by that tool, for comparison
    trace_every: int | None = None      # also record LR and mean training loss every k steps (range tests)
    trace_test: bool = False            # ... and test loss/accuracy at each trace point (Smith's Fig. 2b)
    noise_scale_every: int | None = None  # measure the gradient noise scale at the start and every k epochs
    noise_scale_batches: int = 8        # ... averaged over this many big batches (of 8 micro-batches each)
    init_from: dict | None = None       # fine-tuning: a run's config (as a dict) whose final weights start this one
    lr_layer_decay: float | None = None  # discriminative rates: each layer group lr / this**(groups above it)
    seed: int = 0

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_choice("model", self.model, MODELS)
        check_choice("parameterization", self.parameterization, PARAMETERIZATIONS)
        check_choice("init", self.init, INITS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("augmentation", self.augment, AUGMENTATIONS)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("runner", self.runner, RUNNERS)
        if self.attn_scale is not None:
            check_choice("attn_scale", self.attn_scale, ATTN_SCALES)
            if self.model != "chargpt":
                raise LrlabError(f"attn_scale applies to model 'chargpt' only, not {self.model!r}")
        for name in ("lr", "divergence_factor"):
            check_positive(name, getattr(self, name))
        check_positive("grad_clip", self.grad_clip, allow_none=True)
        for name in COUNTS:   # a width of 2.5 or an epoch count of "3" must fail here, not in torch
            if getattr(self, name) is not None or name not in OPTIONAL_COUNTS:
                check_int(name, getattr(self, name))
        check_int("seed", self.seed, minimum=0)
        for name in FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise LrlabError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.schedule_args, dict) or not all(isinstance(k, str) for k in self.schedule_args):
            raise LrlabError(f"schedule_args must be a dict of option names to values (e.g. {{'gamma': 0.1}}), "
                             f"got {self.schedule_args!r}")
        if self.optimizer == "lion" and self.parameterization == "mup":
            raise LrlabError("optimizer 'lion' has no muP version (the mup package wraps SGD and Adam); "
                             "valid with parameterization 'mup': sgd, sgdw, adam, adamw")
        if self.model in ("mlp", "chargpt") and self.width is None:
            raise LrlabError(f"model {self.model!r} needs a width (a positive integer)")
        if self.trace_test and not self.trace_every:
            raise LrlabError("trace_test needs trace_every (steps between trace points, a positive integer)")
        if self.micro_batch and self.batch_size % self.micro_batch:
            raise LrlabError(f"micro_batch {self.micro_batch} must divide batch_size {self.batch_size}")
        if not 0 <= self.momentum < 1:
            raise LrlabError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.weight_decay < 0:
            raise LrlabError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.batch_growth != {}:
            _check_batch_growth(self)
        if self.classes is not None:
            _check_classes(self)
        if (self.init_from is not None or self.lr_layer_decay is not None) and self.runner != "lrlab":
            raise LrlabError(f"init_from and lr_layer_decay need lrlab's own loop (runner 'lrlab'), "
                             f"not {self.runner!r}")
        if self.init_from is not None:
            # kept as the start's non-default fields only, like an id: a field added later leaves both ids alone
            object.__setattr__(self, "init_from", json.loads(_check_init_from(self).canonical_json()))
        if self.lr_layer_decay is not None:
            check_range("lr_layer_decay", self.lr_layer_decay, 1, float("inf"), closed="low")
            if not self.model.startswith("resnet") or self.parameterization != "sp":
                raise LrlabError(f"lr_layer_decay needs a ResNet in SP (its layer groups are the stem and stages), "
                                 f"not {self.model!r} in {self.parameterization!r}")

    def to_dict(self):
        return dataclasses.asdict(self)

    def canonical_json(self):
        """Only the fields that differ from their defaults: adding a field (with a default that
        keeps the old behaviour) then leaves every existing run's id, and its record, valid."""
        changed = {k: v for k, v in self.to_dict().items() if v != _DEFAULTS[k]}
        return json.dumps(changed, sort_keys=True, separators=(",", ":"))

    @functools.cached_property   # kept on the frozen instance: a queue asks thousands of runs their id
    def id(self):
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    @property
    def model_spec(self):
        """The model's name in `lrlab bench`: 'resnet56', 'mlp-1024', 'chargpt-256'."""
        return self.model if self.width is None else f"{self.model}-{self.width}"

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise LrlabError(f"unknown config field(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return cls(**d)


def _check_batch_growth(config):
    """batch_growth: from each milestone (a fraction of the epochs) on, one optimizer step takes `factor` times
    more batches of batch_size than before (Smith et al. 2018 grow the batch where a schedule would decay the
    rate). The batches stay batch_size apart for BatchNorm (ghost batches), so only the update's batch grows."""
    growth = config.batch_growth
    if not isinstance(growth, dict) or sorted(growth) != ["factor", "milestones"]:
        raise LrlabError(f"batch_growth must be a dict with keys 'factor' and 'milestones' "
                         f"(e.g. {{'milestones': [0.5, 0.75], 'factor': 5}}), got {growth!r}")
    check_int("batch_growth factor", growth["factor"], minimum=2)
    milestones = growth["milestones"]
    if not isinstance(milestones, list) or not milestones:
        raise LrlabError(f"batch_growth milestones must be a non-empty list of fractions of the epochs, got {milestones!r}")
    for m in milestones:
        check_range("a batch_growth milestone", m, 0, 1, closed="neither")
    if milestones != sorted(set(milestones)):
        raise LrlabError(f"batch_growth milestones must increase, got {milestones!r}")
    if config.task != "cifar10":
        raise LrlabError(f"batch_growth applies to task 'cifar10' only, not {config.task!r}")
    if config.steps_per_epoch is not None:
        raise LrlabError("batch_growth counts whole passes over the data: leave steps_per_epoch unset, "
                         f"not {config.steps_per_epoch!r}")


N_CIFAR10_CLASSES = 10


def _check_classes(config):
    """classes: at least two distinct CIFAR-10 labels (0-9); the task sees them as 0, 1, ... in the order given."""
    classes = config.classes
    if config.task != "cifar10":
        raise LrlabError(f"classes applies to task 'cifar10' only, not {config.task!r}")
    if (not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) != len(classes)
            or not all(type(c) is int and 0 <= c < N_CIFAR10_CLASSES for c in classes)):
        raise LrlabError(f"classes must be a list of at least two distinct CIFAR-10 labels from 0 to 9 "
                         f"(e.g. [5, 6, 7, 8, 9]), got {classes!r}")


# what a fine-tuned run must share with the run it starts from: the same network, bar its head
SAME_NETWORK = ("task", "model", "width", "depth", "parameterization", "base_width", "block_size", "attn_scale")


def _check_init_from(config):
    """init_from: the config of the run whose final weights start this one (every layer but the head, which
    is the new task's), given as a dict, so that the fine-tuned run's id names its starting point. Returns
    that run's config."""
    if not isinstance(config.init_from, dict):
        raise LrlabError(f"init_from must be a run's config as a dict (RunConfig.to_dict()), got {config.init_from!r}")
    start = RunConfig.from_dict(config.init_from)
    if start.init_from is not None:
        raise LrlabError("init_from's run must start from scratch: a chain of fine-tunings is not supported")
    differ = [k for k in SAME_NETWORK if getattr(start, k) != getattr(config, k)]
    if differ:
        said = ", ".join(f"{getattr(start, k)!r} against {getattr(config, k)!r}" for k in differ)
        raise LrlabError(f"init_from's run must have the same network: it differs in {', '.join(differ)} ({said})")
    return start


def milestones_passed(milestones, epoch, epochs):
    """How many of `milestones` (fractions of `epochs`) lie at or before the start of `epoch` (from 0)."""
    return sum(epoch >= m * epochs - 1e-9 for m in milestones)


def batches_per_step(config, epoch):
    """How many batches of config.batch_size one optimizer step takes in `epoch` (from 0): 1, times
    batch_growth's factor for each milestone at or before the epoch's start."""
    if not config.batch_growth:
        return 1
    return config.batch_growth["factor"] ** milestones_passed(config.batch_growth["milestones"], epoch, config.epochs)


_DEFAULTS = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
             for f in dataclasses.fields(RunConfig)}
