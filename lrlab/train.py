"""The one training loop. Every run in the book goes through `train`.

Per step: the schedule (and its momentum cycle), bf16 autocast and channels_last on CUDA,
gradient accumulation and clipping. Per epoch: train and test loss/accuracy, LR, seconds. With
torch.compile, the first step's extra time is the run's `compile_s`, kept out of the epoch's seconds.
The loop never syncs with the device inside an epoch except every `CHECK_EVERY` steps to see
whether the run diverged; losses and accuracies accumulate on the device.
"""
import math
import pathlib
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from lrlab import pretrained
from lrlab.config import RunConfig
from lrlab.divergence import RULES, DivergenceWatch
from lrlab.env import run_env
from lrlab.errors import LrlabError
from lrlab.files import write_atomically
from lrlab.models import model_for
from lrlab.noise_scale import gradient_noise_scale
from lrlab.optim import optimizer_for
from lrlab.schedules import build_schedule
from lrlab.tasks import build_task, load_task_data

CHECK_EVERY = 16        # steps between divergence checks (the only host syncs in an epoch)
DIVERGENCE_KEYS = ("first_loss", "ema", "peak", "peak_step")   # the rule's state in a checkpoint
NOISE_SMALL_PER_BIG = 8         # noise scale: a big batch is 8 independent small ones
DEADLINE_MARGIN = 1.25          # an epoch may take this much longer than the last before the deadline


class DeadlineReached(Exception):
    """`train` stopped for a GPU job's deadline; the run resumes from `epoch` (its checkpoint) next time."""

    def __init__(self, run_id, epoch, epochs, checkpointed):
        self.run_id, self.epoch, self.epochs, self.checkpointed = run_id, epoch, epochs, checkpointed
        where = (f"checkpointed after epoch {epoch} of {epochs}" if checkpointed else
                 f"in epoch {epoch + 1} of {epochs}; it resumes from its last checkpoint, if any")
        super().__init__(f"run {run_id} stopped for the deadline, {where}")

    def __reduce__(self):   # it crosses from a worker process to the parent
        return DeadlineReached, (self.run_id, self.epoch, self.epochs, self.checkpointed)


def _finite_or_none(x):
    return x if x is not None and math.isfinite(x) else None


def upcast(logits):
    """bf16 logits to float32 for the loss; float32 and float64 stay as they are."""
    return logits if logits.dtype in (torch.float32, torch.float64) else logits.float()


def _loss_and_correct(logits, y):
    logits, y = logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
    loss = F.cross_entropy(upcast(logits), y)
    return loss, (logits.argmax(-1) == y).sum(), y.numel()


@torch.no_grad()
def evaluate(model, task, autocast):
    model.eval()
    loss_sum = correct = count = 0
    for x, y in task.test_batches():
        with autocast():
            loss, c, n = _loss_and_correct(model(x), y)
        loss_sum, correct, count = loss_sum + loss * n, correct + c, count + n
    model.train()
    return (loss_sum / count).item(), (correct / count).item()


def _autocast_for(config, device, cache=True):
    bf16 = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    if bf16:
        return (lambda: torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)), "bf16"
    return (lambda: torch.autocast(device.type, enabled=False)), "fp32"


def model_and_optimizer(config, num_classes, device, channels_last=False, lr=None):
    """The run's model, initialised from `config.seed`, and its optimizer (at `lr`, default the
    config's): built the same way whichever runner trains it."""
    torch.manual_seed(config.seed)
    model = model_for(config, num_classes).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = optimizer_for(model, config, lr)
    return model, optimizer


