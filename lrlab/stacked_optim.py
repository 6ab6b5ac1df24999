"""One optimizer step for K stacked runs, each with its own hyperparameters.

A stacked parameter has shape (K, ...): member k's tensor is its slice k (or its transpose: the
update is elementwise, so the layout does not matter here). Every member keeps its
own torch optimizer (SGD, SGDW, Adam or AdamW from `lrlab.optim`, muP's included), built exactly as
a single run builds it; its schedule moves that optimizer's param groups as usual. The stacked
optimizer never steps those; each step it reads, for every (member, parameter), the group's current
lr, weight decay and momentum (or betas), turns them into per-member tensors, and applies torch's
update rule to all K slices at once: a few kernels per parameter instead of a few per parameter
per member. A step is two parts: `prepare` on the host (the hyperparameters into one device table)
and `apply` on the device (kernels only), which a CUDA graph can capture (`lrlab.stack_step`).
`apply` runs `update`, a pure function of the tensors, as written or, where the bench measured it
pays (`lrlab.stacking.StackSizes.fused_update`), through torch.compile (`FusedUpdate`), which fuses
each parameter's update into one pass over it: in a wide MLP's stack the update's passes over memory
are most of a step.

The arithmetic is torch's single-tensor SGD and Adam (maximize off, dampening 0, no amsgrad) and
`lrlab.optim.Lion`'s, term for term, so a member's update is the update it would get alone (float64
tests: tests/test_stacked.py; compiled: tests/test_fused_update.py).
SGD and SGDW members share a stack, as do Adam and AdamW (Lion's stacks are Lion's): coupled L2 adds
lambda*theta to the gradient, decoupled decay multiplies theta by 1 - lr_t*wd, and each member gets the
one it asked for.
"""
import time
import warnings

import torch

from lrlab.errors import LrlabError, error_line
from lrlab.optim import SGDW, Lion

FAMILIES = {"sgd": "sgd", "sgdw": "sgd", "adam": "adam", "adamw": "adam", "lion": "lion"}
STATE_KEYS = {"sgd": ("momentum_buffer",), "adam": ("exp_avg", "exp_avg_sq"), "lion": ("exp_avg",)}


def _group_values(group, decoupled):
    """A param group's (lr, coupled wd, decoupled wd, momentum or beta1, beta2, eps)."""
    wd = group["weight_decay"]
    if group.get("maximize") or group.get("dampening", 0) or group.get("amsgrad"):
        raise LrlabError("stacked training supports maximize=False, dampening=0 and amsgrad=False only")
    momentum, beta2 = (group["betas"] if "betas" in group else (group.get("momentum", 0.0), 0.0))
    return [group["lr"], 0.0 if decoupled else wd, wd if decoupled else 0.0, momentum, beta2,
            group.get("eps", 0.0)]


