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
    assert model.blocks[0].attn.attn_scale == pytest.approx(1 / 32)   # 1/d, not 1/sqrt(d)


def test_sp_and_mup_coincide_at_the_base_width():
    torch.manual_seed(0)
    sp = build_model("mlp", width=128, parameterization="sp", init="lecun")
    torch.manual_seed(0)
    mup = build_model("mlp", width=128, parameterization="mup", base_width=128, init="lecun")
    x = torch.randn(4, 3, 32, 32)
    assert torch.allclose(sp(x), mup(x), atol=1e-6)


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
