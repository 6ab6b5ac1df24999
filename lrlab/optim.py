"""Optimizers: SGD and Adam with coupled L2, SGDW, AdamW and Lion with decoupled weight decay.

`weight_decay` is always the paper's lambda (Loshchilov & Hutter 2019, "Decoupled Weight Decay
Regularization", Alg. 1 for SGDW, Alg. 2 for AdamW), whatever the optimizer:

  sgd, adam (coupled L2):   g_t <- g_t + lambda * theta, then the usual update. torch's weight_decay
                            does exactly this, so lambda is passed as is.
  sgdw, adamw, lion         theta <- theta - eta_t * lambda * theta next to the gradient step, where
  (decoupled):              eta_t is the schedule MULTIPLIER (alpha is not in the decay term).
                            torch.optim.AdamW (see its docs' algorithm), our SGDW and Lion instead decay by
                            lr_t * weight_decay, with lr_t = lr * eta_t the scheduled LR; so we pass
                            weight_decay = lambda / lr (each group's own lr) to make the two equal.

With that mapping, changing the base LR leaves the decay alone, which is the point of decoupling
(the paper's Fig. 2: the good lambda no longer moves with the LR, the search space separates).
"""
import torch

from lrlab.errors import LrlabError, check_choice, check_non_negative, check_positive, check_range
from lrlab.names import OPTIMIZERS

ADAM_BETAS = (0.9, 0.999)   # torch's defaults
LION_BETAS = (0.9, 0.99)    # Chen et al. 2023's defaults