class StackedOptimizer:
    """torch's SGD or Adam update, or Lion's, on stacked parameters, hyperparameters read from each member's
    optimizer.

    `params`: name -> stacked leaf tensor (K, ...); `members`: the K torch optimizers; `member_params`:
    for each member, name -> its own parameter object (to find the group it is in).
    """

    def __init__(self, params, members, member_params, family, transposed=(), fused=False):
        if family not in STATE_KEYS:
            raise LrlabError(f"unknown optimizer family {family!r}; valid choices: {', '.join(STATE_KEYS)}")
        self.params, self.members, self.family = params, list(members), family
        self.member_params, self.transposed = list(member_params), set(transposed)
        self.names = list(params)
        self.decoupled = [isinstance(opt, (SGDW, torch.optim.AdamW, Lion)) or _is_decoupled_adam(opt)
                          for opt in members]
        # group_index[k][j]: which of member k's groups holds parameter j
        self.group_index = []
        for opt, own in zip(self.members, self.member_params):
            where = {id(p): g for g, group in enumerate(opt.param_groups) for p in group["params"]}
            missing = [n for n in self.names if id(own[n]) not in where]
            if missing:
                raise LrlabError(f"parameter {missing[0]!r} is in none of its member's optimizer groups")
            self.group_index.append([where[id(own[n])] for n in self.names])
        self.nesterov = {bool(g.get("nesterov", False)) for opt in members for g in opt.param_groups}
        if len(self.nesterov) > 1:
            raise LrlabError("members of one stack must agree on nesterov")
        self.nesterov = self.nesterov.pop()
        self.state = {}   # name -> dict of stacked state tensors
        self.steps = 0
        self.table, self.fields, self.branches = None, None, None   # this step's hyperparameters (prepare)
        self.fused = FusedUpdate() if fused else None
        self._take_member_states()

    def _layout(self, name, tensor):
        """A member's tensor in the stack's layout for parameter `name` (and back: a transpose is its own inverse)."""
        return tensor.t() if name in self.transposed else tensor

    def _take_member_states(self):
        """Start from the members' optimizer states (a resumed run's), then free them: the stack holds them."""
        keys = STATE_KEYS[self.family]
        found = [[opt.state.get(own[n], {}) for n in self.names] for opt, own in zip(self.members, self.member_params)]
        if not any(state for member in found for state in member):
            return
        if self.family == "adam":
            steps = {int(state["step"]) for member in found for state in member if "step" in state}
            if len(steps) != 1 or not all(member[0] for member in found):
                raise LrlabError("the members of one stack must resume from the same step (or all start afresh)")
            self.steps = steps.pop()
        for j, name in enumerate(self.names):
            self.state[name] = {}
            for key in keys:   # SGD at momentum 0 keeps no buffer; a zero one gives the same update
                values = [member[j].get(key) for member in found]
                like = self.params[name][0]
                self.state[name][key] = torch.stack([
                    self._layout(name, v).to(like) if v is not None else torch.zeros_like(like) for v in values])
        for opt in self.members:
            opt.state.clear()

    def member_state_dict(self, position):
        """The optimizer state_dict member `position` (in the stack) would have trained alone: what a
        checkpoint stores, so that the run resumes alone or in any stack."""
        opt, own = self.members[position], self.member_params[position]
        saved = opt.state_dict()
        order = {id(p): i for i, p in enumerate(p for group in opt.param_groups for p in group["params"])}
        for name, state in self.state.items():
            entry = {key: self._layout(name, value[position]).clone() for key, value in state.items()}
            if self.family == "adam":
                entry["step"] = torch.tensor(float(self.steps))
            saved["state"][order[id(own[name])]] = entry
        return saved

    def keep(self, index, params):
        """Only the members at `index` (positions in the current stack) go on; `params` are the new leaves."""
        self.params = params
        self.members = [self.members[i] for i in index]
        self.member_params = [self.member_params[i] for i in index]
        self.decoupled = [self.decoupled[i] for i in index]
        self.group_index = [self.group_index[i] for i in index]
        self.table = None
        picked = torch.as_tensor(index, dtype=torch.long)
        self.state = {name: {key: value.index_select(0, picked.to(value.device)) for key, value in state.items()}
                      for name, state in self.state.items()}

    def _hyperparameters(self):
        """{field: (P, K) float64 on the host}: each parameter's hyperparameters, per member, this step."""
        rows = []
        for opt, decoupled, groups in zip(self.members, self.decoupled, self.group_index):
            values = [_group_values(group, decoupled) for group in opt.param_groups]
            rows.append([values[g] for g in groups])
        lr, coupled, decoupled, momentum, beta2, eps = torch.tensor(rows, dtype=torch.float64).permute(2, 1, 0)
        # as torch computes them, in Python floats: the decoupled factor, and Adam's step scalars
        common = dict(coupled_wd=coupled, decay_factor=1 - lr * decoupled)
        if self.family == "sgd":
            return dict(common, momentum=momentum, neg_lr=-lr)
        if self.family == "lion":
            return dict(common, one_minus_beta1=1 - momentum, one_minus_beta2=1 - beta2, neg_lr=-lr)
        t = self.steps
        return dict(common, one_minus_beta1=1 - momentum, beta2=beta2, one_minus_beta2=1 - beta2, eps=eps,
                    neg_step_size=-(lr / (1 - momentum ** t)), bias_correction2_sqrt=(1 - beta2 ** t).sqrt())

    def prepare(self):
        """The host's part of a step: this step's hyperparameters, read from the members' optimizers,
        copied into `table`, the device tensor `apply` reads. `table` stays the same tensor while the
        stack keeps its size, so that a captured CUDA graph of `apply` reads each step's values there.
        Returns the branches `apply` will take (a graph holds one set of them)."""
        self.steps += 1
        self._ensure_state()
        host = self._hyperparameters()
        self.fields = list(host)
        values = torch.stack([host[n] for n in self.fields])   # (fields, parameters, K)
        first = next(iter(self.params.values()))
        if self.table is None or self.table.shape != values.shape:
            self.table = torch.empty(values.shape, device=first.device, dtype=first.dtype)
        if self.table.is_cuda:   # from pinned memory, asynchronously: a pageable copy would wait for the GPU
            values = values.to(self.table.dtype).pin_memory()   # to finish the step before, every step
        self.table.copy_(values, non_blocking=self.table.is_cuda)   # one copy to the device
        self.branches = (bool((host["coupled_wd"] != 0).any()), bool((host["decay_factor"] != 1).any()),
                         self.family == "sgd" and bool((host["momentum"] == 0).any()))
        return self.branches

    def _ensure_state(self):
        """Every parameter's optimizer state, made on the host before the first `apply`: zeros, from
        which torch's first step gives what it would from none (a momentum buffer 0 * m + g is g, and
        Adam starts from zeros), so that `apply` only computes and a compiled or captured step holds
        every step's state in the same tensors."""
        keys = STATE_KEYS[self.family]
        for name, p in self.params.items():
            state = self.state.setdefault(name, {})
            for key in keys:
                if key not in state:
                    state[key] = torch.zeros_like(p)

    def apply(self):
        """The device's part of a step: torch's update of every stacked parameter from `table`. It
        launches kernels only: no value goes back to the host and nothing is copied to the device.
        With `fused`, the update is torch.compile'd: a kernel or two per parameter instead of up to
        eight, each reading and writing the parameter and its state once (`FusedUpdate`)."""
        names = [name for name in self.names if self.params[name].grad is not None]
        args = (self.family, self.nesterov, self.branches, tuple(self.fields), self.table,
                [self.params[n] for n in names], [self.params[n].grad for n in names],
                [[self.state[n][key] for key in sorted(self.state[n])] for n in names],
                [self.names.index(n) for n in names])
        if self.fused is not None and self.fused.update(*args):
            return
        update(*args)

    def env(self):
        """What a record's env says of the update: {} as written; with `fused`, `fused_update` (True, or
        "failed: ..." where it ran as written) and `update_compile_s`, the seconds its compilation took."""
        if self.fused is None:
            return {}
        return dict(fused_update=f"failed: {self.fused.failed}" if self.fused.failed else True,
                    update_compile_s=round(self.fused.compile_s, 3))

    def zero_grad(self):
        for p in self.params.values():
            p.grad = None


