"""Stacked training: K runs that differ only in hyperparameters and seed, trained as one computation.

One small run (ResNet-20 at batch 128, an MLP at batch 64) leaves a GPU mostly idle between kernel
launches. K of them whose models have one shape train here as one: their parameters are stacked
along a new first dimension and `torch.func.vmap` runs the K forwards and backwards as one (a
batched matmul for the MLP and the GPT, a grouped convolution for the ResNets; BatchNorm's running
statistics are stacked too, so each member normalises with its own). Each member keeps what makes
it its own run: its initialisation (built by `model_and_optimizer`, as alone), its data order and
augmentation (its seed), its schedule and its optimizer's hyperparameters (read every step by
`StackedOptimizer`), its evaluation, and its divergence: a member that diverges leaves the stack at
the check where a single run would stop, with the same record, and the others go on.

The result is one ordinary record per member, the same id and schema as if trained alone, plus
`packed_with`: how many runs trained together. In float64 a member's history equals its single
run's to rounding (tests/test_stacked.py); epoch seconds and wall_s are the stack's.

Not stacked (they train alone): range tests (trace_every), noise-scale runs, the torch-lr-finder runner.
"""
import contextlib
import copy
import time
import warnings

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from lrlab.config import RunConfig
from lrlab.env import run_env
from lrlab.errors import LrlabError
from lrlab.models import CausalSelfAttention
from lrlab.schedules import build_schedule
from lrlab.stacked_optim import FAMILIES, StackedOptimizer
from lrlab.train import (CHECK_EVERY, LOSS_EMA, CharTask, CifarTask, _autocast_for, _finite_or_none,
                         _progress, load_task_data, model_and_optimizer, upcast)

# What members of one stack may differ in; every other field must agree (the optimizer up to its
# family: sgd with sgdw, adam with adamw).
MEMBER_FIELDS = ("optimizer", "lr", "momentum", "weight_decay", "decay_norm_and_bias", "schedule", "schedule_args",
                 "seed", "init", "zero_init_residual", "divergence_factor")


def stack_key(config):
    """What a run must share with the others of its stack, or None if it always trains alone."""
    if config.runner != "lrlab" or config.trace_every or config.noise_scale_every:
        return None
    shared = {k: v for k, v in config.to_dict().items() if k not in MEMBER_FIELDS}
    shared["optimizer_family"] = FAMILIES[config.optimizer]
    return tuple(sorted((k, repr(v)) for k, v in shared.items()))


def stack_groups(configs, max_members):
    """`configs` cut into stacks of at most `max_members` that share a stack_key, in first-seen order;
    runs that always train alone come back as stacks of one."""
    groups, order = {}, []
    for config in configs:
        key = stack_key(config)
        key = key if key is not None else ("alone", config.id)
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(config)
    return [members[i:i + max_members] for key in order for members in [groups[key]]
            for i in range(0, len(members), max_members)]


class Stack:
    """K models of one shape as stacked tensors; `forward` runs all K at once with vmap."""

    def __init__(self, models):
        real = models[0]
        self.template = copy.deepcopy(real).to("meta")   # the structure only; tensors come from the stack
        cpu = next(real.parameters()).device.type == "cpu"
        for module in self.template.modules():
            if isinstance(module, CausalSelfAttention):
                module.math_attention = cpu
        for mine, theirs in zip(self.template.modules(), real.modules()):
            if type(theirs).__name__ == "MuReadout":   # its 1/width multiplier reads an attribute vmap drops
                mine.width_mult = (lambda value=theirs.width_mult(): value)
        own = [dict(m.named_parameters()) for m in models]
        # A Linear weight (out, in) is stored as its transpose, (K, in, out): its gradient then comes out
        # of the batched matmul in the stored layout, where the plain layout costs a transposing copy
        # of every weight gradient (measured: 28 vs 17 ms a step for 8 MLPs of width 256 on 2 CPU threads).
        self.transposed = {f"{name}.weight" for name, module in real.named_modules()
                           if isinstance(module, torch.nn.Linear)}
        self.params = {name: torch.stack([self._stored(name, o[name].detach()) for o in own]).requires_grad_()
                       for name in own[0]}
        self.buffers = {name: torch.stack([dict(m.named_buffers())[name] for m in models])
                        for name, _ in real.named_buffers()}

    def _stored(self, name, tensor):
        return tensor.t().contiguous() if name in self.transposed else tensor

    def member_view(self, params):
        """The tensors the model's modules expect (a transposed view of each stored Linear weight)."""
        return {n: p.transpose(-1, -2) if n in self.transposed else p for n, p in params.items()}

    def __len__(self):
        return len(next(iter(self.params.values())))

    def forward(self, x, shared_input=False, index=None):
        """Logits (K, ...) of every member (or of the members at `index`) for x (K, ...), or for one
        x (...) that all of them see (`shared_input`, the test set)."""
        params, buffers = self.member_view(self.params), self.buffers
        if index is not None:
            params = {n: p[index] for n, p in params.items()}
            buffers = {n: b[index] for n, b in buffers.items()}

        def one(p, b, x):
            return functional_call(self.template, (p, b), (x,))
        return vmap(one, in_dims=(0, 0, None if shared_input else 0))(params, buffers, x)

    def keep(self, index):
        """Only the members at `index` go on (new leaf tensors)."""
        picked = torch.as_tensor(index, dtype=torch.long, device=next(iter(self.params.values())).device)
        self.params = {n: p.detach().index_select(0, picked).requires_grad_() for n, p in self.params.items()}
        self.buffers = {n: b.index_select(0, picked) for n, b in self.buffers.items()}

    def train(self, mode=True):
        self.template.train(mode)