def train(config: RunConfig, device="cpu", data=None, data_root=None, checkpoint_path=None,
          checkpoint_every_s=60.0, compile=False, progress=True, channels_last=None, task=None, stop_at=None,
          keep_weights=False, starts_dir=None):
    """Train one run; return its record body (everything but experiment/profile).

    A non-finite loss, or a smoothed loss above `divergence_factor` x the first, ends the run as
    `diverged` at that step: a result, not an exception. With `checkpoint_path`, the run saves its
    state every `checkpoint_every_s` seconds (at epoch ends) and resumes from it after a kill; the
    checkpoint outlives the run until its record is saved (a kill in between costs no more than the
    epochs since it), so the caller deletes it: `lrlab.runner` does, right after saving the record.
    `channels_last` (None: on CUDA for ResNets) and `task` (a batch source; `lrlab bench` passes
    the classic DataLoader recipe) change speed only, never the config.

    `stop_at` (a time.time() value) is a GPU job's deadline: at an epoch's end, when the next epoch
    would not finish by then, the run checkpoints and raises DeadlineReached; past it in the middle
    of an epoch, it raises without a new checkpoint (the epoch is redone on resume).

    A config with `init_from` starts from that run's final weights, all but the head (`lrlab.pretrained`:
    kept in `starts_dir`, default the cache); `keep_weights` returns the final weights too, on the CPU, under
    "weights" (for such a start).
    """
    data = data if data is not None else load_task_data(config, data_root)
    if config.runner != "lrlab":   # the sweep picks the runner (lrlab.runner.run_one); this is lrlab's own loop
        raise LrlabError(f"run {config.id} is declared for the {config.runner} runner; train it with "
                         "lrlab.runner.run_one (as `lrlab sweep` does), not lrlab's own loop")
    device = torch.device(device)
    if task is None:
        task = build_task(config, data, device, channels_last)
    # the start first: training it must not move this run's RNG, which model_and_optimizer seeds
    start, started_from = (pretrained.start_weights(config, device, data, data_root, stop_at, starts_dir)
                           if config.init_from else (None, None))
    model, optimizer = model_and_optimizer(config, task.num_classes, device, getattr(task, "channels_last", False))
    if start is not None:
        pretrained.load_body(model, start, config.model)
    total_steps = steps_before(task, config.epochs)
    schedule = build_schedule(optimizer, config.schedule, total_steps, task.steps_per_epoch,
                              **config.schedule_args)
    forward = torch.compile(model) if compile else model
    autocast, precision = _autocast_for(config, device)
    # the forward's batch: micro_batch, else batch_size (a grown batch is several of them, BN's ghost batches)
    chunk = config.micro_batch or config.batch_size

    ckpt = pathlib.Path(checkpoint_path) if checkpoint_path else None
    run = RunState.resume(ckpt, config, model, optimizer, schedule)
    history, trace, noise, start_epoch = run.history, run.trace, run.noise_scale, run.epoch
    # with `compile`: what the first step cost beyond a typical one, kept out of epoch times
    compile_s, wall_before = run.compile_s, run.wall_s

    t_start, last_save = time.perf_counter(), time.perf_counter()
    status, diverged_at = "completed", None
    # the divergence rule (lrlab.divergence) resumes with the reference it started with
    watch = DivergenceWatch(config.divergence_factor, task.num_classes, device, [run.divergence])
    step = steps_before(task, start_epoch)
    bar = _progress(total_steps, step, config, progress)
    if config.noise_scale_every and start_epoch == 0:
        noise.append(_noise_point(0, 0, model, task, autocast, config.noise_scale_batches))
    for epoch in range(start_epoch, config.epochs):
        t_epoch = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        seen = 0
        trace_sum, trace_n = torch.zeros((), device=device), 0
        first_step_s, steps_this_epoch = None, 0
        for x, y in task.train_batches(epoch):
            step_loss = torch.zeros((), device=device)
            chunks = len(x) // chunk
            for xc, yc in zip(x.split(chunk), y.split(chunk)):
                with autocast():
                    loss, c, n = _loss_and_correct(forward(xc), yc)
                (loss / chunks).backward()
                step_loss += loss.detach() / chunks
                correct += c
                seen += n
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            lr_used = schedule.lrs()[0] if config.trace_every else None
            schedule.step()
            loss_sum += step_loss
            watch.update(step_loss, step)   # on the device: no sync per step
            step += 1
            steps_this_epoch += 1
            if compile and epoch == start_epoch and steps_this_epoch == 1:
                sync_device(device)
                first_step_s = time.perf_counter() - t_epoch
            bar.update(1)
            if config.trace_every:   # a host sync every trace_every steps, only when asked for
                trace_sum, trace_n = trace_sum + step_loss, trace_n + 1
                if step % config.trace_every == 0:
                    trace.append(_trace_point(step, lr_used, trace_sum / trace_n, model, task, autocast,
                                              config.trace_test))
                    trace_sum, trace_n = torch.zeros((), device=device), 0
            if step % CHECK_EVERY == 0:
                if watch.first_bad.item() >= 0:
                    break
                if stop_at is not None and time.time() > stop_at:
                    bar.close()
                    raise DeadlineReached(config.id, epoch, config.epochs, checkpointed=False)
        watch.end_epoch()
        if watch.first_bad.item() >= 0:
            status, diverged_at = "diverged", int(watch.first_bad.item())
        train_s = time.perf_counter() - t_epoch   # first_bad.item() above waited for the device
        test_loss, test_acc = evaluate(model, task, autocast)
        epoch_s = time.perf_counter() - t_epoch
        if first_step_s is not None and steps_this_epoch > 1:
            typical_step_s = (train_s - first_step_s) / (steps_this_epoch - 1)
            this_compile_s = max(0.0, first_step_s - typical_step_s)
            compile_s, epoch_s = compile_s + this_compile_s, epoch_s - this_compile_s
        train_acc = correct.item() / max(1, seen)
        history.append(history_row(epoch, schedule.epoch_end_lr(epoch + 1 == config.epochs),
                                   loss_sum / max(1, steps_this_epoch), train_acc,
                                   test_loss, test_acc, epoch_s))
        bar.set_postfix(loss=history[-1]["train_loss"], test_acc=f"{test_acc:.3f}")
        if status == "diverged":
            break
        schedule.step_epoch(test_loss)
        if config.noise_scale_every and (epoch + 1) % config.noise_scale_every == 0:
            noise.append(_noise_point(epoch + 1, step, model, task, autocast, config.noise_scale_batches))
        more = epoch + 1 < config.epochs
        out_of_time = no_time_for_another(epoch_s, stop_at)
        if ckpt and more and (out_of_time or time.perf_counter() - last_save >= checkpoint_every_s):
            RunState(epoch + 1, history, trace, noise, wall_before + time.perf_counter() - t_start, compile_s,
                     watch.state()).save(ckpt, config, model.state_dict(), optimizer.state_dict(),
                                         schedule.state_dict())
            last_save = time.perf_counter()
        if more and out_of_time:
            bar.close()
            raise DeadlineReached(config.id, epoch + 1, config.epochs, checkpointed=ckpt is not None)
    bar.close()   # the checkpoint stays until the caller has saved the record (lrlab.runner deletes it then)
    extra = {"trace": trace} if config.trace_every else {}
    if config.noise_scale_every:
        extra["noise_scale"] = noise
    if compile:
        extra["compile_s"] = compile_s
    if started_from:
        extra["started_from"] = started_from
    if keep_weights:
        extra["weights"] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return record_body(config, status, diverged_at, history, step,
                       run_env(device, data, precision=precision, compile=compile, divergence_rules=RULES),
                       wall_before + time.perf_counter() - t_start, **extra)


