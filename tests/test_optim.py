"""Each optimizer against the paper's update written by hand (float64), param groups, bad inputs."""
import pytest
import torch

from lrlab.errors import LrlabError
from lrlab.names import OPTIMIZERS
from lrlab.optim import SGDW, Lion, build_optimizer, param_groups

THETA0 = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
GRADS = [torch.tensor([0.3, -0.1, 0.7], dtype=torch.float64), torch.tensor([-0.2, 0.4, 0.05], dtype=torch.float64)]
LR, LAMBDA, MU = 0.1, 0.01, 0.9
ETAS = [1.0, 0.5]  # schedule multiplier at steps 1 and 2: the second step runs at half the LR


def _steps(name, **kwargs):
    """Two optimizer steps with GRADS, the LR set to LR * eta_t before each; returns theta after each."""
    theta = torch.nn.Parameter(THETA0.clone())
    optimizer = build_optimizer([theta], name, LR, weight_decay=LAMBDA, **kwargs)
    thetas = []
    for grad, eta in zip(GRADS, ETAS):
        optimizer.param_groups[0]["lr"] = LR * eta
        theta.grad = grad.clone()
        optimizer.step()
        thetas.append(theta.detach().clone())
    return thetas


def _close(got, want):
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=0, atol=1e-12)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_is_coupled_l2_with_torch_momentum(nesterov):
    theta, buf, want = THETA0.clone(), None, []
    for grad, eta in zip(GRADS, ETAS):
        g = grad + LAMBDA * theta                       # L2 enters the gradient
        buf = g.clone() if buf is None else MU * buf + g  # torch: b = mu*b + g (no dampening)
        theta = theta - LR * eta * (g + MU * buf if nesterov else buf)
        want.append(theta)
    _close(_steps("sgd", momentum=MU, nesterov=nesterov), want)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgdw_decays_by_eta_times_lambda(nesterov):
    # Loshchilov & Hutter Alg. 1 with torch's momentum: theta <- theta - lr_t * b - eta_t * lambda * theta
    theta, buf, want = THETA0.clone(), None, []
    for grad, eta in zip(GRADS, ETAS):
        buf = grad.clone() if buf is None else MU * buf + grad  # the decay stays out of the momentum
        step = grad + MU * buf if nesterov else buf
        theta = theta - LR * eta * step - eta * LAMBDA * theta
        want.append(theta)
    _close(_steps("sgdw", momentum=MU, nesterov=nesterov), want)


def _adam(theta, grads, etas, l2, decoupled, betas=(0.9, 0.999), eps=1e-8):
    m, v, want = torch.zeros_like(theta), torch.zeros_like(theta), []
    for t, (grad, eta) in enumerate(zip(grads, etas), start=1):
        g = grad + l2 * theta
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
        # Alg. 2, line 12: theta <- theta - eta_t * (alpha * m_hat / (sqrt(v_hat) + eps) + lambda * theta)
        theta = theta - eta * (LR * m_hat / (v_hat.sqrt() + eps) + decoupled * theta)
        want.append(theta)
    return want


def test_adam_is_coupled_l2():
    _close(_steps("adam"), _adam(THETA0.clone(), GRADS, ETAS, l2=LAMBDA, decoupled=0.0))


def test_adamw_is_decoupled():
    _close(_steps("adamw"), _adam(THETA0.clone(), GRADS, ETAS, l2=0.0, decoupled=LAMBDA))
    betas = (0.8, 0.99)
    _close(_steps("adamw", betas=betas, eps=1e-6),
           _adam(THETA0.clone(), GRADS, ETAS, l2=0.0, decoupled=LAMBDA, betas=betas, eps=1e-6))


def _lion(theta, grads, etas, decoupled, betas=(0.9, 0.99)):
    m, want = torch.zeros_like(theta), []
    for grad, eta in zip(grads, etas):
        # Chen et al. 2023, Alg. 2: c = b1*m + (1-b1)*g; theta <- theta - eta_t*(sign(c) + lambda*theta);
        # m = b2*m + (1-b2)*g (decay as ours: eta_t * lambda, with eta_t the schedule multiplier)
        c = betas[0] * m + (1 - betas[0]) * grad
        theta = theta - LR * eta * torch.sign(c) - eta * decoupled * theta
        m = betas[1] * m + (1 - betas[1]) * grad
        want.append(theta)
    return want


def test_lion_is_the_papers_sign_update_with_decoupled_decay():
    _close(_steps("lion"), _lion(THETA0.clone(), GRADS, ETAS, decoupled=LAMBDA))
    _close(_steps("lion", betas=(0.95, 0.98)), _lion(THETA0.clone(), GRADS, ETAS, decoupled=LAMBDA, betas=(0.95, 0.98)))
    theta = torch.nn.Parameter(THETA0.clone())
    assert build_optimizer([theta], "lion", LR).param_groups[0]["betas"] == (0.9, 0.99)   # the paper's, not Adam's
    assert build_optimizer([theta], "adam", LR).param_groups[0]["betas"] == (0.9, 0.999)


def test_lion_has_no_mup_version():
    with pytest.raises(LrlabError, match="'lion' has no muP.*sgd, sgdw, adam, adamw"):
        build_optimizer([torch.nn.Parameter(torch.zeros(1))], "lion", 0.1, mup=True)


