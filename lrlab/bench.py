"""`lrlab bench`: how fast the one training loop trains, per model, batch, device and mode.

Every number times `train` itself (the code every run uses) on synthetic data of the real shapes,
so it includes the on-device augmentation, the optimizer and the schedule. Epoch 1 is warm-up
(allocator, cuDNN autotuning, compilation) and is not counted; with torch.compile, the first
step's extra time is the compile cost: cold (empty caches), from torch's on-disk cache (what a
later process pays), and for a second model of the same shape in the same process. The classic
recipe (PIL images through torchvision transforms and a DataLoader with workers, fp32) runs
through the same loop as the baseline. Results are also written as a record, so the book can
show them. Beside the per-model table: an MLP grid stacked with torch.func (`bench_stacked`), a
whole sweep at several runs at once (`bench_sweep`), and shell commands (`bench_command`).
"""
import contextlib
import os
import re
import tempfile
import time

import numpy as np
import torch

from lrlab.config import RunConfig
from lrlab.data import CIFAR10_MEAN, CIFAR10_STD, CharCorpus, Cifar10
from lrlab.env import run_env
from lrlab.errors import LrlabError, check_choice, check_positive
from lrlab.models import build_model
from lrlab.results import Store, write_json_atomic
from lrlab.train import sync_device, train

MODES = {                      # name: (precision, channels_last, torch.compile)
    "fp32": ("fp32", False, False),
    "bf16": ("bf16", False, False),
    "bf16+channels_last": ("bf16", True, False),
    "bf16+channels_last+compile": ("bf16", True, True),
}
BENCH_MODELS = ("resnet8", "resnet20", "resnet32", "resnet56", "mlp", "chargpt")
# Dense peak FLOP/s from the vendors' datasheets, looked up by a substring of the device's name
# (first match wins, so "H100 PCIe" is tried before "H100"). CPUs have no entry: no fraction.
PEAK_FLOPS = (("H100 PCIe", {"bf16": 756e12, "fp32": 51e12}),
              ("H100", {"bf16": 989e12, "fp32": 67e12}),
              ("H200", {"bf16": 989e12, "fp32": 67e12}),
              ("A100", {"bf16": 312e12, "fp32": 19.5e12}))
GPT_BLOCK, GPT_DEPTH, VOCAB = 128, 4, 65


def parse_model(spec):
    """'resnet56', 'mlp-1024' or 'chargpt-256' -> (name, width)."""
    match = re.fullmatch(r"([a-z0-9]+)(?:-(\d+))?", spec)
    name, width = (match.group(1), match.group(2)) if match else (spec, None)
    check_choice("model", name, BENCH_MODELS)
    if name in ("mlp", "chargpt"):
        width = int(width) if width else (1024 if name == "mlp" else 256)
        check_positive("width", width)
    elif width:
        raise LrlabError(f"model {name!r} has no width; write it as {name}")
    return name, width


def synthetic_cifar(n_train, n_test=10, seed=0):
    rng = np.random.default_rng(seed)
    return Cifar10(rng.integers(0, 256, (n_train, 32, 32, 3), dtype=np.uint8),
                   rng.integers(0, 10, n_train).astype(np.int64),
                   rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8),
                   np.arange(n_test, dtype=np.int64) % 10, "synthetic", "none")


def synthetic_corpus(n_tokens, seed=0):
    ids = torch.from_numpy(np.random.default_rng(seed).integers(0, VOCAB, n_tokens)).long()
    vocab = "".join(chr(32 + i) for i in range(VOCAB))
    return CharCorpus(text="", vocab=vocab, train=ids, val=ids[: 4 * GPT_BLOCK * 8],
                      source="synthetic", sha256="none")


def train_flops_per_example(config):
    """Forward + backward FLOPs per image (per token for the GPT), counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode
    model = build_model(config.model, VOCAB if config.task == "shakespeare" else 10, config.width,
                        config.depth, block_size=config.block_size)
    x = (torch.randint(0, VOCAB, (2, config.block_size)) if config.task == "shakespeare"
         else torch.randn(2, 3, 32, 32))
    with FlopCounterMode(display=False) as counter:
        model(x).float().sum().backward()
    per = 2 * (config.block_size if config.task == "shakespeare" else 1)
    return counter.get_total_flops() / per


class ArrayImages(torch.utils.data.Dataset):
    """What torchvision.datasets.CIFAR10 does: a PIL image per item, transformed on the CPU."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


