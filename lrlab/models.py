"""The book's models: CIFAR ResNets (He et al. 2016), a 2-hidden-layer MLP, a character GPT."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from lrlab.errors import LrlabError, check_choice, check_positive
from lrlab.names import ATTN_SCALES, MODELS, PARAMETERIZATIONS

RESNET_DEPTHS = {"resnet8": 8, "resnet20": 20, "resnet32": 32, "resnet56": 56}


# ---------------------------------------------------------------- CIFAR ResNet
class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride, bn_momentum):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out, momentum=bn_momentum)
        # He et al.'s CIFAR option A: a parameter-free shortcut (subsample, zero-pad channels)
        self.pad = c_out - c_in
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))

    def shortcut(self, x):
        x = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        return F.pad(x, (0, 0, 0, 0, 0, self.pad)) if self.pad else x


RESNET_LAYER_GROUPS = ("the stem with the first stage", "the second stage", "the third stage", "the head")


class CifarResNet(nn.Module):
    """ResNet-(6n+2) for 32x32 inputs: three stages of n blocks, 16/32/64 channels."""

    def __init__(self, depth=20, num_classes=10, zero_init_residual=False, bn_momentum=0.1):
        super().__init__()
        if (depth - 2) % 6:
            raise LrlabError(f"CIFAR ResNet depth must be 6n+2 (8, 20, 32, 56, ...), got {depth}")
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16, momentum=bn_momentum)
        blocks, c_in = [], 16
        for stage, c_out in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(c_in, c_out, stride, bn_momentum))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:  # Goyal et al.: each block starts as the identity
            for block in blocks:
                nn.init.zeros_(block.bn2.weight)

    def layer_groups(self):
        """The network's depth in groups, bottom to top, as RESNET_LAYER_GROUPS names them (ULMFiT's
        discriminative rates step between such groups)."""
        n = len(self.blocks) // 3
        stages = [list(self.blocks[i * n:(i + 1) * n]) for i in range(3)]
        return [[self.conv, self.bn, *stages[0]], stages[1], stages[2], [self.fc]]

    def forward(self, x):                         # (B, 3, 32, 32)
        x = F.relu(self.bn(self.conv(x)))
        x = self.blocks(x)                        # (B, 64, 8, 8)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)                         # (B, classes)


# ---------------------------------------------------------------- MLP
class MLP(nn.Module):
    """f(x) = W3 relu(W2 relu(W1 x)): the muP paper's Fig. 3 network (Yang et al. 2022)."""

    def __init__(self, width, d_in=3 * 32 * 32, num_classes=10, bias=False, init="default", mup=False):
        super().__init__()
        self.fc1 = nn.Linear(d_in, width, bias=bias)
        self.fc2 = nn.Linear(width, width, bias=bias)
        self.readout = _readout(width, num_classes, bias, mup)
        if init == "lecun":   # the paper's SP: W ~ N(0, 1/fan_in); muP then rescales the readout
            for layer in (self.fc1, self.fc2, self.readout):
                nn.init.normal_(layer.weight, std=layer.in_features ** -0.5)

    def forward(self, x):
        x = x.flatten(1)
        return self.readout(F.relu(self.fc2(F.relu(self.fc1(x)))))


# ---------------------------------------------------------------- character GPT
def causal_attention(q, k, v, scale=None):
    """Causal self-attention with torch's fused kernel; q, k, v: (B, heads, T, head size)."""
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)


class CausalSelfAttention(nn.Module):
    # A stack (lrlab.stacked) swaps in an operator that computes the same under vmap
    attend = staticmethod(causal_attention)

    def __init__(self, width, n_head, attn_scale):
        super().__init__()
        self.n_head, self.attn_scale = n_head, attn_scale
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.proj = nn.Linear(width, width, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))  # (B, nh, T, hs)
        y = self.attend(q, k, v, self.attn_scale)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, width, n_head, attn_scale):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, n_head, attn_scale)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width, bias=False), nn.GELU(),
                                 nn.Linear(4 * width, width, bias=False))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


