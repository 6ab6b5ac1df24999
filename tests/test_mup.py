"""muP through the `mup` package: the per-layer LR scaling and the coordinate check."""
import pytest
import torch

from lrlab.coord_check import mlp_coord_check
from lrlab.errors import LrlabError
from lrlab.models import build_model
from lrlab.optim import build_optimizer


def group_lr_of(optimizer, param):
    return next(g["lr"] for g in optimizer.param_groups if any(p is param for p in g["params"]))


def test_musgd_scales_the_mlp_layers_as_the_paper_says():
    # Yang et al. Eq. 4 (Table 8 form): input layer and readout get lr * n/n0, the hidden matrix lr
    model = build_model("mlp", width=512, parameterization="mup", base_width=128, init="lecun")
    opt = build_optimizer(model, "sgd", 0.1, momentum=0.9, mup=True)
    assert group_lr_of(opt, model.fc1.weight) == pytest.approx(0.4)
    assert group_lr_of(opt, model.fc2.weight) == pytest.approx(0.1)
    assert group_lr_of(opt, model.readout.weight) == pytest.approx(0.4)


def test_muadamw_divides_hidden_matrices_by_the_width_ratio():
    model = build_model("chargpt", num_classes=65, width=256, depth=1, parameterization="mup", base_width=64)
    opt = build_optimizer(model, "adamw", 1e-3, mup=True)
    assert group_lr_of(opt, model.blocks[0].attn.qkv.weight) == pytest.approx(1e-3 / 4)
    assert group_lr_of(opt, model.tok.weight) == pytest.approx(1e-3)
    assert model.blocks[0].attn.attn_scale == pytest.approx(1 / 32)   # muP's own rule: 1/d, not 1/sqrt(d)
    fixed_head = build_model("chargpt", num_classes=65, width=256, depth=1, parameterization="mup", base_width=64,
                             attn_scale="1/sqrt(d_head)")
    assert fixed_head.blocks[0].attn.attn_scale is None   # torch's 1/sqrt(d_head)


def test_sp_and_mup_coincide_at_the_base_width():
    torch.manual_seed(0)
    sp = build_model("mlp", width=128, parameterization="sp", init="lecun")
    torch.manual_seed(0)
    mup = build_model("mlp", width=128, parameterization="mup", base_width=128, init="lecun")
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(sp(x), mup(x), atol=1e-6)


def _outputs_and_updates(config, x, y, steps=3):
    """The model's output for `x` at initialisation, and its parameters after `steps` steps on (x, y)."""
    from lrlab.models import model_for
    from lrlab.optim import optimizer_for
    torch.manual_seed(config.seed)
    model = model_for(config, 65 if config.model == "chargpt" else 10)
    optimizer = optimizer_for(model, config, config.lr)
    first = model(x).detach().clone()
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x).reshape(-1, first.shape[-1]), y.reshape(-1)).backward()
        optimizer.step()
    return first, [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("model", ["mlp", "chargpt"])
def test_sp_and_mup_are_the_same_model_and_updates_at_the_base_width(model):
    """muP is SP re-parameterised so that the base width is unchanged: same outputs, same steps.
    For the GPT with its head size fixed, only with SP's attention scale 1/sqrt(d_head) (muP's 1/d_head
    is for a head size that grows with width): the 1/d_head model differs at the base width too."""
    from lrlab.config import RunConfig
    from lrlab.experiments.lr_vs_width import gpt_runs
    if model == "mlp":
        sp = RunConfig(model="mlp", width=64, base_width=64, init="lecun", optimizer="sgd", lr=0.05, augment="none")
        x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    else:
        sp = next(c for c in gpt_runs("smoke") if c.parameterization == "sp" and c.width == c.base_width)
        sp = sp.replace(lr=1e-2)
        x, y = torch.randint(0, 65, (4, sp.block_size)), torch.randint(0, 65, (4, sp.block_size))
    mup = next(c for c in gpt_runs("smoke") if c.parameterization == "mup").replace(
        width=sp.width, lr=sp.lr) if model == "chargpt" else sp.replace(parameterization="mup")
    out_sp, after_sp = _outputs_and_updates(sp, x, y)
    out_mup, after_mup = _outputs_and_updates(mup, x, y)
    assert torch.allclose(out_sp, out_mup, atol=1e-6)
    assert len(after_sp) == len(after_mup)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(after_sp, after_mup))
    if model == "chargpt":   # the confound the fidelity review found: 1/d_head cools every logit
        out_d, _ = _outputs_and_updates(mup.replace(attn_scale="1/d_head"), x, y, steps=0)
        assert not torch.allclose(out_sp, out_d, atol=1e-4)


def test_coord_check_sp_grows_with_width_mup_does_not():
    growth = {}
    for p in ("sp", "mup"):
        df = mlp_coord_check([256, 4096], p, lr=0.1, nsteps=3, nseeds=1)
        readout = df[(df.t == 3) & (df.module == "readout")].groupby("width").l1.mean()
        growth[p] = readout[4096] / readout[256]
    assert growth["sp"] > 3.0
    assert 0.5 < growth["mup"] < 1.5


def test_resnets_refuse_mup():
    with pytest.raises(LrlabError, match="mlp, chargpt"):
        build_model("resnet20", parameterization="mup")


@pytest.mark.parametrize("width", [256, 1024])
def test_mup_sgdw_decays_every_layer_by_the_same_lambda_at_every_width(width):
    """Appendix B.3: decoupled decay is width-independent under muP, though muSGD gives each layer its own
    rate; so Part 3's decay sweep means one lambda at every width. A zero gradient: only the decay moves."""
    from lrlab.experiments.lr_vs_width import mlp_decay_runs
    from lrlab.models import model_for
    from lrlab.optim import optimizer_for
    config = next(c for c in mlp_decay_runs("smoke") if c.weight_decay > 0).replace(width=width, base_width=128)
    model = model_for(config, 10)
    optimizer = optimizer_for(model, config)
    assert len({g["lr"] for g in optimizer.param_groups}) > 1   # muP's per-layer rates
    before = [p.detach().clone() for p in model.parameters()]
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for old, new in zip(before, model.parameters()):
        assert torch.allclose(new.detach(), old * (1 - config.weight_decay), rtol=1e-6, atol=1e-9)
