"""A stack of ResNets with their channels side by side (lrlab.side_by_side) is each member's own network.

Whole training runs stacked are compared with their single runs in tests/test_stacked.py; here, one
forward and backward of members that differ: logits, every gradient, and BatchNorm's running statistics
and step count, through ResNet-8's two stride-2 shortcuts, which pad each member's channels on their own."""
import pytest
import torch
import torch.nn.functional as F

from lrlab import side_by_side
from lrlab.errors import LrlabError
from lrlab.models import MLP, CifarResNet
from lrlab.stacked import Stack


@pytest.fixture
def members(float64):
    torch.manual_seed(0)
    models = [CifarResNet(8, zero_init_residual=k == 1, bn_momentum=0.05) for k in range(3)]
    with torch.no_grad():   # members that differ: each BatchNorm with its own affine weights and statistics
        for k, model in enumerate(models):
            for module in model.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.weight.uniform_(0.5, 1.5), module.bias.uniform_(-0.5, 0.5)
                    module.running_mean.fill_(0.1 * k)
    return models


def test_one_step_of_each_member_is_its_own_networks(members):
    x, y = torch.randn(3, 6, 3, 32, 32), torch.randint(0, 10, (3, 6))
    stack = Stack(members)   # a copy: the members' own tensors stay theirs
    assert stack.side_by_side
    logits = stack.forward(x)
    F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").backward()
    for k, model in enumerate(members):
        mine = model(x[k])
        F.cross_entropy(mine, y[k], reduction="sum").backward()
        assert torch.allclose(logits[k], mine, rtol=1e-10, atol=1e-12)
        for name, p in model.named_parameters():
            grad = stack.params[name].grad[k]
            grad = grad.t() if name in stack.transposed else grad
            assert torch.allclose(grad, p.grad, rtol=1e-9, atol=1e-12), name
        saved = stack.member_state_dict(k)
        assert saved.keys() == model.state_dict().keys()
        for name, value in model.state_dict().items():   # running statistics, and num_batches_tracked = 1
            assert torch.equal(saved[name], value) or torch.allclose(saved[name], value, rtol=1e-12), name


def test_evaluation_of_some_members_on_the_shared_test_set(members):
    x = torch.randn(5, 3, 32, 32)
    stack = Stack(members)
    stack.train(False)
    for model in members:
        model.train(False)
    logits = stack.forward(x, shared_input=True, index=[2, 0])
    assert logits.shape == (2, 5, 10)
    assert torch.allclose(logits[0], members[2](x), rtol=1e-10, atol=1e-12)
    assert torch.allclose(logits[1], members[0](x), rtol=1e-10, atol=1e-12)


def test_what_cannot_train_side_by_side_is_named_in_one_line():
    mlp = MLP(16)
    assert not side_by_side.applies(mlp) and not Stack([mlp, MLP(16)]).side_by_side   # the MLP stays on vmap
    with pytest.raises(LrlabError, match="MLP cannot train side by side; valid: a CIFAR ResNet"):
        side_by_side.template(mlp)
    cumulative = CifarResNet(8, bn_momentum=None)
    with pytest.raises(LrlabError, match="needs a BatchNorm momentum"):
        side_by_side.template(cumulative)


def test_a_resnet_stack_row_from_before_side_by_side_is_measured_again():
    from lrlab.stacking import SIDE_BY_SIDE_SINCE, measures_todays_stacks
    before, after = "2026-11-29T00:00:00Z", "2026-11-29T12:00:00Z"
    assert before < SIDE_BY_SIDE_SINCE < after
    assert not measures_todays_stacks("resnet20", before) and not measures_todays_stacks("resnet8", before, gpu=True)
    assert measures_todays_stacks("mlp-256", before) and measures_todays_stacks("resnet20", after)
