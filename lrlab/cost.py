"""How long a run takes on a GPU, before running it: a step-time model (gpu-plan.md, section 2).

A GPU job has a deadline, so it must know which runs fit, and `lrlab queue` prints minutes per
chunk. Most of the book's runs are bound by kernel launches or memory traffic, not FLOPs, so a
FLOP-utilisation guess misleads; this model charges all three:

    t_step = max(CPU dispatch, GPU time)
    CPU dispatch = ops * c            GPU time = 1.2 * ops * k + bytes / BW + FLOPs / (eta * peak)

Per model shape, measured once on the CPU and cached: training FLOPs per example (torch's
FlopCounterMode on the meta device), aten ops of one forward+backward (a dispatch mode, views
excluded), parameters and activation elements. A bench record measured on the GPU (`lrlab bench`)
turns into a per-model factor that corrects the model (`load_calibration`).
"""
import dataclasses
import functools
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from lrlab.config import batches_per_step
from lrlab.disk_memo import disk_memo
from lrlab.errors import LrlabError, check_choice
from lrlab.experiments import test_images, train_images
from lrlab.tasks import EVAL_BATCH
from lrlab.train import CHECK_EVERY, NOISE_SMALL_PER_BIG


@dataclass(frozen=True)
class Scenario:
    """The audit's scenario parameters (gpu-plan.md, section 2) and a run's fixed cost."""
    cpu_per_op_s: float             # c: Python + dispatcher time per aten op
    gpu_per_kernel_s: float         # k: a small kernel's launch-to-finish time
    bandwidth: float                # HBM bytes/s on an H100 (measured copy: 3.0 TB/s)
    eta_gemm: float                 # fraction of bf16 peak reached by the MLP's and GPT's GEMMs
    eta_narrow_conv: float          # ... by 16-64 channel convolutions (implicit GEMMs, narrow)
    resnet_bytes_per_element: float  # HBM bytes per conv-output element per training example
    ops_factor: float               # optimistic: a compiled step launches about half the kernels
    run_overhead_s: float           # per run: model build, data to the device, first-step warm-up


SCENARIOS = {
    # run overhead: on the 2-core CPU a basics sweep spent 0.08 s per run outside its runs' wall time
    # (results/bench/*sweep-basics-quick.json); on a GPU add the model's upload and first kernels' setup
    "pessimistic": Scenario(15e-6, 4e-6, 2.0e12, 0.25, 0.10, 60.0, 1.0, 2.0),
    "central": Scenario(8e-6, 3e-6, 2.5e12, 0.40, 0.20, 48.0, 1.0, 0.5),
    "optimistic": Scenario(5e-6, 2e-6, 2.8e12, 0.55, 0.30, 30.0, 0.5, 0.2),
}


@dataclass(frozen=True)
class Device:
    peak_bf16: float                # dense bf16 FLOP/s (datasheet)
    bandwidth_scale: float          # HBM bandwidth relative to the H100's


# H200: the same compute, 4.3 vs 3.0 TB/s measured device-to-device copy
DEVICES = {"H100": Device(989e12, 1.0), "H200": Device(989e12, 4.3 / 3.0)}

GPU_KERNELS_PER_OP = 1.2      # some aten ops launch more than one kernel
STEP_OVERHEAD_OPS = 50        # per optimizer step: batch, augmentation, divergence bookkeeping, foreach optimizer
EVAL_BATCH_OPS = 10           # per evaluation batch: loader slice, loss and accuracy sums
NOISE_PASS_EXTRA_OPS = 5      # per noise-scale pass: flatten the gradient, square-sum, accumulate
SYNC_S = 50e-6                # a host sync (.item()): the launch queue drains, then refills
# HBM bytes per parameter: autocast casts, weight reads and gradient writes per forward+backward,
# and the optimizer's read-modify-write of fp32 weights, gradients and state per update (40 B a step).
PARAM_BYTES_PER_PASS = 20
PARAM_BYTES_PER_UPDATE = 20
NOISE_PARAM_BYTES = 8         # per noise-scale pass: the flattened fp32 gradient, written and read
# MLP and GPT activations: each bf16 output of a Linear, Embedding, LayerNorm or GELU is written and
# read once forward and its gradient once backward (4 x 2 B). ResNets use the scenario's figure per
# conv output instead, which covers the BN, ReLU and add that read and write it about 20 times.
GEMM_BYTES_PER_ELEMENT = 8
TINY_SHAKESPEARE_CHARS = 1_115_394    # the corpus; lrlab.data trains on the first 90%
GPT_VALIDATION_BATCHES = 20           # CharTask.test_batches
CALIBRATION_MODE_PREFIX = "bf16"      # bench modes a run uses on CUDA: bf16 (+channels_last); compiled
#                                       rows count only for runs lrlab.compiling compiles


