"""The divergence rule, kept on the device (no host sync per step) and elementwise, so that each of a
stack's K members follows it as if it trained alone.

A run diverges at the first step where
  1. its loss is not finite, or
  2. its smoothed loss (an EMA of LOSS_EMA) exceeds `divergence_factor` x its first loss, or
  3. it has collapsed, judged at an epoch's end: every step of the epoch had a loss within CHANCE_TOL of
     ln C (the network gives every input the same uniform guess) after the loss had risen above
     COLLAPSE_RISE x its first. The run is recorded as diverged at the step of its highest loss.
Rule 3 catches what the smoothing hides: one step at 34.9 nats, then ln 10 exactly for the rest of the
run (basics, quick, LR 2^-1.5 with momentum 0.9) never lifts the average 4x. The rise keeps out a network
that starts at chance and barely moves (a zero-initialised readout at a tiny rate).
"""
import math

import torch

RULES = 3             # how many of the rules above a run was held to; its record says (env.divergence_rules)
LOSS_EMA = 0.9        # smoothing of the training loss for rule 2
CHANCE_TOL = 0.01     # nats: how close to ln C every step of an epoch must be for rule 3
COLLAPSE_RISE = 1.1   # rule 3 needs the loss to have risen this far above its first


class DivergenceWatch:
    """The rule's state for one run (scalars) or a stack (tensors of K): the first loss, its running
    average, the highest loss and its step, this epoch's largest distance from chance, and `first_bad`,
    the step each run diverged at (-1 while fine)."""

    def __init__(self, factor, num_classes, device, states=None):
        """`factor`: the divergence factor (a number, or K of them); `states`: what `state()` gave for the
        run (or each member) when it was checkpointed, to resume with (None: a fresh start)."""
        self.factor = torch.as_tensor(factor, device=device)
        self.chance = math.log(num_classes)
        self.first_bad = torch.full(self.factor.shape, -1, device=device, dtype=torch.long)
        self.first_loss = self.ema = self.peak = self.peak_step = self.off_chance = None
        if states and states[0]["first_loss"] is not None:
            rows = [_resumable(state) for state in states]

            def column(key):
                values = [row[key] for row in rows]
                return torch.tensor(values if self.factor.dim() else values[0], device=device)
            self.first_loss, self.ema, self.peak = column("first_loss"), column("ema"), column("peak")
            self.peak_step = column("peak_step").to(torch.long)

    def update(self, step_loss, step):
        """After each optimizer step: rules 1 and 2, and what rule 3 needs."""
        at = torch.full_like(self.first_bad, step)
        if self.first_loss is None:
            self.first_loss, self.ema, self.peak, self.peak_step = (step_loss.clone(), step_loss.clone(),
                                                                    step_loss.clone(), at)
        self.ema = LOSS_EMA * self.ema + (1 - LOSS_EMA) * step_loss
        self._mark(~torch.isfinite(step_loss) | (self.ema > self.factor * self.first_loss), at)
        higher = step_loss > self.peak
        self.peak = torch.where(higher, step_loss, self.peak)
        self.peak_step = torch.where(higher, at, self.peak_step)
        distance = torch.nan_to_num((step_loss - self.chance).abs(), nan=math.inf)
        self.off_chance = distance if self.off_chance is None else torch.maximum(self.off_chance, distance)

    def end_epoch(self):
        """At an epoch's end: rule 3 (a collapsed run is marked diverged at its peak); then a fresh epoch."""
        if self.off_chance is not None:
            collapsed = (self.off_chance < CHANCE_TOL) & (self.peak > COLLAPSE_RISE * self.first_loss)
            self._mark(collapsed, self.peak_step)
        self.off_chance = None

    def _mark(self, bad, at):
        self.first_bad = torch.where((self.first_bad < 0) & bad, at, self.first_bad)

    def keep(self, index):
        """A stack going on with the members at `index` (a tensor of positions) only."""
        for name in ("factor", "first_bad", "first_loss", "ema", "peak", "peak_step", "off_chance"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.index_select(0, index))

    def state(self, pos=None):
        """What a checkpoint keeps of the rule, for the run (pos None) or the stack's member at `pos`."""
        if self.first_loss is None:
            return dict(first_loss=None, ema=None, peak=None, peak_step=None)
        pick = (lambda t: t.item()) if pos is None else (lambda t: t[pos].item())
        return dict(first_loss=pick(self.first_loss), ema=pick(self.ema), peak=pick(self.peak),
                    peak_step=int(pick(self.peak_step)))


def _resumable(state):
    """A checkpoint's rule state, completed: those written before rule 3 lack the peak, and the first
    loss stands in for it (the rise is then counted from there)."""
    first = state["first_loss"]
    return dict(first_loss=first, ema=first if state.get("ema") is None else state["ema"],
                peak=first if state.get("peak") is None else state["peak"],
                peak_step=state.get("peak_step") or 0)