def member_loss_and_correct(logits, y):
    """Per-member mean cross-entropy (K,), correct predictions (K,) and targets per member."""
    k, classes = logits.shape[0], logits.shape[-1]
    shared = y.shape != logits.shape[:-1]   # the test set: one y for every member
    logits = upcast(logits).reshape(k, -1, classes)
    y = y.reshape(1, -1).expand(k, -1) if shared else y.reshape(k, -1)
    loss = vmap(F.cross_entropy)(logits, y)
    return loss, (logits.argmax(-1) == y).sum(1), y.shape[1]


@torch.no_grad()
def evaluate_members(stack, task, autocast, index=None):
    """Test loss and accuracy of each member (or of those at `index`), as `train.evaluate` computes them."""
    stack.train(False)
    loss_sum = correct = count = 0
    for x, y in task.test_batches():
        with autocast():
            logits = stack.forward(x, shared_input=True, index=index)
        loss, c, n = member_loss_and_correct(logits, y)
        loss_sum, correct, count = loss_sum + loss * n, correct + c, count + n
    stack.train(True)
    return (loss_sum / count).tolist(), (correct / count).tolist()


def _check_stackable(configs):
    if not configs:
        raise LrlabError("train_stacked needs at least one run")
    keys = {stack_key(c) for c in configs}
    if None in keys:
        alone = next(c for c in configs if stack_key(c) is None)
        raise LrlabError(f"run {alone.id} cannot be stacked (a range test, a noise-scale run or the "
                         f"torch-lr-finder runner); train it alone")
    if len(keys) > 1:
        raise LrlabError("runs of one stack must differ only in " + ", ".join(MEMBER_FIELDS))
    if len({c.id for c in configs}) < len(configs):
        raise LrlabError("the same run appears twice in one stack")


def _member_tasks(configs, data, device):
    if configs[0].task == "cifar10":
        first = CifarTask(configs[0], data, device, channels_last=False)
        return [first] + [first.for_seed(c.seed) for c in configs[1:]]
    return [CharTask(c, data, device) for c in configs]


