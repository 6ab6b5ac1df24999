"""Stacked training: K runs that differ only in hyperparameters and seed, trained as one computation.

One small run (ResNet-20 at batch 128, an MLP at batch 64) leaves a GPU mostly idle between kernel
launches. K of them whose models have one shape train here as one: their parameters are stacked
along a new first dimension and `torch.func.vmap` runs the K forwards and backwards as one (a
batched matmul for the MLP and the GPT; the GPT's attention is one call of torch's fused kernel over
every member's sequences). The ResNets run without vmap, their channels side by side
(`lrlab.side_by_side`): a grouped convolution per layer, and BatchNorm per channel, so each member
normalises with its own running statistics. Each member keeps what makes
it its own run: its initialisation (built by `model_and_optimizer`, as alone), its data order and
augmentation (its seed; the K batches of a step are gathered and augmented as one, so a step launches
no more kernels for 64 members than for one), its schedule and its optimizer's hyperparameters (read
every step by `StackedOptimizer`), its evaluation, and its divergence: a member that diverges leaves
the stack at the check where a single run would stop, with the same record, and the others go on.

The result is one ordinary record per member, the same id and schema as if trained alone, plus
`packed_with`: how many runs trained together (1: a lone run trained as a stack of one, where its
graphed step measured faster than its own; `lrlab.stacking`). In float64 a member's history equals its single
run's to rounding (tests/test_stacked.py); epoch seconds and wall_s are the stack's. Checkpoints
and deadlines work as in `train`, and a member's checkpoint is the one its single run would write,
so it resumes alone or in another stack. The per-step rules (divergence, the history row, the
deadline) are `train`'s own functions; what this loop adds is the stacking.

A step (forward, backward, clipping, update) is `lrlab.stack_step`'s: on a GPU it is replayed from a
CUDA graph, since a small stack's step is mostly the launching of its kernels; the record's env says
`cuda_graph`.

Not stacked (they train alone): range tests (trace_every), noise-scale runs, runs whose batch grows,
the torch-lr-finder runner, and anything with torch.compile or channels_last, which this path does not use yet.
Which runs share a stack, and how many, is `lrlab.stacking`'s job.
"""
import copy
import time
import warnings
from typing import Optional

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from lrlab import side_by_side
from lrlab.config import RunConfig
from lrlab.divergence import RULES, DivergenceWatch
from lrlab.env import run_env
from lrlab.errors import LrlabError
from lrlab.models import CausalSelfAttention, causal_attention
from lrlab.schedules import build_schedule
from lrlab.stack_step import StackStep, cuda_graphs_for
from lrlab.stacked_optim import FAMILIES, StackedOptimizer
from lrlab.stacking import MEMBER_FIELDS, stack_key
from lrlab.tasks import CharTask, CifarTask, load_task_data
from lrlab.train import (CHECK_EVERY, DeadlineReached, RunState, _autocast_for, _progress,
                         history_row, model_and_optimizer, no_time_for_another, record_body, upcast)


@torch.library.custom_op("lrlab::stacked_causal_attention", mutates_args=())
def stacked_causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                             scale: Optional[float] = None) -> torch.Tensor:
    """`models.causal_attention` as an operator with a rule for vmap. vmap has no batching rule of its
    own for the fused kernels: on the CPU it falls back to a loop over the members, and on an H100
    (torch 2.11) the fused CUDA kernel failed under it ("stack expects a non-empty TensorList")."""
    return causal_attention(q, k, v, scale)


@stacked_causal_attention.register_fake
def _(q, k, v, scale=None):
    return torch.empty_like(q)


@stacked_causal_attention.register_vmap
def _attention_of_every_member(info, in_dims, q, k, v, scale=None):
    # Attention has no parameters and members never attend to each other's tokens, so the K members'
    # batches are one batch of K * B sequences for the same fused kernel a single run calls; autograd
    # records that call, so the backward is the fused kernel's too. (The written-out form this replaces
    # made a stacked GPT 0.67x of its runs one after another on 2 CPU threads.)
    def members_first(t, dim):
        return t.movedim(dim, 0) if dim is not None else t.expand(info.batch_size, *t.shape)
    q, k, v = (members_first(t, dim) for t, dim in zip((q, k, v), in_dims[:3]))
    y = causal_attention(q.flatten(0, 1), k.flatten(0, 1), v.flatten(0, 1), scale)
    return y.unflatten(0, q.shape[:2]), 0