@torch.no_grad()
def update(family, nesterov, branches, fields, table, params, grads, states, rows):
    """torch's SGD or Adam update, or Lion's, of stacked `params` (with `grads`, and `states`: per parameter its
    state tensors by name, sorted) from `table` (fields x parameters x K): `rows[j]` is parameter j's
    row of it. Kernels only; a pure function of its tensors, so that torch.compile can fuse it."""
    any_coupled, any_decoupled, zero_momentum = branches
    for p, grad, state, row in zip(params, grads, states, rows):
        shape = (-1,) + (1,) * (p.ndim - 1)
        h = {field: table[f, row].view(shape) for f, field in enumerate(fields)}
        if any_decoupled:   # theta * (1 - lr_t * wd) for decoupled members, exactly theta for the others
            p.mul_(h["decay_factor"])
        if any_coupled:     # coupled L2: g + lambda * theta (lambda is 0 for decoupled members)
            grad = grad + h["coupled_wd"] * p
        if family == "sgd":
            _sgd(p, grad, state[0], h, nesterov, zero_momentum)
        elif family == "lion":
            _lion(p, grad, state[0], h)
        else:
            _adam(p, grad, state[0], state[1], h)


def _sgd(p, grad, buf, h, nesterov, zero_momentum):
    momentum = h["momentum"]
    buf.mul_(momentum).add_(grad)   # from a zero buffer, torch's first step's clone of the gradient
    if zero_momentum:   # torch keeps no buffer at momentum 0 (0 * inf would be nan, not inf)
        buf.copy_(torch.where(momentum == 0, grad, buf))
    update = grad + momentum * buf if nesterov else buf
    p.addcmul_(update, h["neg_lr"])   # p + (-lr) * update, as torch's p.add_(update, alpha=-lr)