def steps_before(task, epoch):
    """Optimizer steps in the epochs before `epoch` (a grown batch makes later epochs shorter)."""
    return sum(task.steps_in(e) for e in range(epoch))


def record_body(config, status, diverged_at, history, steps, env, wall_s, **extra):
    """A run's record, all but experiment and profile (the store adds those); `final` is the last epoch's."""
    last = history[-1]
    return dict(id=config.id, config=config.to_dict(), status=status, diverged_at_step=diverged_at,
                history=history, **extra,
                final=dict(test_acc=last["test_acc"], test_loss=last["test_loss"],
                           train_loss=last["train_loss"], steps=steps),
                env=env, wall_s=wall_s)


def history_row(epoch, lr, train_loss, train_acc, test_loss, test_acc, seconds):
    """One epoch of a record's history (losses may be tensors; a non-finite loss is stored as None)."""
    item = (lambda v: v.item() if isinstance(v, torch.Tensor) else v)
    return dict(epoch=epoch + 1, lr=lr, train_loss=_finite_or_none(item(train_loss)), train_acc=item(train_acc),
                test_loss=_finite_or_none(item(test_loss)), test_acc=item(test_acc), seconds=seconds)


def no_time_for_another(epoch_s, stop_at):
    """Whether another epoch like the last would end past the deadline."""
    return stop_at is not None and time.time() + DEADLINE_MARGIN * epoch_s > stop_at


