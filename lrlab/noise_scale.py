"""The gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018, "An Empirical
Model of Large-Batch Training"): the batch size at which a step's gradient noise is as large as the
gradient itself, their predictor of the largest useful batch.

Their two-batch estimator: from gradients at a small batch b and a big batch B (no optimizer step),
  |G|^2   ~ (B |G_B|^2 - b |G_b|^2) / (B - b)
  tr(Sigma) ~ (|G_b|^2 - |G_B|^2) / (1/b - 1/B)
are unbiased; their ratio is not, so both are averaged over several big batches before dividing.
Each big batch is the mean of B/b independent small ones, so Var(G_B) = Var(G_b) * b/B exactly,
even when the training set is small. Only the loss's gradient counts (weight decay's is not noise).
"""
import torch


def gradient_noise_scale(model, loss_of, small_batches, small_per_big):
    """B_simple at the model's current weights. `small_batches` yields (x, y) of one size b, and
    `loss_of(x, y)` is the model's mean loss on it; every `small_per_big` consecutive small batches
    form a big one. The model is left as it was: no step, no .grad, BatchNorm statistics restored."""
    params = [p for p in model.parameters() if p.requires_grad]
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    was_training = model.training
    model.train()
    small_sq, big_sq, losses, b, group, big_sum = [], [], [], None, 0, None
    for x, y in small_batches:
        b = len(y) if b is None else b
        loss = loss_of(x, y)
        grads = torch.autograd.grad(loss, params)
        flat = torch.cat([g.reshape(-1).float() for g in grads])
        small_sq.append(flat.square().sum())
        losses.append(loss.detach().float())
        big_sum = flat if big_sum is None else big_sum + flat
        group += 1
        if group == small_per_big:
            big_sq.append((big_sum / small_per_big).square().sum())
            group, big_sum = 0, None
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            buffer.copy_(buffers[name])
    model.train(was_training)
    if not big_sq:
        raise ValueError(f"need at least {small_per_big} small batches for one big batch")
    used = len(big_sq) * small_per_big   # a trailing partial group counts for neither average
    g_small = torch.stack(small_sq[:used]).mean().item()
    g_big = torch.stack(big_sq).mean().item()
    big = b * small_per_big
    grad_sq = (big * g_big - b * g_small) / (big - b)
    trace_sigma = (g_small - g_big) / (1 / b - 1 / big)
    return dict(b_simple=trace_sigma / grad_sq if grad_sq > 0 else None, grad_sq=grad_sq,
                trace_sigma=trace_sigma, small_batch=b, big_batch=big, big_batches=len(big_sq),
                loss=torch.stack(losses).mean().item())
