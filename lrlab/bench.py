"""`lrlab bench`: how fast the one training loop trains, per model, batch, device and mode.

Every number times `train` itself (the code every run uses) on synthetic data of the real shapes,
so it includes the on-device augmentation, the optimizer and the schedule. Epoch 1 is warm-up
(allocator, cuDNN autotuning, compilation) and is not counted; with torch.compile, the first
step's extra time is the compile cost: cold (empty caches), from torch's on-disk cache (what a
later process pays), and for a second model of the same shape in the same process. The classic
recipe (PIL images through torchvision transforms and a DataLoader with workers, fp32) runs
through the same loop as the baseline. Results are also written as a record, so the book can
show them. Beside the per-model table: K runs trained as one stack (`bench_stacked`, K = 1, 4,
16, 64), a whole sweep at several runs at once (`bench_sweep`), and shell commands (`bench_command`).
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
from lrlab.data.loader import CROP_PAD
from lrlab.env import run_env
from lrlab.errors import LrlabError, check_choice, check_positive
from lrlab.experiments import CIFAR10_TRAIN_IMAGES
from lrlab.names import MODELS
from lrlab.results import Store, write_json_atomic
from lrlab.train import train

MODES = {                      # name: (precision, channels_last, torch.compile)
    "fp32": ("fp32", False, False),
    "bf16": ("bf16", False, False),
    "bf16+channels_last": ("bf16", True, False),
    "bf16+channels_last+compile": ("bf16", True, True),
}
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
    check_choice("model", name, MODELS)
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
    """Forward + backward FLOPs per image (per token for the GPT), counted by torch on the meta device
    (`lrlab.cost`), where attention takes the math path and is counted: on the CPU the counter sees
    nothing of the fused SDPA kernel (a quarter of chargpt-64's FLOPs)."""
    from lrlab.cost import shape_cost
    return shape_cost(config).train_flops


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
    """The textbook input pipeline, for comparison only; `train` steps through it as usual (it has the
    shape of `lrlab.tasks`' tasks)."""
    channels_last = False
    num_classes = 10

    def __init__(self, cifar, batch_size, device, steps, workers=None):
        try:
            import torchvision.transforms as T
        except ImportError:
            raise LrlabError("the classic recipe needs torchvision: pip install torchvision") from None
        transform = T.Compose([T.RandomCrop(32, padding=CROP_PAD), T.RandomHorizontalFlip(), T.ToTensor(),
                               T.Normalize(CIFAR10_MEAN, CIFAR10_STD)])
        workers = min(4, os.cpu_count() or 1) if workers is None else workers
        self.loader = torch.utils.data.DataLoader(
            ArrayImages(cifar.train_images, cifar.train_labels, transform), batch_size, shuffle=True,
            num_workers=workers, drop_last=True, pin_memory=device.type == "cuda",
            persistent_workers=workers > 0)
        self.test = [(torch.zeros(2, 3, 32, 32), torch.zeros(2, dtype=torch.long))]
        self.device, self.steps_per_epoch, self.examples_per_batch = device, steps, batch_size

    def steps_in(self, epoch):
        return self.steps_per_epoch

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


@contextlib.contextmanager
def _no_compiled_code():
    """torch.compile with its on-disk cache as it is, and no compiled code in memory before or after."""
    torch._dynamo.reset()
    try:
        yield
    finally:
        torch._dynamo.reset()


def bench_config(spec, batch_size, steps, precision="fp32"):
    """The run a bench times: two epochs of `steps` steps (the first is warm-up), on `synthetic_data`."""
    check_positive("steps", steps)
    check_positive("batch size", batch_size)
    name, width = parse_model(spec)
    gpt = name == "chargpt"
    config = RunConfig(task="shakespeare" if gpt else "cifar10", model=name, width=width,
                       depth=GPT_DEPTH if gpt else None, block_size=GPT_BLOCK,
                       augment="none" if gpt else "crop+flip", batch_size=batch_size, epochs=2,
                       steps_per_epoch=steps, lr=1e-3 if gpt else 0.01,
                       optimizer="adamw" if gpt else "sgd", precision=precision,
                       divergence_factor=1e9)
    return config


def synthetic_data(config):
    """Random data of the real shapes, enough for one epoch of `config` (10 test images)."""
    steps = config.steps_per_epoch
    if config.task == "shakespeare":
        return synthetic_corpus(config.batch_size * GPT_BLOCK * steps + 1)
    return synthetic_cifar(config.batch_size * steps)


def _rate_row(spec, config, mode, record, steps, members=1):
    """A table row from the timed (second) epoch of a bench run: examples/s summed over `members`."""
    gpt = config.task == "shakespeare"
    timed_s = record["history"][1]["seconds"]
    rate = members * config.batch_size * (GPT_BLOCK if gpt else 1) * steps / timed_s
    flops = train_flops_per_example(config)
    return dict(model=spec, batch_size=config.batch_size, mode=mode, device=record["env"]["device"],
                unit="tokens" if gpt else "images", per_s=rate, epoch_s=None if gpt else CIFAR10_TRAIN_IMAGES * members / rate,
                train_flops_per_example=flops, achieved_tflops=rate * flops / 1e12,
                peak_fraction=_peak_fraction(rate * flops, record["env"]["device"], record["env"]["precision"]),
                compile_s=None, compile_cached_s=None, compile_reuse_s=None, steps=steps)


def bench_one(spec, batch_size=128, device="cpu", steps=20, mode="fp32", classic=False, cold_cache=True):
    """One row of the table: examples/s of the timed epoch and what it means. A compiled mode compiles
    with an empty on-disk cache (`cold_cache`), or with torch's own, which then holds the compilation
    for the runs after it (what a GPU job wants: on its bare machine that cache starts empty too)."""
    check_choice("mode", mode, MODES)
    precision, channels_last, compile = MODES[mode]
    config = bench_config(spec, batch_size, steps, precision)
    data = synthetic_data(config)
    device = torch.device(device)
    task = ClassicTask(data, batch_size, device, steps) if classic else None
    channels_last = channels_last and config.model.startswith("resnet") and not classic
    if not compile:
        record = train(config, device=device, data=data, progress=False, channels_last=channels_last, task=task)
    else:   # three compile costs: cold, from torch's on-disk cache (a later process), same process
        with _empty_compile_cache() if cold_cache else _no_compiled_code():
            record = train(config, device=device, data=data, compile=True, progress=False,
                           channels_last=channels_last)
            torch._dynamo.reset()   # forget the in-memory code, as a new process would
            from_disk = train(config.replace(seed=1), device=device, data=data, compile=True, progress=False,
                              channels_last=channels_last)
            again = train(config.replace(seed=2), device=device, data=data, compile=True, progress=False,
                          channels_last=channels_last)
    row = _rate_row(spec, config, "classic (DataLoader, fp32)" if classic else mode, record, steps)
    if compile:
        # compile_s is cold only from an empty cache; with torch's own it is what that cache held
        row.update(compile_s=record["compile_s"], compile_cached_s=from_disk["compile_s"],
                   compile_reuse_s=again["compile_s"], compile_cache="empty" if cold_cache else "torch's")
    return row


STACK_SIZES = (1, 4, 16, 64)


def bench_stacked(spec, sizes=STACK_SIZES, batch_size=128, device="cpu", steps=20, precision="fp32", single=None,
                  stop_at=None, fused_update=False, cold_cache=True):
    """K runs of `spec` trained as one stack (`lrlab.stacked`), for each K in `sizes`, against the
    same run trained alone (`single`, a bench_one row, or measured here): aggregate examples/s, share
    of the device's peak, and `stacked_over_sequential`, the speed-up over the K runs one after
    another. Members differ in seed and LR, as a grid's runs do. Stops at the first K that does not
    fit the device's memory (that row says so), or, with `stop_at` (a time.time() value), before a K
    that the last one's time says would end past it; on CUDA each row gives the peak memory.
    With `fused_update`, the stacks' optimizer update is compiled (`lrlab.stacked_optim.FusedUpdate`):
    each row says `fused_update` and `update_compile_s`, its compilation's seconds, from an empty
    on-disk cache (`cold_cache`) or from torch's own, which then holds it for the runs after it."""
    from lrlab.stack_step import graphs_wanted
    from lrlab.stacked import train_stacked
    sizes = [check_positive("stack size", k) for k in sizes]
    check_choice("precision", precision, ("fp32", "bf16"))
    config = bench_config(spec, batch_size, steps, precision)
    data = synthetic_data(config)
    device = torch.device(device)
    if single is None:
        single = _rate_row(spec, config, precision, train(config, device=device, data=data, progress=False), steps)
    mode = f"{precision}, CUDA graphs" if graphs_wanted(device, config.model) else precision
    mode += ", fused update" if fused_update else ""
    rows, last_s, last_k = [], 0.0, 1
    for k in sizes:
        if stop_at is not None and time.time() + last_s * k / last_k > stop_at:
            break
        started = time.time()
        members = [config.replace(seed=i, lr=config.lr * (1 + i / k)) for i in range(k)]
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        try:
            with (_empty_compile_cache() if cold_cache else _no_compiled_code()) if fused_update else \
                    contextlib.nullcontext():
                records = train_stacked(members, device=device, data=data, progress=False, fused_update=fused_update)
        except torch.OutOfMemoryError:
            rows.append(dict(model=spec, batch_size=batch_size, mode=f"stack of {k} ({mode})", members=k,
                             error="out of memory"))
            torch.cuda.empty_cache()
            break
        # whether the steps were replayed from CUDA graphs (lrlab.stack_step), as the record says: a
        # capture that failed ran as written; a stack of one can pay only when replayed
        env = records[0]["env"]
        graphed, fused = env.get("cuda_graph", False), env.get("fused_update", False)
        row = _rate_row(spec, config, f"stack of {k} ({precision}{', CUDA graphs' if graphed is True else ''}"
                                      f"{', fused update' if fused is True else ''})", records[0], steps, members=k)
        row.update(members=k, stacked_over_sequential=row["per_s"] / single["per_s"], cuda_graph=graphed,
                   peak_memory_mb=torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None)
        if fused_update:   # "failed: ..." where the update did not compile and ran as written
            row.update(fused_update=fused, update_compile_s=env.get("update_compile_s"))
        rows.append(row)
        last_s, last_k = time.time() - started, k
    return rows


def _peak_fraction(flops_per_s, device_name, precision):
    peak = next((p[precision] for key, p in PEAK_FLOPS if key in device_name), None)
    return flops_per_s / peak if peak else None


def bench(specs, batch_size=128, device="cpu", steps=20, modes=("fp32",), classic=False, out=None,
          log=print, stack=None, label=None, fused_update=False):
    """Measure every (model, mode); with `classic`, the classic recipe beside each model; with
    `stack` (stack sizes K), each model's runs stacked K at a time, in its first mode's precision, and
    with `fused_update` again with the stacks' optimizer update compiled.
    With `out`, the rows become the record <device>[-<label>].json there."""
    stack = [check_positive("stack", k) for k in stack] if stack is not None else None
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
        if stack:
            precision = MODES[modes[0]][0]
            single = next(r for r in rows if r["model"] == spec and r["mode"] == modes[0])
            stacked = bench_stacked(spec, stack, batch_size, device, steps, precision, single)
            if fused_update:
                stacked += bench_stacked(spec, stack, batch_size, device, steps, precision, single, fused_update=True)
            for row in stacked:
                rows.append(row)
                log(format_row(row) if "error" not in row else f"{spec:>12} {row['mode']}: {row['error']}")
                if "error" not in row:
                    log(f"{'':>12} over {row['members']} runs one after another: {row['stacked_over_sequential']:.2f}x"
                        + (f", peak memory {row['peak_memory_mb']:.0f} MiB" if row["peak_memory_mb"] else "")
                        + _fused_words(row.get("fused_update"), row.get("update_compile_s")))
    if out:
        log(f"wrote {_write_record(out, label or '', dict(kind='bench', env=run_env(device), rows=rows))}")
    return rows


def _fused_words(fused, compile_s):
    """What a stack row's log line adds about its compiled update (None: not asked for)."""
    if fused is True:
        return f", the update compiled in {compile_s:.1f} s"
    return f", the update did not compile and ran as written ({fused})" if fused else ""


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
    from lrlab.runner import run_threads
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
        rows.append(dict(experiment=experiment, profile=profile, jobs=n, threads_per_run=run_threads(),
                         compile=compile, runs=runs, elapsed_s=elapsed, runs_wall_s=runs_wall_s,
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