def _evaluate(closure):
    """The closure's loss, computed with gradients on as torch's optimizers do; None without a closure."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class SGDW(torch.optim.SGD):
    """SGD with decoupled weight decay (Loshchilov & Hutter Alg. 1, line 9); torch has none.

    Decay follows torch.optim.AdamW's convention: p <- p * (1 - lr_t * weight_decay) applied before
    the gradient step, so weight_decay = lambda_paper / base_lr makes the decay lambda_paper * eta_t
    with eta_t the schedule multiplier, as in the paper. Momentum, Nesterov and dampening are SGD's.
    """

    @torch.no_grad()
    def step(self, closure=None):
        loss = _evaluate(closure)
        decays = [group["weight_decay"] for group in self.param_groups]
        for group, decay in zip(self.param_groups, decays):
            params = [p for p in group["params"] if p.grad is not None]
            if decay != 0 and params:
                torch._foreach_mul_(params, 1 - group["lr"] * decay)
            group["weight_decay"] = 0  # SGD.step must not add its coupled L2 on top
        try:
            super().step()
        finally:
            for group, decay in zip(self.param_groups, decays):
                group["weight_decay"] = decay
        return loss


class Lion(torch.optim.Optimizer):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Alg. 2); torch has none.

    Each step: c = beta1 * m + (1 - beta1) * g; theta <- theta * (1 - lr_t * weight_decay) - lr_t * sign(c);
    m <- beta2 * m + (1 - beta2) * g. Every coordinate moves by exactly lr_t (the sign), which is why the
    paper wants a rate 3-10x smaller than AdamW's. Decay follows torch.optim.AdamW's convention, as SGDW's.
    The state is the momentum `exp_avg` alone; `lrlab.stacked_optim` applies the same arithmetic stacked.
    """

    def __init__(self, params, lr=1e-4, betas=LION_BETAS, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = _evaluate(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                exp_avg = self.state[p].setdefault("exp_avg", torch.zeros_like(p))
                if group["weight_decay"] != 0:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(exp_avg.lerp(p.grad, 1 - beta1).sign_(), alpha=-group["lr"])
                exp_avg.lerp_(p.grad, 1 - beta2)
        return loss


def param_groups(model, weight_decay, decay_norm_and_bias=True):
    """Trainable parameters of `model` as optimizer groups carrying the paper's lambda.

    With decay_norm_and_bias=False, matrices and conv kernels (ndim >= 2) get `weight_decay` and
    1-D parameters (BatchNorm/LayerNorm gains and shifts, biases) get none. Empty groups are dropped.
    """
    if not isinstance(model, torch.nn.Module):
        raise LrlabError(f"param_groups needs a torch.nn.Module, got {type(model).__name__}")
    check_non_negative("weight_decay", weight_decay)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise LrlabError(f"{type(model).__name__} has no trainable parameters")
    if decay_norm_and_bias:
        return [{"params": params, "weight_decay": weight_decay}]
    groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
    return [group for group in groups if group["params"]]


def build_optimizer(params_or_model, name, lr, momentum=0.9, nesterov=False, weight_decay=0.0,
                    betas=None, eps=1e-8, decay_norm_and_bias=True, mup=False):
    """Optimizer `name` over a model (split by param_groups), a list of tensors, or a list of group dicts.

    `mup=True` wraps the same torch class in the `mup` package's MuSGD/MuAdam (Yang et al. 2022),
    which splits each group by the parameters' infinite dimensions and rescales its LR (and weight
    decay); the model must have had `mup.set_base_shapes` applied.

    `weight_decay` (and any group's own "weight_decay") is the paper's lambda; see the module docstring
    for how it maps to torch. `momentum` and `nesterov` are for sgd/sgdw, `betas` for adam/adamw (default
    ADAM_BETAS) and lion (LION_BETAS), `eps` for adam/adamw. The `mup` package has no Lion: lion is SP only.
    """
    check_choice("optimizer", name, OPTIMIZERS)
    check_positive("lr", lr)
    check_range("momentum", momentum, 0, 1, closed="low")
    check_non_negative("weight_decay", weight_decay)
    betas = tuple((LION_BETAS if name == "lion" else ADAM_BETAS) if betas is None else betas)
    if len(betas) != 2:
        raise LrlabError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    check_range("beta1", betas[0], 0, 1, closed="low")
    check_range("beta2", betas[1], 0, 1, closed="low")
    check_positive("eps", eps)
    if nesterov and (name not in ("sgd", "sgdw") or momentum == 0):
        raise LrlabError(f"nesterov needs momentum > 0 and an SGD optimizer (sgd, sgdw), got {name!r} "
                         f"with momentum={momentum!r}")
    if mup and name == "lion":
        raise LrlabError("optimizer 'lion' has no muP version (the mup package wraps SGD and Adam); "
                         "valid with mup: sgd, sgdw, adam, adamw")

    if isinstance(params_or_model, torch.nn.Module):
        groups = param_groups(params_or_model, weight_decay, decay_norm_and_bias)
    else:
        groups = _as_groups(params_or_model, weight_decay)

    decoupled = name in ("sgdw", "adamw", "lion")
    for group in groups:
        group_lr = check_positive("lr", group.get("lr", lr))
        check_non_negative("weight_decay", group["weight_decay"])
        if decoupled:  # torch decays by lr_t * weight_decay; the paper by eta_t * lambda
            group["weight_decay"] = group["weight_decay"] / group_lr
    default_decay = weight_decay / lr if decoupled else weight_decay  # for groups added later

    if name in ("sgd", "sgdw"):
        kwargs = dict(lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=default_decay)
    elif name == "lion":
        kwargs = dict(lr=lr, betas=betas, weight_decay=default_decay)
    else:
        kwargs = dict(lr=lr, betas=betas, eps=eps, weight_decay=default_decay)
    cls = {"sgd": torch.optim.SGD, "sgdw": SGDW, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "lion": Lion}[name]
    try:
        if mup:
            import mup as mup_package
            wrapper = mup_package.MuSGD if name in ("sgd", "sgdw") else mup_package.MuAdam
            return wrapper(groups, impl=cls, **kwargs)
        return cls(groups, **kwargs)
    except (ValueError, TypeError) as err:  # e.g. a non-leaf tensor, a parameter in two groups
        raise LrlabError(f"cannot build optimizer {name!r}: {' '.join(str(err).split())}") from None


def _as_groups(params, weight_decay):
    """A tensor, tensors or group dicts as a list of group dicts (copies), each with a weight_decay."""
    items = [params] if isinstance(params, torch.Tensor) else list(params)
    if not items:
        raise LrlabError("build_optimizer got no parameters to optimize")
    if all(isinstance(item, dict) for item in items):
        return [{"weight_decay": weight_decay, **item} for item in items]
    if any(isinstance(item, dict) for item in items):
        raise LrlabError("build_optimizer got a mix of tensors and group dicts; pass one kind")
    return [{"params": items, "weight_decay": weight_decay}]


def layerwise_groups(model, lr, factor, weight_decay, decay_norm_and_bias=True):
    """Discriminative rates (Howard & Ruder 2018): the top layer group of `model` (`model.layer_groups()`,
    bottom to top) at `lr`, each group below at the rate of the one above divided by `factor`; each group
    split as `param_groups` splits a model, its decay the paper's lambda whatever its rate."""
    groups, layers = [], model.layer_groups()
    for below_top, modules in enumerate(reversed(layers)):
        part = torch.nn.ModuleList(modules)
        groups += [dict(group, lr=lr / factor ** below_top)
                   for group in param_groups(part, weight_decay, decay_norm_and_bias)]
    return groups


def optimizer_for(model, config, lr=None):
    """The optimizer a run config declares, over `model`, at `lr` (default: the config's)."""
    lr = config.lr if lr is None else lr
    params = (layerwise_groups(model, lr, config.lr_layer_decay, config.weight_decay, config.decay_norm_and_bias)
              if config.lr_layer_decay else model)
    return build_optimizer(params, config.optimizer, lr, config.momentum, config.nesterov,
                           config.weight_decay, decay_norm_and_bias=config.decay_norm_and_bias,
                           mup=config.parameterization == "mup")
