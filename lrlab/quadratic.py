"""Gradient descent on a quadratic, stepped by lrlab's own optimizer: the basics chapter's lab.

L(theta) = 1/2 sum_i h_i theta_i^2 has curvatures h_i; plain GD multiplies theta_i by (1 - lr h_i)
each step, so it diverges once lr > 2 / max(h). The chapter measures that threshold and momentum's
effective step with the same `torch.optim` code the training loop uses, instead of asserting them.
"""
import numpy as np
import torch

from lrlab.optim import build_optimizer

DIVERGENCE_STEPS = 200   # a run diverged when its loss after this many steps ends above where it started


def descend(curvatures, lr, steps, momentum=0.0, theta0=None, optimizer="sgd", weight_decay=0.0):
    """Run `steps` steps of `optimizer` (an lrlab.optim name: sgd, sgdw, ...); return thetas (steps+1, d)
    and losses (steps+1,)."""
    h = torch.tensor(curvatures, dtype=torch.float64)
    start = torch.ones_like(h) if theta0 is None else torch.tensor(theta0, dtype=torch.float64)
    theta = torch.nn.Parameter(start.clone())
    optimizer = build_optimizer([theta], optimizer, lr, momentum=momentum, weight_decay=weight_decay)
    thetas, losses = [theta.detach().clone()], []
    for _ in range(steps):
        loss = 0.5 * (h * theta**2).sum()
        losses.append(loss.item())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        thetas.append(theta.detach().clone())
    losses.append((0.5 * (h * theta.detach()**2).sum()).item())
    return torch.stack(thetas).numpy(), np.array(losses)


def diverges(curvatures, lr, momentum=0.0, steps=DIVERGENCE_STEPS):
    """A run diverged when its loss ends above where it started."""
    _, losses = descend(curvatures, lr, steps, momentum)
    return not np.isfinite(losses[-1]) or losses[-1] > losses[0]


def divergence_threshold(curvatures, low, high, momentum=0.0, steps=DIVERGENCE_STEPS, tol=1e-4):
    """The LR where descent starts to diverge, bracketed by bisection to within `tol`.

    `low` must converge and `high` diverge; returns the midpoint of the final bracket.
    """
    if diverges(curvatures, low, momentum, steps) or not diverges(curvatures, high, momentum, steps):
        raise ValueError(f"[{low}, {high}] does not bracket the divergence threshold")
    while high - low > tol:
        mid = (low + high) / 2
        low, high = (low, mid) if diverges(curvatures, mid, momentum, steps) else (mid, high)
    return (low + high) / 2


def effective_step(curvature, lr, momentum, steps=400):
    """Measured step size: the decay rate of theta along one curvature, divided by it.

    Plain GD at small lr*h decays as exp(-lr h t); momentum mu is claimed to act like lr/(1-mu).
    Fit log|theta_t| over the second half of the run (after momentum's transient) and return
    -slope / h, the plain-GD learning rate that would decay at the same rate.
    """
    thetas, _ = descend([curvature], lr, steps, momentum)
    t = np.arange(steps // 2, steps + 1)
    slope = np.polyfit(t, np.log(np.abs(thetas[t, 0])), 1)[0]
    return float(-slope / curvature)