class Stack:
    """K models of one shape as stacked tensors; `forward` runs all K at once: side by side in the
    channels for the ResNets (`lrlab.side_by_side`), with vmap for the others."""

    def __init__(self, models):
        real = models[0]
        self.side_by_side = side_by_side.applies(real)
        # the structure only; tensors come from the stack
        self.template = side_by_side.template(real) if self.side_by_side else copy.deepcopy(real).to("meta")
        for module in self.template.modules():
            if isinstance(module, CausalSelfAttention):
                module.attend = stacked_causal_attention
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
        if self.side_by_side:
            members = len(index) if index is not None else len(self)
            return functional_call(self.template, (params, buffers), (side_by_side.inputs(x, members, shared_input),))

        def one(p, b, x):
            return functional_call(self.template, (p, b), (x,))
        return vmap(one, in_dims=(0, 0, None if shared_input else 0))(params, buffers, x)

    def member_state_dict(self, position):
        """Member `position`'s model.state_dict(), as its single run would save it."""
        tensors = {**self.params, **self.buffers}
        return {name: self._stored(name, tensors[name][position].detach()).clone()
                for name in self.template.state_dict()}

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
        raise LrlabError(f"run {alone.id} cannot be stacked (a range test, a noise-scale run, a "
                         f"growing batch or the torch-lr-finder runner); train it alone")
    if len(keys) > 1:
        raise LrlabError("runs of one stack must differ only in " + ", ".join(MEMBER_FIELDS))
    if len({c.id for c in configs}) < len(configs):
        raise LrlabError("the same run appears twice in one stack")


def _member_tasks(configs, data, device):
    if configs[0].task == "cifar10":
        first = CifarTask(configs[0], data, device, channels_last=False)
        return [first] + [first.for_seed(c.seed) for c in configs[1:]]
    return [CharTask(c, data, device) for c in configs]