@dataclass(frozen=True)
class ShapeCost:
    """What one model shape costs per example, independent of device and batch."""
    train_flops: float           # forward+backward FLOPs per example (per token for the GPT)
    pass_ops: int                # aten ops of one training forward+backward with the loss, bf16 autocast
    pass_ops_fp32: int           # ... without autocast (no weight casts)
    eval_ops: int                # aten ops of one evaluation forward (autocast)
    params: int
    activation_elements: float   # per example (per token): what the activation bytes multiply
    tokens: int                  # tokens per example: the GPT's block, 1 for images
    convolutional: bool          # ResNet: narrow-conv eta and per-conv-output bytes


def shape_cost(config):
    """The per-shape measurement for `config` (cached: parameterization, LR, etc. do not matter)."""
    gpt = config.model == "chargpt"
    return _shape_cost(config.model, config.width, (config.depth or 4) if gpt else None,
                       config.block_size if gpt else None, _num_classes(config))


def _num_classes(config):
    from lrlab.bench import VOCAB
    return VOCAB if config.task == "shakespeare" else 10


@functools.lru_cache(maxsize=None)
def _shape_cost(model, width, depth, block_size, num_classes):
    return ShapeCost(**_measure_shape(model, width, depth, block_size, num_classes))


@disk_memo   # 0.35 s a shape, the same in every process until lrlab or torch changes
def _measure_shape(model, width, depth, block_size, num_classes):
    with torch.random.fork_rng(devices=[]):   # building models draws weights: leave the caller's RNG alone
        flops, params, elements = _count_on_meta(model, width, depth, block_size, num_classes)
        train_ops, train_ops_fp32, eval_ops = _count_ops(model, depth, num_classes)
    return dataclasses.asdict(ShapeCost(flops, train_ops, train_ops_fp32, eval_ops, params, elements,
                                        block_size or 1, model.startswith("resnet")))


def _example_batch(model, num_classes, block_size, batch=2):
    if model == "chargpt":
        tokens = torch.randint(0, num_classes, (batch, block_size + 1))
        return tokens[:, :-1], tokens[:, 1:]
    return torch.randn(batch, 3, 32, 32), torch.randint(0, num_classes, (batch,))


def _training_pass(model, x, y):
    """What `train` does per micro-batch: forward, loss and accuracy, backward."""
    logits = model(x)
    logits = logits.reshape(-1, logits.shape[-1])
    loss = F.cross_entropy(logits.float(), y.reshape(-1))
    correct = (logits.argmax(-1) == y.reshape(-1)).sum()
    loss.backward()
    return loss.detach(), correct


def _count_on_meta(model, width, depth, block_size, num_classes):
    """FLOPs, parameters and activation elements at full width, with no memory or time spent on
    weights (MLP-8192 has 92M parameters). On the meta device SDPA runs torch's math path, so the
    counter includes attention (2*T*d MAC per layer per token forward, non-causal), which it misses
    for the fused CPU kernel; `lrlab bench` counts here for that reason."""
    from torch.utils.flop_counter import FlopCounterMode

    from lrlab.models import build_model
    with torch.device("meta"):
        net = build_model(model, num_classes, width, depth, block_size=block_size or 128)
        x, y = _example_batch(model, num_classes, block_size)
    kinds = (nn.Conv2d,) if model.startswith("resnet") else (nn.Linear, nn.Embedding, nn.LayerNorm, nn.GELU)
    elements = []
    hooks = [m.register_forward_hook(lambda m, i, out: elements.append(out.numel()))
             for m in net.modules() if isinstance(m, kinds)]
    with FlopCounterMode(display=False) as counter:
        _training_pass(net, x, y)
    for hook in hooks:
        hook.remove()
    examples = x.numel() / (3 * 32 * 32) if x.dim() == 4 else x.numel()   # images, or tokens
    params = sum(p.numel() for p in net.parameters())
    return counter.get_total_flops() / examples, params, sum(elements) / examples