class ClassicTask:
    """The textbook input pipeline, for comparison only; `train` steps through it as usual."""
    channels_last = False
    num_classes = 10

    def __init__(self, cifar, batch_size, device, steps, workers=None):
        try:
            import torchvision.transforms as T
        except ImportError:
            raise LrlabError("the classic recipe needs torchvision: pip install torchvision") from None
        transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                               T.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
        workers = min(4, os.cpu_count() or 1) if workers is None else workers
        self.loader = torch.utils.data.DataLoader(
            ArrayImages(cifar.train_images, cifar.train_labels, transform), batch_size, shuffle=True,
            num_workers=workers, drop_last=True, pin_memory=device.type == "cuda",
            persistent_workers=workers > 0)
        self.test = [(torch.zeros(2, 3, 32, 32), torch.zeros(2, dtype=torch.long))]
        self.device, self.steps_per_epoch = device, steps

    def train_batches(self, epoch):
        for step, (x, y) in enumerate(self.loader):
            if step == self.steps_per_epoch:
                break
            yield x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def test_batches(self):
        return ((x.to(self.device), y.to(self.device)) for x, y in self.test)


@contextlib.contextmanager
def _empty_compile_cache():
    """torch.compile with an empty on-disk cache and no compiled code in memory: the cold cost."""
    saved = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        torch._dynamo.reset()
        try:
            yield
        finally:
            torch._dynamo.reset()
            if saved is None:
                os.environ.pop("TORCHINDUCTOR_CACHE_DIR")
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = saved


def bench_one(spec, batch_size=128, device="cpu", steps=20, mode="fp32", classic=False):
    """One row of the table: examples/s of the timed epoch and what it means."""
    check_positive("steps", steps)
    check_positive("batch size", batch_size)
    check_choice("mode", mode, MODES)
    name, width = parse_model(spec)
    precision, channels_last, compile = MODES[mode]
    device = torch.device(device)
    gpt = name == "chargpt"
    config = RunConfig(task="shakespeare" if gpt else "cifar10", model=name, width=width,
                       depth=GPT_DEPTH if gpt else None, block_size=GPT_BLOCK,
                       augment="none" if gpt else "crop+flip", batch_size=batch_size, epochs=2,
                       steps_per_epoch=steps, lr=1e-3 if gpt else 0.01,
                       optimizer="adamw" if gpt else "sgd", precision=precision,
                       divergence_factor=1e9)
    data = synthetic_corpus(batch_size * GPT_BLOCK * steps + 1) if gpt else synthetic_cifar(batch_size * steps)
    task = ClassicTask(data, batch_size, device, steps) if classic else None
    channels_last = channels_last and name.startswith("resnet") and not classic
    if not compile:
        record = train(config, device=device, data=data, progress=False, channels_last=channels_last, task=task)
    else:   # three compile costs: cold, from torch's on-disk cache (a later process), same process
        with _empty_compile_cache():
            record = train(config, device=device, data=data, compile=True, progress=False,
                           channels_last=channels_last)
            torch._dynamo.reset()   # forget the in-memory code, as a new process would
            from_disk = train(config.replace(seed=1), device=device, data=data, compile=True, progress=False,
                              channels_last=channels_last)
            again = train(config.replace(seed=2), device=device, data=data, compile=True, progress=False,
                          channels_last=channels_last)
    timed_s = record["history"][1]["seconds"]
    per_step = batch_size * (GPT_BLOCK if gpt else 1)
    rate = per_step * steps / timed_s
    flops = train_flops_per_example(config)
    return dict(model=spec, batch_size=batch_size, mode="classic (DataLoader, fp32)" if classic else mode,
                device=record["env"]["device"], unit="tokens" if gpt else "images",
                per_s=rate, epoch_s=None if gpt else 50_000 / rate,
                train_flops_per_example=flops, achieved_tflops=rate * flops / 1e12,
                peak_fraction=_peak_fraction(rate * flops, record["env"]["device"], precision),
                compile_s=record["compile_s"] if compile else None,
                compile_cached_s=from_disk["compile_s"] if compile else None,
                compile_reuse_s=again["compile_s"] if compile else None, steps=steps)