@pytest.mark.parametrize("name", ["sgdw", "adamw", "lion"])
def test_decoupled_decay_does_not_move_with_the_base_lr(name):
    # zero gradient: only the decay acts, and it is eta * lambda whatever the base LR
    for lr in (0.01, 1.0):
        theta = torch.nn.Parameter(THETA0.clone())
        optimizer = build_optimizer([theta], name, lr, weight_decay=LAMBDA)
        assert optimizer.param_groups[0]["weight_decay"] == pytest.approx(LAMBDA / lr)
        theta.grad = torch.zeros_like(theta)
        optimizer.step()
        torch.testing.assert_close(theta.detach(), THETA0 * (1 - LAMBDA), rtol=0, atol=1e-15)


def test_sgdw_keeps_its_groups_weight_decay_and_closure():
    theta = torch.nn.Parameter(THETA0.clone())
    optimizer = SGDW([theta], lr=0.1, momentum=0.9, weight_decay=0.5)

    def closure():
        optimizer.zero_grad()
        loss = (theta ** 2).sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == pytest.approx((THETA0 ** 2).sum().item())
    assert optimizer.param_groups[0]["weight_decay"] == 0.5
    # decay first (AdamW's order), gradient of the pre-step theta
    torch.testing.assert_close(theta.detach(), THETA0 * (1 - 0.05) - 0.1 * 2 * THETA0, rtol=0, atol=1e-15)


def _model():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                                torch.nn.Linear(4, 2), torch.nn.LayerNorm(2))
    return model


def test_param_groups_split_norm_and_bias():
    model = _model()
    conv, bn, _, linear, ln = model
    linear.bias.requires_grad_(False)  # frozen: left out
    decayed, plain = param_groups(model, 5e-4, decay_norm_and_bias=False)
    assert decayed["weight_decay"] == 5e-4 and plain["weight_decay"] == 0.0
    assert {id(p) for p in decayed["params"]} == {id(conv.weight), id(linear.weight)}
    assert {id(p) for p in plain["params"]} == {id(p) for p in (conv.bias, bn.weight, bn.bias, ln.weight, ln.bias)}

    (everything,) = param_groups(model, 5e-4)
    assert len(everything["params"]) == 7 and everything["weight_decay"] == 5e-4


def test_param_groups_never_returns_an_empty_group():
    assert len(param_groups(torch.nn.LayerNorm(3), 0.1, decay_norm_and_bias=False)) == 1
    assert len(param_groups(torch.nn.Linear(3, 2, bias=False), 0.1, decay_norm_and_bias=False)) == 1
    frozen = torch.nn.Linear(3, 2).requires_grad_(False)
    with pytest.raises(LrlabError, match="no trainable parameters"):
        param_groups(frozen, 0.1)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_build_optimizer_from_a_model_maps_lambda_per_group(name):
    optimizer = build_optimizer(_model(), name, lr=0.5, weight_decay=1e-3, decay_norm_and_bias=False)
    expected_type = {"sgd": torch.optim.SGD, "sgdw": SGDW, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
                     "lion": Lion}[name]
    assert type(optimizer) is expected_type
    decay = 1e-3 / 0.5 if name in ("sgdw", "adamw", "lion") else 1e-3
    assert [g["weight_decay"] for g in optimizer.param_groups] == pytest.approx([decay, 0.0])


def test_build_optimizer_takes_group_dicts_with_their_own_lr():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    optimizer = build_optimizer([{"params": [a], "lr": 0.2}, {"params": [b], "weight_decay": 0.0}],
                                "adamw", lr=1.0, weight_decay=0.1)
    assert [g["lr"] for g in optimizer.param_groups] == [0.2, 1.0]
    assert [g["weight_decay"] for g in optimizer.param_groups] == pytest.approx([0.1 / 0.2, 0.0])


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="rmsprop"), "'rmsprop'.*sgd, sgdw, adam, adamw, lion"),
    (dict(lr=0.0), "lr.*0.0"),
    (dict(lr=-1), "lr.*-1"),
    (dict(lr="0.1"), "lr.*'0.1'"),
    (dict(momentum=1.0), "momentum.*1.0"),
    (dict(momentum=-0.1), "momentum.*-0.1"),
    (dict(weight_decay=-1e-4), "weight_decay.*-0.0001"),
    (dict(betas=(1.0, 0.999)), "beta1.*1.0"),
    (dict(betas=(0.9,)), "betas"),
    (dict(eps=0), "eps"),
    (dict(nesterov=True, momentum=0.0), "nesterov"),
    (dict(name="adam", nesterov=True), "nesterov.*'adam'"),
])
def test_bad_inputs_raise_lrlab_error(kwargs, match):
    args = dict(name="sgd", lr=0.1) | kwargs
    with pytest.raises(LrlabError, match=match):
        build_optimizer([torch.nn.Parameter(torch.zeros(1))], **args)


def test_no_parameters_raise_lrlab_error():
    with pytest.raises(LrlabError, match="no parameters"):
        build_optimizer([], "sgd", 0.1)
    with pytest.raises(LrlabError, match="non-leaf"):
        build_optimizer([torch.zeros(1, requires_grad=True) * 2], "sgd", 0.1)