def _adam(p, grad, exp_avg, exp_avg_sq, h):
    exp_avg.lerp_(grad, h["one_minus_beta1"])
    exp_avg_sq.mul_(h["beta2"]).addcmul_(grad * h["one_minus_beta2"], grad)
    denom = (exp_avg_sq.sqrt() / h["bias_correction2_sqrt"]).add_(h["eps"])
    p.addcmul_(exp_avg / denom, h["neg_step_size"])   # as torch's p.addcdiv_(m, denom, value=-step)


def _lion(p, grad, exp_avg, h):
    p.addcmul_(exp_avg.lerp(grad, h["one_minus_beta1"]).sign_(), h["neg_lr"])   # as Lion's p.add_(sign, alpha=-lr)
    exp_avg.lerp_(grad, h["one_minus_beta2"])


class FusedUpdate:
    """`update` through torch.compile, which fuses each parameter's update into one kernel: torch's
    multi-tensor (foreach) kernels cannot take a hyperparameter per member, and written out the update is
    up to eight kernels a parameter, each a pass over it, its gradient or its state, which a wide stack's
    step spends most of its time in (an MLP of width 8192 stacked 64 times holds 23.7 GB of float32
    weights). It compiles at the first step and again when the stack's shapes or branches change (once
    with K dynamic: members leave). `compile_s`: the seconds those calls took, compilation included.
    If compiling fails, the stack's steps run the update as written and `failed` says why."""

    RECOMPILE_LIMIT = 64   # torch's default (8) counts every stack of a process: a job's many shapes

    def __init__(self):
        self.compiled = torch.compile(update, fullgraph=True)
        self.failed, self.compile_s = None, 0.0

    def update(self, *args):
        """Apply the update compiled; False (nothing updated) if it cannot compile."""
        if self.failed:
            return False
        started, graphs_before = time.perf_counter(), _graphs_compiled()
        try:
            with torch._dynamo.config.patch(recompile_limit=self.RECOMPILE_LIMIT):
                self.compiled(*args)
        except torch.OutOfMemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - compilation fails before any kernel runs: update as written
            self.failed = error_line(exc)
            warnings.warn(f"the stacked optimizer's update did not compile; it runs as written: {self.failed}")
            return False
        if _graphs_compiled() != graphs_before:   # this call compiled (or recompiled)
            self.compile_s += time.perf_counter() - started
        return True


def _graphs_compiled():
    """How many graphs torch.compile has made in this process so far."""
    from torch._dynamo.utils import counters
    return counters["stats"]["unique_graphs"]


def _is_decoupled_adam(opt):
    return isinstance(opt, torch.optim.Adam) and any(g.get("decoupled_weight_decay") for g in opt.param_groups)
