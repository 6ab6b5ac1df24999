"""One training step of a stack (forward, backward, clipping, the optimizer's update), run as it is
written or replayed from a CUDA graph.

A small run's step on a GPU is hundreds of kernels of a few microseconds each, and dispatching them
(the stack's bookkeeping in front of each included) takes longer than running them: on 2 CPU threads
ResNet-20 stacked at K=1 under vmap dispatched 2,088 operators a step against a single run's 548, and
on an H200 it ran at 0.40x of the single run. (At batch 32, re-measured: 1,956 under vmap, 1,334 side
by side, `lrlab.side_by_side`; most of what is left over a single run is the stacked optimizer's
views.) A CUDA graph launches the whole step at once. What changes from step to step must then be in
tensors the graph reads in place: the batch is copied into `x` and `y`, the hyperparameters into the
optimizer's table (`StackedOptimizer.prepare`, on the host), and the step's losses come out in `loss`
and `correct`.

A graph holds one stack size, one batch shape and one set of the optimizer's branches. Whenever one
of them changes (a member leaves, say), the steps run as written until WARMUP_STEPS have run with
the new ones (the optimizer makes its state, cuBLAS its per-stream workspace, there, not under
capture), then a new graph is captured and replayed. The arithmetic is the same kernels either way.
"""
import os
import warnings

import torch

from lrlab.errors import LrlabError, error_line

WARMUP_STEPS = 2


GRAPH_FAMILIES = ("resnet", "mlp", "chargpt")


def graph_family(model):
    """The family a model's graphs stand or fall with: 'resnet20' -> 'resnet'."""
    return str(model).rstrip("0123456789")


def graph_families(device):
    """The model families whose stacks on `device` replay their steps from CUDA graphs: on a GPU, as
    LRLAB_CUDA_GRAPHS says: 0 (none), 1 (all, the default), or a list such as "resnet,mlp" (a job's
    check sets it so when a family's graphs fail or disagree there); none off a GPU.
    An unknown family is an error naming the valid settings."""
    if torch.device(device).type != "cuda":
        return []
    setting = os.environ.get("LRLAB_CUDA_GRAPHS", "1").strip()
    if setting in ("0", "1"):
        return list(GRAPH_FAMILIES) if setting == "1" else []
    named = [name.strip() for name in setting.split(",") if name.strip()]
    unknown = [name for name in named if name not in GRAPH_FAMILIES]
    if unknown or not named:
        raise LrlabError(f"LRLAB_CUDA_GRAPHS={setting!r}: unknown model family {(unknown or [''])[0]!r}; valid: "
                         f"0, 1, or a comma list of {', '.join(GRAPH_FAMILIES)}")
    return [family for family in GRAPH_FAMILIES if family in named]


def graphs_wanted(device, model):
    """Whether a stack of `model` on `device` replays its steps from CUDA graphs (`graph_families`)."""
    return graph_family(model) in graph_families(device)


def cuda_graphs_for(device, model):
    """A CudaGraphs for `device` where `graphs_wanted`, else None: every step runs as written."""
    return CudaGraphs(device) if graphs_wanted(device, model) else None


class CudaGraphs:
    """Capture and replay on `device`. The steps before a capture run on the stream it captures on,
    so that what cuBLAS sets up per stream exists before capture (PyTorch does the same in
    make_graphed_callables since 2.12)."""

    def __init__(self, device):
        self.device = torch.device(device)
        self.stream = torch.cuda.Stream(self.device)

    def eager(self, fn):
        current = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(current)
        with torch.cuda.stream(self.stream):
            out = fn()
        current.wait_stream(self.stream)
        return out

    def capture(self, fn):
        """`fn` recorded, not run; returns what runs it (on the current stream)."""
        graph = torch.cuda.CUDAGraph()
        self.stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.graph(graph, stream=self.stream, capture_error_mode="thread_local"):
            fn()
        return graph.replay


class StackStep:
    """`step(x, y)` trains every member of `stack` on its own batch x[k], y[k] for one step and returns
    (loss (K,), correct (K,), examples per member). `graphs` (a CudaGraphs, or None to run every step
    as written) decides how. `forward_loss(xc, yc)` -> (loss (K,), correct (K,), n) is the stack's
    forward of one micro-batch; `clip(params)` clips each member's gradients, or is None."""

    def __init__(self, stack, optimizer, forward_loss, chunks=1, clip=None, graphs=None):
        self.stack, self.optimizer, self.forward_loss = stack, optimizer, forward_loss
        self.chunks, self.clip, self.graphs = chunks, clip, graphs
        self.replay, self.key, self.steps_at_key = None, None, 0
        self.captured, self.failed = 0, None   # graphs captured so far; why capture failed, if it did

    @property
    def cuda_graph(self):
        """What a record says of its steps: True (replayed from CUDA graphs), False (as written), or
        "failed: ..." (capture failed, and the steps after it ran as written)."""
        return f"failed: {self.failed}" if self.failed else self.captured > 0

    def __call__(self, x, y):
        branches = self.optimizer.prepare()
        if self.graphs is None:
            return self._step(x, y)
        key = (len(self.stack), tuple(x.shape), tuple(y.shape), branches)
        if key != self.key:
            self.replay, self.key, self.steps_at_key = None, key, 0
        if self.replay is None and self.steps_at_key >= WARMUP_STEPS:
            try:
                self._capture(x, y)
            except torch.OutOfMemoryError:
                raise   # the caller splits the stack
            except Exception as exc:  # noqa: BLE001 - nothing ran under capture: go on as written
                self.graphs, self.replay = None, None
                self.failed = error_line(exc)
                warnings.warn(f"CUDA graph capture failed; this stack's steps run as written: {self.failed}")
                return self._step(x, y)
        self.steps_at_key += 1
        if self.replay is None:
            return self.graphs.eager(lambda: self._step(x, y))
        self.x.copy_(x)
        self.y.copy_(y)
        self.replay()
        return self.loss.clone(), self.correct.clone(), self.n

    def _capture(self, x, y):
        # the graph's own inputs and outputs: each step's batch is copied into x and y, and its
        # losses read from loss and correct, where the recorded kernels read and write them
        self.x, self.y = x.clone(), y.clone()
        self.loss = torch.zeros(len(self.stack), device=x.device)
        self.correct = torch.zeros(len(self.stack), device=x.device, dtype=torch.long)

        def recorded():
            loss, correct, self.n = self._step(self.x, self.y)
            self.loss.copy_(loss)
            self.correct.copy_(correct)
        self.replay = self.graphs.capture(recorded)
        self.captured += 1

    def _step(self, x, y):
        """The step as written: kernels only once `prepare` has run, so it can be recorded."""
        # Gradients start from None, as after zero_grad(set_to_none=True): under capture the backward
        # then writes them (into the graph's memory) instead of adding to last step's
        self.optimizer.zero_grad()
        step_loss = torch.zeros(len(self.stack), device=x.device)
        correct, seen = 0, 0
        for xc, yc in zip(x.chunk(self.chunks, dim=1), y.chunk(self.chunks, dim=1)):
            loss, c, n = self.forward_loss(xc, yc)
            (loss.sum() / self.chunks).backward()   # members are independent: each gets its own gradient
            step_loss += loss.detach() / self.chunks
            correct, seen = correct + c, seen + n
        if self.clip is not None:
            self.clip(self.stack.params)
        self.optimizer.apply()
        return step_loss, correct, seen