def _trace_point(step, lr, mean_loss, model, task, autocast, with_test):
    point = dict(step=step, lr=lr, train_loss=_finite_or_none(mean_loss.item()))
    if with_test:
        test_loss, test_acc = evaluate(model, task, autocast)
        point.update(test_loss=_finite_or_none(test_loss), test_acc=test_acc)
    return point


def _noise_point(epoch, step, model, task, autocast, big_batches):
    def loss_of(x, y):
        with autocast():
            return _loss_and_correct(model(x), y)[0]
    batches = task.noise_batches(NOISE_SMALL_PER_BIG * big_batches, first=epoch * 1000)
    return dict(epoch=epoch, step=step, **gradient_noise_scale(model, loss_of, batches, NOISE_SMALL_PER_BIG))


def sync_device(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class RunState:
    """What a run carries from epoch to epoch and across a kill: its history (and trace and noise-scale
    points), the epochs done, its wall and compile time so far, and the divergence rule's state
    (DivergenceWatch.state: the first loss, its running average, the peak). Saved with the model,
    optimizer and schedule as the run's checkpoint; a stacked member's checkpoint is the same, so it
    resumes alone or stacked."""
    epoch: int = 0
    history: list = field(default_factory=list)
    trace: list = field(default_factory=list)
    noise_scale: list = field(default_factory=list)
    wall_s: float = 0.0
    compile_s: float = 0.0
    divergence: dict = field(default_factory=lambda: dict(first_loss=None))

    @classmethod
    def resume(cls, path, config, model, optimizer, schedule):
        """The state in the checkpoint at `path`, loaded into model, optimizer and schedule; a fresh state
        when there is none (or it is another config's)."""
        if not path or not pathlib.Path(path).exists():
            return cls()
        # Read onto the CPU whatever device wrote it: torch.set_rng_state takes only a CPU tensor (mapped
        # to CUDA, every resume on the H200 failed), and load_state_dict moves the rest to the run's device.
        saved = torch.load(path, map_location="cpu", weights_only=False)
        if saved["config_id"] != config.id:
            return cls()
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        schedule.load_state_dict(saved["schedule"])
        torch.set_rng_state(saved["rng"])
        return cls(epoch=saved["epoch"], history=saved["history"], trace=saved.get("trace", []),
                   noise_scale=saved.get("noise_scale", []), wall_s=saved["wall_s"],
                   compile_s=saved.get("compile_s", 0.0),
                   divergence={key: saved.get(key) for key in DIVERGENCE_KEYS})

    def save(self, path, config, model_state, optimizer_state, schedule_state):
        """The checkpoint `resume` reads (written atomically: a kill mid-save leaves the last one)."""
        saved = dict(config_id=config.id, model=model_state, optimizer=optimizer_state, schedule=schedule_state,
                     history=self.history, trace=list(self.trace), noise_scale=list(self.noise_scale),
                     epoch=self.epoch, wall_s=self.wall_s, compile_s=self.compile_s, rng=torch.get_rng_state(),
                     **{key: self.divergence.get(key) for key in DIVERGENCE_KEYS})
        write_atomically(path, lambda f: torch.save(saved, f))


def _progress(total, initial, config, enabled):
    if enabled:
        from tqdm.auto import tqdm
    else:   # tqdm.auto warns on import in a Jupyter kernel without ipywidgets, even for a bar never shown
        from tqdm import tqdm
    return tqdm(total=total, initial=initial, disable=not enabled, leave=False, unit="step",
                desc=f"{config.model} lr={config.lr:g} {config.optimizer}")