@functools.lru_cache(maxsize=None)
def _count_ops(model, depth, num_classes):
    """Aten ops per training pass and per evaluation forward. Ops do not depend on width, so the
    MLP and GPT are counted on a narrow copy (width 32, block 8) on the CPU, where SDPA is one fused
    op as on CUDA. Counted in fp32; CUDA's bf16 autocast adds two ops per weight layer (the
    weight's cast forward, its gradient's cast backward) and one per layer in evaluation."""
    from lrlab.models import build_model
    narrow = None if model.startswith("resnet") else 32
    net = build_model(model, num_classes, narrow, depth, block_size=8)
    x, y = _example_batch(model, num_classes, 8)
    weight_layers = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())
    with _OpCounter() as train_ops:
        _training_pass(net, x, y)
    with _OpCounter() as eval_ops, torch.no_grad():
        net(x)
    return train_ops.count + 2 * weight_layers, train_ops.count, eval_ops.count + weight_layers


class _OpCounter(torch.utils._python_dispatch.TorchDispatchMode):
    """Counts aten ops that do work: views launch no kernel and cost little dispatch."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not func.is_view:
            self.count += 1
        return func(*args, **(kwargs or {}))


# ---------------------------------------------------------------- the step model
def _seconds(ops, bytes_moved, flops, eta, device, scenario):
    """max(CPU dispatch, GPU time) for work that the CPU enqueues without waiting."""
    ops *= scenario.ops_factor
    gpu = (GPU_KERNELS_PER_OP * ops * scenario.gpu_per_kernel_s
           + bytes_moved / (scenario.bandwidth * device.bandwidth_scale)
           + flops / (eta * device.peak_bf16))
    return max(ops * scenario.cpu_per_op_s, gpu)


def _resolve(device, scenario):
    check_choice("device profile", device, DEVICES)
    check_choice("scenario", scenario, SCENARIOS)
    return DEVICES[device], SCENARIOS[scenario]


class _RunModel:
    """A config's per-step, per-evaluation and per-pass seconds on one device and scenario."""

    def __init__(self, config, device, scenario):
        self.config, self.device, self.scenario = config, device, scenario
        self.shape = shape = shape_cost(config)
        # torch-lr-finder (and precision fp32) train in fp32 without channels_last: half the rate
        self.fp32 = config.runner == "torch-lr-finder" or config.precision == "fp32"
        eta = scenario.eta_narrow_conv if shape.convolutional else scenario.eta_gemm
        self.eta = eta / 2 if self.fp32 else eta
        self.act_bytes_per_element = (scenario.resnet_bytes_per_element if shape.convolutional
                                      else GEMM_BYTES_PER_ELEMENT)
        self.micro_steps = config.batch_size // config.micro_batch if config.micro_batch else 1
        self.micro_batch = config.batch_size // self.micro_steps

    def _pass(self, batch):
        s = self.shape
        ops = s.pass_ops_fp32 if self.fp32 else s.pass_ops
        activations = s.activation_elements * batch * s.tokens * self.act_bytes_per_element
        bytes_moved = s.params * PARAM_BYTES_PER_PASS + activations
        return ops, bytes_moved, s.train_flops * batch * s.tokens

    def step_s(self):
        """One optimizer step: its micro-batches' passes, then the update and bookkeeping."""
        ops, bytes_moved, flops = self._pass(self.micro_batch)
        n = self.micro_steps
        return _seconds(n * ops + STEP_OVERHEAD_OPS, n * bytes_moved + self.shape.params * PARAM_BYTES_PER_UPDATE,
                        n * flops, self.eta, self.device, self.scenario)

    def eval_batch_s(self, batch):
        """A forward pass in evaluation: its own op count, a third of a training pass's work."""
        _, bytes_moved, flops = self._pass(batch)
        return _seconds(self.shape.eval_ops + EVAL_BATCH_OPS, bytes_moved / 3, flops / 3, self.eta,
                        self.device, self.scenario)

    def eval_s(self):
        """`evaluate`: CIFAR's test set in batches of 1000; the GPT's 20 validation batches."""
        config = self.config
        if config.task == "shakespeare":
            return GPT_VALIDATION_BATCHES * self.eval_batch_s(config.batch_size) + SYNC_S
        images = test_images(config.test_per_class, len(config.classes or range(10)))
        full, rest = divmod(images, EVAL_BATCH)
        return (full * self.eval_batch_s(EVAL_BATCH) + (self.eval_batch_s(rest) if rest else 0.0)) + SYNC_S

    def noise_point_s(self):
        """One noise-scale measurement: 8 x noise_scale_batches gradients at the micro-batch size."""
        ops, bytes_moved, flops = self._pass(self.micro_batch)
        bytes_moved += self.shape.params * NOISE_PARAM_BYTES
        one = _seconds(ops + NOISE_PASS_EXTRA_OPS, bytes_moved, flops, self.eta, self.device, self.scenario)
        return NOISE_SMALL_PER_BIG * self.config.noise_scale_batches * one + SYNC_S


