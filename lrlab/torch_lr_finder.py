"""The torch-lr-finder runner: the range test a config declares, run by the outside tool the book
compares lrlab's own range test with. The sweep picks it for configs with runner "torch-lr-finder"
(`lrlab.runner.run_one`); lrlab's loop never calls it.
"""
import contextlib
import importlib.metadata
import math
import time

from lrlab.env import run_env
from lrlab.errors import LrlabError
from lrlab.tasks import CifarTask, load_task_data
from lrlab.train import evaluate, model_and_optimizer, record_body


def run(config, device="cpu", data=None, data_root=None, progress=True, **_loop_only):
    """The range test `config` declares, run by torch-lr-finder (the outside tool the book compares
    with) on the same model, optimizer, seed and batches, with the tool's defaults (its 0.05 loss
    smoothing, its stop at 5x the best loss). Returns a record body like `lrlab.train.train`'s,
    its trace holding the tool's own (smoothed) loss curve. `_loop_only`: what only lrlab's own loop
    takes (checkpoints, a deadline, compile): a range test of a few hundred steps needs none."""
    import warnings

    import torch
    try:
        with warnings.catch_warnings():   # its tqdm.autonotebook warns in a Jupyter kernel without ipywidgets
            warnings.filterwarnings("ignore", message="IProgress not found")
            from torch_lr_finder import LRFinder, TrainDataLoaderIter
    except ImportError as err:   # it also needs matplotlib, which a bare GPU box lacks
        raise LrlabError(f"run {config.id} compares with torch-lr-finder, which cannot be imported here "
                         f"({err}); pip install torch-lr-finder (it brings matplotlib)") from None

    if config.task != "cifar10" or config.schedule not in ("exponential", "linear"):
        raise LrlabError(f"torch-lr-finder runs CIFAR-10 range tests (schedule exponential or linear), "
                         f"got task {config.task!r}, schedule {config.schedule!r}")
    data = data if data is not None else load_task_data(config, data_root)
    device = torch.device(device)
    task = CifarTask(config, data, device, channels_last=False)
    steps = config.epochs * task.steps_per_epoch
    if config.schedule == "exponential":
        # the tool's last step uses end_lr; so does lrlab's (lr_finder.range_test_config)
        start, end, mode = config.lr, config.lr * config.schedule_args["gamma"] ** (steps - 1), "exp"
    else:
        args = config.schedule_args
        start = config.lr * args.get("start_ratio", 1.0)
        end = start + (config.lr * args.get("end_ratio", 1.0) - start) * (steps - 1) / steps
        mode = "linear"
    # the tool sets the LR itself; the optimizer only needs a positive one to be built
    model, optimizer = model_and_optimizer(config, task.num_classes, device, lr=max(start, 1e-12))
    t0 = time.perf_counter()
    finder = LRFinder(model, optimizer, torch.nn.CrossEntropyLoss(), device=device)
    class SameBatches:   # the batches lrlab.train would draw for this run, in the same order
        def __iter__(self):
            return task.train_batches(0)

    with _tool_quiet(not progress):   # the tool draws its own bar and prints; honour --no-progress
        finder.range_test(TrainDataLoaderIter(SameBatches()), start_lr=start or None, end_lr=end,
                          num_iter=steps, step_mode=mode)
    lrs, losses = finder.history["lr"], finder.history["loss"]
    trace = [dict(step=i + 1, lr=float(lr), train_loss=float(loss) if math.isfinite(loss) else None)
             for i, (lr, loss) in enumerate(zip(lrs, losses))]
    test_loss, test_acc = evaluate(model, task, lambda: torch.autocast(device.type, enabled=False))
    stopped = len(trace) < steps
    seconds = time.perf_counter() - t0
    last = dict(epoch=1, lr=trace[-1]["lr"], train_loss=trace[-1]["train_loss"], train_acc=None,
                test_loss=test_loss if math.isfinite(test_loss) else None, test_acc=test_acc, seconds=seconds)
    env = run_env(device, data, precision="fp32", compile=False,
                  runner=f"torch-lr-finder {importlib.metadata.version('torch-lr-finder')}")
    return record_body(config, "diverged" if stopped else "completed", len(trace) if stopped else None, [last],
                       len(trace), env, seconds, trace=trace)


@contextlib.contextmanager
def _tool_quiet(quiet):
    """Silence the tool's progress bar and its closing print. tqdm reads TQDM_DISABLE only when it
    is imported, so the module's own `tqdm` name is swapped for the duration instead."""
    import functools
    import io
    import torch_lr_finder.lr_finder as tool
    before = tool.tqdm
    if not quiet:
        yield
        return
    tool.tqdm = functools.partial(before, disable=True)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        tool.tqdm = before