GPT_HEAD_SIZE = 32   # the character GPT's head size: the width sets the number of heads
GPT2_INIT_STD = 0.02   # GPT-2's initial weights' standard deviation, which the character GPT has at its base width


class CharGPT(nn.Module):
    """A small GPT over characters; head size 32 at every width, so width sets n_head.

    Init: GPT-2's std 0.02 at the base width, with variance 1/fan_in as the width changes. muP uses
    `mup.MuReadout`. `attn_scale` ("1/sqrt(d_head)" or "1/d_head"; None: the parameterization's own,
    SP 1/sqrt(d_head), muP 1/d_head as the paper writes it for a head size that grows with width).
    With 1/sqrt(d_head) under both, SP and muP are the same model at the base width.
    """

    def __init__(self, vocab_size, width=128, depth=4, block_size=128, head_size=GPT_HEAD_SIZE, mup=False,
                 base_width=128, attn_scale=None):
        super().__init__()
        if width % head_size:
            raise LrlabError(f"GPT width must be a multiple of {head_size}, got {width}")
        rule = check_choice("attn_scale", attn_scale or ("1/d_head" if mup else "1/sqrt(d_head)"), ATTN_SCALES)
        logit_scale = 1.0 / head_size if rule == "1/d_head" else None   # None: torch's 1/sqrt(head_size)
        self.tok = nn.Embedding(vocab_size, width)
        self.pos = nn.Embedding(block_size, width)
        self.blocks = nn.Sequential(*[Block(width, width // head_size, logit_scale) for _ in range(depth)])
        self.ln_f = nn.LayerNorm(width)
        self.readout = _readout(width, vocab_size, False, mup)
        for name, p in self.named_parameters():
            if p.dim() != 2:
                continue
            fan_in = p.shape[0] if name in ("tok.weight", "pos.weight") else p.shape[1]
            std = GPT2_INIT_STD * (1.0 if name in ("tok.weight", "pos.weight") else math.sqrt(base_width / fan_in))
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):  # GPT-2: scale residual outputs
                std /= math.sqrt(2 * depth)
            nn.init.normal_(p, std=std)

    def forward(self, idx):                       # (B, T) int64
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok(idx) + self.pos(pos)
        return self.readout(self.ln_f(self.blocks(x)))   # (B, T, vocab)


def _readout(width, n_out, bias, mup):
    if mup:   # output * 1/width_mult, and rescaled by set_base_shapes: muP's readout
        from mup import MuReadout
        return MuReadout(width, n_out, bias=bias)
    return nn.Linear(width, n_out, bias=bias)


def build_model(name, num_classes=10, width=None, depth=None, zero_init_residual=False,
                bn_momentum=0.1, block_size=128, parameterization="sp", base_width=128, init="default",
                attn_scale=None):
    """One place that turns a config's model fields into a module (muP through the `mup` package)."""
    check_choice("model", name, MODELS)
    check_choice("parameterization", parameterization, PARAMETERIZATIONS)
    if name in RESNET_DEPTHS:
        if parameterization != "sp":
            raise LrlabError(f"model {name!r} supports parameterization 'sp' only; muP: mlp, chargpt")
        return CifarResNet(RESNET_DEPTHS[name], num_classes, zero_init_residual, bn_momentum)
    check_positive("width", width)
    mup = parameterization == "mup"

    def make(w):
        if name == "mlp":
            return MLP(w, num_classes=num_classes, init=init, mup=mup)
        return CharGPT(num_classes, w, depth or 4, block_size, mup=mup, base_width=base_width, attn_scale=attn_scale)
    model = make(width)
    if mup:   # base and delta models tell `mup` which dimensions grow with width
        from mup import set_base_shapes
        set_base_shapes(model, make(base_width), delta=make(2 * base_width))
    return model


def model_for(config, num_classes):
    """The model a run config declares (its weights drawn from torch's current RNG state)."""
    return build_model(config.model, num_classes, config.width, config.depth, config.zero_init_residual,
                       config.bn_momentum, config.block_size, config.parameterization, config.base_width, config.init,
                       config.attn_scale)