def steps_per_epoch(config):
    """What CifarTask and CharTask compute from the data, from the config alone."""
    if config.steps_per_epoch:
        return config.steps_per_epoch
    if config.task == "shakespeare":
        return max(1, int(0.9 * TINY_SHAKESPEARE_CHARS) // (config.batch_size * config.block_size))
    images = train_images(config.train_per_class, len(config.classes or range(10)))
    return max(1, images // config.batch_size)


def updates_by_epoch(config):
    """Optimizer updates in each epoch: steps_per_epoch, fewer where the batch has grown (`batch_growth`: the
    last update of an epoch takes the batches that are left)."""
    return [math.ceil(steps_per_epoch(config) / batches_per_step(config, e)) for e in range(config.epochs)]


def run_steps(config):
    """Steps of batch_size in the whole run (divergence may end it sooner): its optimizer steps, or, where the
    batch grows (`batch_growth`), the batches its fewer, larger steps are made of, which cost the same."""
    return config.epochs * steps_per_epoch(config)


def step_seconds(config, device="H100", scenario="central", calibration=None):
    """One optimizer step of `config` (all its micro-batches), in seconds."""
    dev, scen = _resolve(device, scenario)
    factor = calibration_factor(calibration, config)
    return _RunModel(config, dev, scen).step_s() * factor


def _device_seconds(config, device, scenario):
    """The run without its fixed overhead: what a calibration factor scales."""
    run = _RunModel(config, device, scenario)
    steps = run_steps(config)
    seconds = steps * run.step_s() + steps / CHECK_EVERY * SYNC_S
    if config.runner == "torch-lr-finder":
        seconds += run.eval_s()          # the tool evaluates once, at the end
    else:
        seconds += config.epochs * run.eval_s()
    if config.trace_every:               # each trace point syncs, and may evaluate the test set
        points = steps // config.trace_every
        seconds += points * (SYNC_S + (run.eval_s() if config.trace_test else 0.0))
    if config.noise_scale_every:         # at the start and every k epochs
        seconds += (1 + config.epochs // config.noise_scale_every) * run.noise_point_s()
    return seconds


def run_seconds(config, device="H100", scenario="central", calibration=None):
    """Predicted wall seconds of the whole run on one GPU: every step (all epochs, no early stop for
    divergence), evaluations, trace and noise-scale points, and the fixed per-run overhead."""
    dev, scen = _resolve(device, scenario)
    return _device_seconds(config, dev, scen) * calibration_factor(calibration, config) + scen.run_overhead_s


def total_seconds(configs, device="H100", scenario="central", calibration=None):
    return sum(run_seconds(c, device, scenario, calibration) for c in configs)


def scenario_totals(configs, device="H100", calibration=None):
    """{scenario: seconds} for a set of runs: the spread a plan should be read with."""
    configs = list(configs)
    return {name: total_seconds(configs, device, name, calibration) for name in SCENARIOS}


def describe_scenarios(configs, device="H100", calibration=None):
    """One line for a CLI: '7.1 min central (pessimistic 13.4, optimistic 2.2) on H100'."""
    t = scenario_totals(configs, device, calibration)
    calibrated = ", calibrated" if calibration else ""
    return (f"{t['central'] / 60:.1f} min central (pessimistic {t['pessimistic'] / 60:.1f}, "
            f"optimistic {t['optimistic'] / 60:.1f}) on {device}{calibrated}")


# ---------------------------------------------------------------- calibration from `lrlab bench`
def calibration_factor(calibration, config):
    """The factor for `config`'s model spec (else the same model's nearest width), at the bench batch
    nearest its micro-batch; 1.0 where nothing was measured."""
    if not calibration:
        return 1.0
    spec = config.model_spec
    if spec not in calibration:
        widths = {s: _spec_width(s) for s in calibration if s.split("-")[0] == config.model}
        widths = {s: w for s, w in widths.items() if w and config.width}
        if not widths:
            return 1.0
        spec = min(widths, key=lambda s: abs(math.log(widths[s] / config.width)))
    by_batch = calibration[spec]
    batch = config.micro_batch or config.batch_size
    return by_batch[min(by_batch, key=lambda b: abs(math.log(b / batch)))]


def _spec_width(spec):
    _, _, width = spec.partition("-")
    return int(width) if width.isdigit() else None


def bench_config(spec, batch_size, steps):
    """The run `lrlab.bench` times for one row, its timed epoch only (synthetic data: 10 test images)."""
    from lrlab.bench import bench_config as benched
    return benched(spec, batch_size, steps, "bf16").replace(epochs=1, test_per_class=1)


def calibration_from_bench(records, device_name):
    """{model spec: {batch size: measured / modelled}} from bench records of `device_name`.

    A bench row times one epoch of `steps` steps plus its evaluation; the factor compares that with
    the central model of the same epoch. Per (spec, batch) the fastest eager bf16 mode counts (what a
    run on CUDA uses unless `lrlab.compiling` has it compile, which the queue applies on top); compiled,
    classic and stacked rows, and records of other devices, are ignored. The device
    matches when `device_name` is part of the record's (e.g. 'H100' in 'NVIDIA H100 80GB HBM3')."""
    fastest = {}
    for record in records:
        try:
            if record.get("kind") not in ("bench", "calibration") or device_name.lower() not in record["env"]["device"].lower():
                continue
            for row in record["rows"]:
                mode = str(row.get("mode", ""))
                if not mode.startswith(CALIBRATION_MODE_PREFIX) or mode.endswith("+compile"):
                    continue
                key = (row["model"], int(row["batch_size"]), int(row.get("steps") or 20))
                if row["per_s"] > 0 and row["per_s"] > fastest.get(key, 0.0):
                    fastest[key] = float(row["per_s"])
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
    profile = next((name for name in DEVICES if name.lower() in device_name.lower()), "H100")
    device, central = DEVICES[profile], SCENARIOS["central"]
    calibration = {}
    for (spec, batch, steps), per_s in fastest.items():
        try:
            config = bench_config(spec, batch, steps)
        except LrlabError:   # a spec this version cannot build: skip it, not the rest
            continue
        per_step = batch * (config.block_size if config.task == "shakespeare" else 1)
        measured = steps * per_step / per_s
        calibration.setdefault(config.model_spec, {})[batch] = measured / _device_seconds(config, device, central)
    return calibration


def load_calibration(results_root, device_name):
    """The calibration from every bench record under results_root/bench."""
    from lrlab.results import Store
    return calibration_from_bench(Store(results_root).bench_records(), device_name)