def train_stacked(configs: list[RunConfig], device="cpu", data=None, data_root=None, progress=True):
    """Train `configs` as one stack; return their record bodies, in order (see the module docstring)."""
    configs = list(configs)
    _check_stackable(configs)
    device = torch.device(device)
    data = data if data is not None else load_task_data(configs[0], data_root)
    tasks = _member_tasks(configs, data, device)
    built = [model_and_optimizer(c, tasks[0].num_classes, device) for c in configs]
    steps_per_epoch = tasks[0].steps_per_epoch
    total_steps = configs[0].epochs * steps_per_epoch
    with warnings.catch_warnings():   # the members' own optimizers never step: the stack steps for them
        warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*optimizer.step")
        schedules = [build_schedule(opt, c.schedule, total_steps, steps_per_epoch, **c.schedule_args)
                     for (_, opt), c in zip(built, configs)]
    stack = Stack([model for model, _ in built])
    optimizer = StackedOptimizer(stack.params, [opt for _, opt in built],
                                 [dict(model.named_parameters()) for model, _ in built],
                                 FAMILIES[configs[0].optimizer])
    for model, _ in built:   # the stack holds the weights now; the members' copies would only take memory
        for p in model.parameters():
            p.data = p.data.new_empty(0)
    autocast, precision = _autocast_for(configs[0], device)
    first = configs[0]
    chunks = first.batch_size // first.micro_batch if first.micro_batch else 1
    tokens_per_batch = first.batch_size * (first.block_size if first.task == "shakespeare" else 1)
    factor = torch.tensor([c.divergence_factor for c in configs], device=device)

    alive = list(range(len(configs)))   # original member numbers, in stack order
    histories, records = [[] for _ in configs], [None] * len(configs)
    first_loss = ema = None
    first_bad = torch.full((len(configs),), -1, device=device)
    step, t_start = 0, time.perf_counter()
    bar = _progress(total_steps, 0, first, progress)
    bar.set_description(f"stack of {len(configs)} {first.model}")

    def end_epoch_rows(positions, statuses, epoch, t_epoch, loss_sum, correct, seen):
        """The epoch's row for the members at `positions` (in the stack), evaluated now; a member
        whose status is not None ends with its record. Returns their test losses."""
        test_loss, test_acc = evaluate_members(stack, tasks[alive[positions[0]]], autocast, index=positions)
        seconds = time.perf_counter() - t_epoch
        n_batches = max(1, seen // tokens_per_batch)
        for i, (pos, status) in enumerate(zip(positions, statuses)):
            k = alive[pos]
            histories[k].append(dict(epoch=epoch + 1, lr=schedules[k].lrs()[0],
                                     train_loss=_finite_or_none((loss_sum[pos] / n_batches).item()),
                                     train_acc=correct[pos].item() / max(1, seen),
                                     test_loss=_finite_or_none(test_loss[i]), test_acc=test_acc[i],
                                     seconds=seconds))
            if status is not None:
                diverged_at = int(first_bad[pos].item()) if status == "diverged" else None
                records[k] = _record(configs[k], status, diverged_at, histories[k], step, device, data,
                                     precision, time.perf_counter() - t_start, len(configs))
        return test_loss

    def leave(positions):
        """The members at `positions` are done; the stack goes on without them. Returns the kept positions."""
        nonlocal alive, first_loss, ema, first_bad, factor
        keep = [pos for pos in range(len(alive)) if pos not in positions]
        alive = [alive[pos] for pos in keep]
        if alive and positions:
            index = torch.as_tensor(keep, device=device)
            stack.keep(keep)
            optimizer.keep(keep, stack.params)
            first_loss, ema, first_bad, factor = (t.index_select(0, index) for t in (first_loss, ema, first_bad, factor))
        return keep

    for epoch in range(first.epochs):
        t_epoch = time.perf_counter()
        loss_sum = torch.zeros(len(alive), device=device)
        correct = torch.zeros(len(alive), device=device, dtype=torch.long)
        seen = 0
        streams = {k: tasks[k].train_batches(epoch) for k in alive}
        for _ in range(steps_per_epoch):
            batches = [next(streams[k]) for k in alive]
            x = torch.stack([b[0] for b in batches])
            y = torch.stack([b[1] for b in batches])
            step_loss = torch.zeros(len(alive), device=device)
            for xc, yc in zip(x.chunk(chunks, dim=1), y.chunk(chunks, dim=1)):
                with autocast():
                    loss, c, n = member_loss_and_correct(stack.forward(xc), yc)
                (loss.sum() / chunks).backward()   # members are independent: each gets its own gradient
                step_loss += loss.detach() / chunks
                correct += c
                seen += n
            if first.grad_clip:
                _clip_member_grads(stack.params, first.grad_clip)
            optimizer.step()
            optimizer.zero_grad()
            with warnings.catch_warnings() if step == 0 else contextlib.nullcontext():
                warnings.simplefilter("ignore", UserWarning)   # that the members' optimizers never stepped
                for k in alive:
                    schedules[k].step()
            loss_sum += step_loss
            # the divergence rule of `train`, per member, on the device
            if first_loss is None:
                first_loss, ema = step_loss.clone(), step_loss.clone()
            ema = LOSS_EMA * ema + (1 - LOSS_EMA) * step_loss
            bad = ~torch.isfinite(step_loss) | (ema > factor * first_loss)
            first_bad = torch.where((first_bad < 0) & bad, torch.full_like(first_bad, step), first_bad)
            step += 1
            bar.update(1)
            if step % CHECK_EVERY == 0:
                diverged = (first_bad >= 0).nonzero().flatten().tolist()
                if diverged:   # they stop here, where a single run would; the others go on
                    end_epoch_rows(diverged, ["diverged"] * len(diverged), epoch, t_epoch, loss_sum, correct, seen)
                    keep = leave(diverged)
                    if not alive:
                        break
                    loss_sum, correct = loss_sum[keep], correct[keep]
        if not alive:
            break
        last = epoch + 1 == first.epochs
        diverged = set((first_bad >= 0).nonzero().flatten().tolist())
        positions = list(range(len(alive)))
        statuses = ["diverged" if pos in diverged else "completed" if last else None for pos in positions]
        test_loss = end_epoch_rows(positions, statuses, epoch, t_epoch, loss_sum, correct, seen)
        bar.set_postfix(alive=len(alive) - len(diverged))
        if last:
            break
        for pos in positions:
            if pos not in diverged:
                schedules[alive[pos]].step_epoch(test_loss[pos])
        leave(diverged)
    bar.close()
    return records


def _clip_member_grads(params, max_norm):
    """torch.nn.utils.clip_grad_norm_ for each member: its own norm over all its gradients."""
    grads = [p.grad for p in params.values() if p.grad is not None]
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), 2, dim=1) for g in grads])   # (P, K)
    total = torch.linalg.vector_norm(norms, 2, dim=0)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.view((-1,) + (1,) * (g.ndim - 1)))


def _record(config, status, diverged_at, history, steps, device, data, precision, wall_s, packed_with):
    last = history[-1]
    return dict(id=config.id, config=config.to_dict(), status=status, diverged_at_step=diverged_at,
                history=history,
                final=dict(test_acc=last["test_acc"], test_loss=last["test_loss"],
                           train_loss=last["train_loss"], steps=steps),
                env=run_env(device, data, precision=precision, compile=False),
                wall_s=wall_s, packed_with=packed_with)
