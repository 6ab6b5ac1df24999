"""K CIFAR ResNets of one shape as one network, their channels side by side.

Under vmap a stack's convolution is already one grouped convolution, but vmap's rule for BatchNorm
with stacked weights normalises with dummy ones and zeros and then applies each member's scale and
shift as separate passes over the activations, and their gradients as separate sums: per BatchNorm
layer, a multiply and an add forward, two multiplies and two sums backward, each over the whole
activation. Counted on 2 CPU threads, a step of 2 ResNet-20s (optimizer included) dispatched 568
operators that are not views under vmap (59 multiplies, 43 sums) and 395 side by side (a single run:
429, or 197 with torch's foreach SGD); forward, loss and backward of 16 ResNet-20s, 1,122 operators
against 482 (one run's forward and backward: 301). Here the activations stay (batch, K x channels,
H, W) from the first layer to the last:
- a convolution is one grouped convolution with K groups: member k's filters see only its channels;
- BatchNorm normalises per channel, so per member, with each member's own running statistics;
- the shortcut zero-pads each member's channels (not the stack's last ones);
- the readout is one batched matmul, (K, batch, 64) by each member's weights, giving (K, batch, classes).
Each layer reads the stack's (K, ...) tensors flattened (views), so gradients and BatchNorm's running
statistics land in them. `lrlab.stacked.Stack` uses this for every model it can (`applies`).
"""
import copy

import torch
import torch.nn.functional as F
from torch import nn

from lrlab.errors import LrlabError
from lrlab.models import BasicBlock, CifarResNet


class MemberConv2d(nn.Conv2d):
    def forward(self, x):
        members = self.weight.shape[0]
        return F.conv2d(x, self.weight.flatten(0, 1), None if self.bias is None else self.bias.flatten(),
                        self.stride, self.padding, self.dilation, members * self.groups)


class MemberBatchNorm2d(nn.BatchNorm2d):
    def forward(self, x):
        if self.training:   # as nn.BatchNorm2d counts (its momentum is set: the count only goes in checkpoints)
            self.num_batches_tracked.add_(1)
        return F.batch_norm(x, self.running_mean.flatten(), self.running_var.flatten(), self.weight.flatten(),
                            self.bias.flatten(), self.training, self.momentum, self.eps)


class MemberLinear(nn.Linear):
    def forward(self, x):   # (batch, K x features) -> (K, batch, out)
        members = self.weight.shape[0]
        x = x.unflatten(1, (members, -1)).transpose(0, 1)
        weight = self.weight.transpose(-1, -2)   # (K, in, out): how lrlab.stacked.Stack stores it
        if self.bias is None:
            return torch.bmm(x, weight)
        return torch.baddbmm(self.bias.unsqueeze(1), x, weight)


class MemberBasicBlock(BasicBlock):
    def shortcut(self, x):
        x = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if not self.pad:
            return x
        members = self.bn1.weight.shape[0]
        return F.pad(x.unflatten(1, (members, -1)), (0, 0, 0, 0, 0, self.pad)).flatten(1, 2)


# every module a side-by-side network may hold, and what it becomes (None: unchanged)
MEMBER_CLASSES = {nn.Conv2d: MemberConv2d, nn.BatchNorm2d: MemberBatchNorm2d, nn.Linear: MemberLinear,
                  BasicBlock: MemberBasicBlock, CifarResNet: None, nn.Sequential: None}


def applies(model):
    """Whether `model` trains side by side: a CIFAR ResNet made of the modules above only."""
    return isinstance(model, CifarResNet) and all(type(m) in MEMBER_CLASSES for m in model.modules())


def template(model):
    """A structure-only copy of `model` (on the meta device) whose layers read stacked tensors."""
    if not applies(model):
        raise LrlabError(f"{type(model).__name__} cannot train side by side; valid: a CIFAR ResNet")
    layout = copy.deepcopy(model).to("meta")
    for module in layout.modules():
        if isinstance(module, nn.BatchNorm2d) and module.momentum is None:
            raise LrlabError("a stacked ResNet needs a BatchNorm momentum (bn_momentum), not None")
        module.__class__ = MEMBER_CLASSES[type(module)] or type(module)
    return layout


def inputs(x, members, shared_input=False):
    """The network's input for K = `members`: x (K, batch, C, H, W), or one x (batch, C, H, W) that
    every member sees, as (batch, K x C, H, W)."""
    if shared_input:
        return x.repeat(1, members, 1, 1)
    return x.transpose(0, 1).flatten(1, 2)