def bench_stacked(spec, models=8, batch_size=128, device="cpu", steps=20):
    """An MLP grid's `models` runs trained at once, two ways: one after another in one process, and
    stacked into one batched model with torch.func (stack_module_state + vmap), one optimizer step
    for all. Every model sees the same batches, as the runs of a learning-rate grid do. Two rows,
    in images per second summed over the models; both are bare loops (no augmentation, schedule or
    evaluation), so they compare with each other, not with the rows that time `train`."""
    import copy

    from torch.func import functional_call, stack_module_state, vmap
    check_positive("models", models)
    check_positive("steps", steps)
    name, width = parse_model(spec)
    if name != "mlp":
        raise LrlabError(f"stacking is measured for the MLP grids only, not {spec!r}; e.g. mlp-256")
    device = torch.device(device)
    nets = [build_model("mlp", 10, width).to(device) for _ in range(models)]
    x = torch.randn(batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch_size,), device=device)

    def one_after_another():
        optimizers = [torch.optim.SGD(n.parameters(), lr=0.01, momentum=0.9) for n in nets]

        def step():
            for net, opt in zip(nets, optimizers):
                torch.nn.functional.cross_entropy(net(x), y).backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        return step

    def stacked():
        params, buffers = stack_module_state(nets)   # leaves of shape (models, ...)
        template = copy.deepcopy(nets[0]).to("meta")
        optimizer = torch.optim.SGD(params.values(), lr=0.01, momentum=0.9)

        def loss_of_one(p, b):
            return torch.nn.functional.cross_entropy(functional_call(template, (p, b), (x,)), y)
        losses = vmap(loss_of_one)

        def step():
            losses(params, buffers).sum().backward()   # the sum's gradient is each model's own
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return step

    flops = train_flops_per_example(RunConfig(model="mlp", width=width))
    device_name = run_env(device)["device"]
    rows = []
    for mode, make_step in ((f"{models} models, one after another", one_after_another),
                            (f"{models} models stacked (torch.func)", stacked)):
        step = make_step()
        for _ in range(steps):   # warm-up
            step()
        sync_device(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync_device(device)
        rate = models * batch_size * steps / (time.perf_counter() - start)
        rows.append(dict(model=spec, batch_size=batch_size, mode=mode, device=device_name,
                         unit="images", per_s=rate, epoch_s=50_000 * models / rate,
                         train_flops_per_example=flops, achieved_tflops=rate * flops / 1e12,
                         peak_fraction=_peak_fraction(rate * flops, device_name, "fp32"),
                         compile_s=None, compile_cached_s=None, compile_reuse_s=None, steps=steps))
    rows[1]["stacked_over_sequential"] = rows[1]["per_s"] / rows[0]["per_s"]
    return rows


def _peak_fraction(flops_per_s, device_name, precision):
    peak = next((p[precision] for key, p in PEAK_FLOPS if key in device_name), None)
    return flops_per_s / peak if peak else None


def bench(specs, batch_size=128, device="cpu", steps=20, modes=("fp32",), classic=False, out=None,
          log=print, stack=None):
    """Measure every (model, mode); with `classic`, the classic recipe beside each model; with
    `stack`, that many MLPs trained one after another and stacked, beside each MLP."""
    if stack is not None:
        check_positive("stack", stack)
    rows = []
    for spec in specs:
        for mode in modes:
            rows.append(bench_one(spec, batch_size, device, steps, mode))
            log(format_row(rows[-1]))
        if classic and not spec.startswith("chargpt"):
            classic_row = bench_one(spec, batch_size, device, steps, "fp32", classic=True)
            ours = max(r["per_s"] for r in rows if r["model"] == spec)
            classic_row["ours_over_classic"] = ours / classic_row["per_s"]
            rows.append(classic_row)
            log(format_row(classic_row))
            log(f"{'':>12} our fastest mode over the classic recipe: {classic_row['ours_over_classic']:.1f}x")
        if stack is not None and spec.startswith("mlp"):
            rows += bench_stacked(spec, stack, batch_size, device, steps)
            log(format_row(rows[-2]))
            log(format_row(rows[-1]))
            log(f"{'':>12} stacked over one after another: {rows[-1]['stacked_over_sequential']:.1f}x")
    if out:
        log(f"wrote {_write_record(out, '', dict(kind='bench', env=run_env(device), rows=rows))}")
    return rows


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def slug(text):
    """A device name and a label as a file name: 'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _record_path(out, env, name):
    """results/bench/<device>[-<name>].json: one record per device and measurement."""
    return os.path.join(out, slug(f"{env['device']} {name}") + ".json")


def _write_record(out, name, record):
    path = _record_path(out, record["env"], name)
    write_json_atomic(path, dict(status="completed", created=_now(), **record))
    return path


def bench_sweep(experiment, profile, device="cpu", jobs=(1, 2), compile=False, data_root=None, out=None,
                log=print):
    """Time a whole sweep, from an empty store, at each number of runs at once (`lrlab sweep
    --jobs`): many small runs leave a device idle between kernels, and this measures how much
    running several at once recovers. The runs are thrown away; the timings are the result."""
    from lrlab.sweep import sweep
    for n in jobs:
        check_positive("jobs", n)
    rows = []
    for n in jobs:
        with tempfile.TemporaryDirectory() as store:
            start = time.perf_counter()
            runs = sweep(experiment, profile, store, device, data_root, compile, progress=False,
                         log=lambda line: None, jobs=n)
            elapsed = time.perf_counter() - start
            runs_wall_s = sum(r["wall_s"] for r in Store(store).records(profile, experiment))
        rows.append(dict(experiment=experiment, profile=profile, jobs=n, compile=compile, runs=runs,
                         elapsed_s=elapsed, runs_wall_s=runs_wall_s,
                         speedup=rows[0]["elapsed_s"] / elapsed if rows else 1.0))
        log(f"{experiment}/{profile}: {runs} runs, {n} at a time: {elapsed:.1f} s "
            f"({rows[-1]['speedup']:.2f}x the first)")
    if out:
        record = dict(kind="bench-sweep", env=run_env(device), sweeps=rows)
        log(f"wrote {_write_record(out, f'sweep {experiment} {profile}', record)}")
    return rows


def bench_command(command, label=None, out=None, log=print):
    """Time a shell command on this machine (`make book`, `make test`: the book's CPU goals) and
    merge it, by label, into this machine's commands record. A failing command records nothing."""
    import json
    import subprocess
    label = label or command
    start = time.perf_counter()
    returncode = subprocess.run(command, shell=True).returncode
    elapsed = time.perf_counter() - start
    if returncode != 0:
        raise LrlabError(f"command {command!r} failed with exit status {returncode}; nothing recorded")
    row = dict(label=label, command=command, elapsed_s=elapsed, created=_now())
    log(f"{label}: {elapsed:.1f} s")
    if out:
        env = run_env("cpu")
        path = _record_path(out, env, "commands")
        rows = []
        if os.path.exists(path):
            try:
                with open(path) as f:
                    rows = json.load(f)["commands"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise LrlabError(f"corrupt record {path}: not a commands record; delete it to start afresh") from None
        rows = [r for r in rows if r["label"] != label] + [row]
        log(f"wrote {_write_record(out, 'commands', dict(kind='bench-commands', env=env, commands=rows))}")
    return row


HEADER = (f"{'model':>12} {'batch':>6} {'mode':>28} {'per s':>10} {'s/epoch':>8} {'TFLOP/s':>8} {'of peak':>8}"
          f" {'compile s cold/disk/same':>24}")


def format_row(r):
    epoch = f"{r['epoch_s']:.1f}" if r["epoch_s"] else "-"
    peak = f"{100 * r['peak_fraction']:.1f}%" if r["peak_fraction"] else "-"
    compiled = (f"{r['compile_s']:.1f} / {r['compile_cached_s']:.1f} / {r['compile_reuse_s']:.2f}"
                if r.get("compile_s") is not None else "-")
    return (f"{r['model']:>12} {r['batch_size']:>6} {r['mode']:>28} {r['per_s']:>10.0f} {epoch:>8} "
            f"{r['achieved_tflops']:>8.3f} {peak:>8} {compiled:>24}")