def train_stacked(configs: list[RunConfig], device="cpu", data=None, data_root=None, progress=True,
                  checkpoint_paths=None, checkpoint_every_s=60.0, stop_at=None, graphs="auto",
                  fused_update=False):
    """Train `configs` as one stack; return, in their order, each member's record body, or for a member
    the deadline stopped, its DeadlineReached (see the module docstring).

    `checkpoint_paths` (one per member) and `stop_at` work as in `train`: each member's checkpoint is
    the one its single run would write, so a member resumes alone or in any stack; the members of one
    stack resume from the same epoch (or all start afresh). `graphs`: how steps are replayed
    (`lrlab.stack_step`); "auto" is CUDA graphs on a GPU as LRLAB_CUDA_GRAPHS allows, else none.
    `fused_update`: the optimizer's update goes through torch.compile (`lrlab.stacked_optim.FusedUpdate`).
    """
    configs = list(configs)
    _check_stackable(configs)
    checkpoint_paths = list(checkpoint_paths) if checkpoint_paths else [None] * len(configs)
    if len(checkpoint_paths) != len(configs):
        raise LrlabError(f"{len(checkpoint_paths)} checkpoint paths for {len(configs)} runs; give one per run")
    device = torch.device(device)
    data = data if data is not None else load_task_data(configs[0], data_root)
    tasks = _member_tasks(configs, data, device)
    first = configs[0]
    steps_per_epoch = tasks[0].steps_per_epoch
    total_steps = first.epochs * steps_per_epoch
    models, optimizers, schedules, resumed = [], [], [], []
    for config, path in zip(configs, checkpoint_paths):
        model, opt = model_and_optimizer(config, tasks[0].num_classes, device)
        with warnings.catch_warnings():   # the members' own optimizers never step: the stack steps for them
            warnings.simplefilter("ignore", UserWarning)
            schedule = build_schedule(opt, config.schedule, total_steps, steps_per_epoch, **config.schedule_args)
        models.append(model), optimizers.append(opt), schedules.append(schedule)
        resumed.append(RunState.resume(path, config, model, opt, schedule))
    start_epochs = {state.epoch for state in resumed}
    if len(start_epochs) > 1:
        raise LrlabError(f"the runs of one stack resume from different epochs ({sorted(start_epochs)}); "
                         f"stack those of one epoch together")
    start_epoch = start_epochs.pop()
    stack = Stack(models)
    optimizer = StackedOptimizer(stack.params, optimizers, [dict(m.named_parameters()) for m in models],
                                 FAMILIES[first.optimizer], stack.transposed, fused=fused_update)
    for model in models:   # the stack holds the weights now; the members' copies would only take memory
        for p in model.parameters():
            p.data = p.data.new_empty(0)
    graphs = cuda_graphs_for(device, first.model) if graphs == "auto" else graphs
    # a captured graph must not keep autocast's weight casts between steps (torch's CUDA graph notes)
    autocast, precision = _autocast_for(first, device, cache=graphs is None)
    env = run_env(device, data, precision=precision, compile=False, divergence_rules=RULES)

    def forward_loss(x, y):
        with autocast():
            return member_loss_and_correct(stack.forward(x), y)
    train_step = StackStep(stack, optimizer, forward_loss,
                           chunks=first.batch_size // first.micro_batch if first.micro_batch else 1,
                           clip=(lambda params: _clip_member_grads(params, first.grad_clip)) if first.grad_clip else None,
                           graphs=graphs)

    alive = list(range(len(configs)))   # original member numbers, in stack order
    histories = [list(state.history) for state in resumed]
    wall_before = [state.wall_s for state in resumed]
    results = [None] * len(configs)
    # each member's divergence rule (lrlab.divergence), resumed with the reference it started with
    watch = DivergenceWatch([c.divergence_factor for c in configs], tasks[0].num_classes, device,
                            [state.divergence for state in resumed] if start_epoch else None)
    step, t_start, last_save = start_epoch * steps_per_epoch, time.perf_counter(), time.perf_counter()
    bar = _progress(total_steps, step, first, progress)
    bar.set_description(f"stack of {len(configs)} {first.model}")

    def wall_s(k):
        return wall_before[k] + time.perf_counter() - t_start

    def end_epoch_rows(positions, statuses, epoch, t_epoch, loss_sum, correct, seen):
        """The epoch's row for the members at `positions` (in the stack), evaluated now; a member
        whose status is not None ends with its record. Returns their test losses."""
        test_loss, test_acc = evaluate_members(stack, tasks[alive[positions[0]]], autocast, index=positions)
        seconds = time.perf_counter() - t_epoch
        n_batches = max(1, seen // tasks[0].examples_per_batch)
        for i, (pos, status) in enumerate(zip(positions, statuses)):
            k = alive[pos]
            histories[k].append(history_row(epoch, schedules[k].epoch_end_lr(epoch + 1 == first.epochs),
                                            loss_sum[pos] / n_batches,
                                            correct[pos].item() / max(1, seen), test_loss[i], test_acc[i], seconds))
            if status is not None:
                diverged_at = int(watch.first_bad[pos].item()) if status == "diverged" else None
                # its checkpoint stays until the caller has saved this record (lrlab.runner deletes it then)
                results[k] = record_body(configs[k], status, diverged_at, histories[k], step,
                                         dict(env, cuda_graph=train_step.cuda_graph, **optimizer.env()), wall_s(k),
                                         packed_with=len(configs))
        return test_loss

    def leave(positions):
        """The members at `positions` are done; the stack goes on without them. Returns the kept positions."""
        nonlocal alive
        keep = [pos for pos in range(len(alive)) if pos not in positions]
        alive = [alive[pos] for pos in keep]
        if alive and positions:
            index = torch.as_tensor(keep, device=device)
            stack.keep(keep)
            optimizer.keep(keep, stack.params)
            watch.keep(index)
        return keep

    def save_checkpoints(epochs_done):
        for pos, k in enumerate(alive):
            if checkpoint_paths[k]:
                RunState(epochs_done, histories[k], wall_s=wall_s(k), divergence=watch.state(pos)).save(
                    checkpoint_paths[k], configs[k], stack.member_state_dict(pos), optimizer.member_state_dict(pos),
                    schedules[k].state_dict())

    def stop_for_deadline(epoch, checkpointed):
        bar.close()
        for k in alive:
            results[k] = DeadlineReached(configs[k].id, epoch, first.epochs, checkpointed and bool(checkpoint_paths[k]))
        return results

    for epoch in range(start_epoch, first.epochs):
        t_epoch = time.perf_counter()
        loss_sum = torch.zeros(len(alive), device=device)
        correct = torch.zeros(len(alive), device=device, dtype=torch.long)
        seen = 0
        next_batch = tasks[0].stacked_batches(tasks, epoch)   # each member's own batches, gathered as one
        for _ in range(steps_per_epoch):
            step_loss, c, n = train_step(*next_batch(alive))
            correct += c
            seen += n
            with warnings.catch_warnings():
                if step == start_epoch * steps_per_epoch:   # torch warns once that the optimizers never stepped
                    warnings.simplefilter("ignore", UserWarning)
                for k in alive:
                    schedules[k].step()
            loss_sum += step_loss
            watch.update(step_loss, step)
            step += 1
            bar.update(1)
            if step % CHECK_EVERY == 0:
                diverged = (watch.first_bad >= 0).nonzero().flatten().tolist()
                if diverged:   # they stop here, where a single run would; the others go on
                    end_epoch_rows(diverged, ["diverged"] * len(diverged), epoch, t_epoch, loss_sum, correct, seen)
                    keep = leave(diverged)
                    if not alive:
                        break
                    loss_sum, correct = loss_sum[keep], correct[keep]
                if stop_at is not None and time.time() > stop_at:   # the epoch is redone on resume
                    return stop_for_deadline(epoch, checkpointed=False)
        if not alive:
            break
        last = epoch + 1 == first.epochs
        watch.end_epoch()
        diverged = set((watch.first_bad >= 0).nonzero().flatten().tolist())
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
        epoch_s = time.perf_counter() - t_epoch
        out_of_time = no_time_for_another(epoch_s, stop_at)
        if out_of_time or time.perf_counter() - last_save >= checkpoint_every_s:
            save_checkpoints(epoch + 1)
            last_save = time.perf_counter()
        if out_of_time:
            return stop_for_deadline(epoch + 1, checkpointed=True)
    bar.close()
    return results


def _clip_member_grads(params, max_norm):
    """torch.nn.utils.clip_grad_norm_ for each member: its own norm over all its gradients."""
    grads = [p.grad for p in params.values() if p.grad is not None]
    norms = torch.stack([torch.linalg.vector_norm(g.flatten(1), 2, dim=1) for g in grads])   # (P, K)
    total = torch.linalg.vector_norm(norms, 2, dim=0)
    coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for g in grads:
        g.mul_(coef.view((-1,) + (1,) * (g.ndim - 1)))
