"""The hot path: a split's images live on the device as uint8, and each epoch is a seeded permutation
with augmentation done in batch on the device (airbench's loader, in spirit)."""
import copy
import math

import numpy as np
import torch
import torch.nn.functional as F

from lrlab.data.cifar10 import CIFAR10_MEAN, CIFAR10_STD
from lrlab.errors import LrlabError, check_choice, check_int
from lrlab.names import AUGMENTATIONS

CROP_PAD = 4   # crop-and-flip: a random 32x32 crop of the image zero-padded by this many pixels a side (He et al.)


def stratified_subset(labels, per_class, seed):
    """Sorted indices of `per_class` examples of each class, drawn by a seeded numpy Generator."""
    labels = np.asarray(labels)
    per_class = check_int("per_class", per_class)
    classes, counts = np.unique(labels, return_counts=True)
    if per_class > counts.min():
        raise LrlabError(f"per_class={per_class} is more than class {classes[counts.argmin()]} has ({counts.min()}); "
                         f"use at most {counts.min()}")
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == cls), size=per_class, replace=False) for cls in classes]
    return np.sort(np.concatenate(chosen))


def _epoch_generator(seed, epoch):
    """A CPU generator that depends only on (seed, epoch): collision-free, unlike seed * K + epoch."""
    high, low = np.random.SeedSequence([seed, epoch]).generate_state(2)
    return torch.Generator().manual_seed((int(high) << 32 | int(low)) & (2**63 - 1))


class DeviceLoader:
    """The whole split lives on the device as uint8; each epoch: a seeded permutation, augmentation in batch on the
    device, normalisation. No DataLoader, no workers: for 32x32 images the copy per batch would cost more than the step.
    Each `iter(loader)` consumes one epoch, so `for epoch in range(E): for x, y in loader:` just works."""

    def __init__(self, images, labels, batch_size, device="cpu", augment="none", shuffle=True, drop_last=False,
                 seed=0, mean=CIFAR10_MEAN, std=CIFAR10_STD, channels_last=False, dtype=torch.float32):
        self.augment = check_choice("augmentation", augment, AUGMENTATIONS)
        batch_size = check_int("batch_size", batch_size)
        seed = check_int("seed", seed, minimum=0)
        images, labels = torch.as_tensor(images), torch.as_tensor(labels)
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[3] != 3:
            raise LrlabError(f"images must be uint8 (N, H, W, 3), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (len(images),):
            raise LrlabError(f"labels must have shape ({len(images)},) to match the images, got {tuple(labels.shape)}")
        # NHWC in memory viewed as NCHW is exactly channels_last; otherwise make it plain NCHW once.
        self.images = images.to(device).permute(0, 3, 1, 2)
        self.images = self.images if channels_last else self.images.contiguous()
        self.labels = labels.to(device=device, dtype=torch.int64)
        self.batch_size, self.shuffle, self.drop_last, self.seed = batch_size, shuffle, drop_last, seed
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.dtype, self.epoch = dtype, 0
        # (x / 255 - mean) / std == x * scale - shift, computed in float32 whatever the output dtype
        std = torch.tensor(std, dtype=torch.float32, device=self.images.device).view(1, 3, 1, 1)
        self.scale = 1.0 / (255.0 * std)
        self.shift = torch.tensor(mean, dtype=torch.float32, device=self.images.device).view(1, 3, 1, 1) / std

    @property
    def num_examples(self):
        return len(self.labels)

    def __len__(self):
        round_ = math.floor if self.drop_last else math.ceil
        return round_(self.num_examples / self.batch_size)

    def set_epoch(self, epoch):
        self.epoch = check_int("epoch", epoch, minimum=0)

    def with_seed(self, seed):
        """A loader of the same arrays (shared, not copied) with another seed, at epoch 0."""
        twin = copy.copy(self)
        twin.seed, twin.epoch = check_int("seed", seed, minimum=0), 0
        return twin

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        order, offsets, flips = self.draws(epoch)
        return (self.batch(order[i:i + self.batch_size], offsets[i:i + self.batch_size], flips[i:i + self.batch_size])
                for i in range(0, len(self) * self.batch_size, self.batch_size))

    def draws(self, epoch):
        """The epoch's randomness, on the device: the example order, each example's crop corner (n, 2)
        and flip (n,). Drawn up front on the CPU from (seed, epoch) alone: identical across devices and
        batch sizes."""
        generator, n = _epoch_generator(self.seed, epoch), self.num_examples
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        offsets = torch.randint(0, 2 * CROP_PAD + 1, (n, 2), generator=generator)  # crop corner in the padding
        flips = torch.rand(n, generator=generator) < 0.5
        device = self.images.device
        return order.to(device), offsets.to(device), flips.to(device)

    def batch(self, indices, offsets, flips):
        """The examples at `indices`, cropped at `offsets` and flipped where `flips`, normalised: (x, y).
        Each example's pixels depend on its own index, offset and flip only, so any number of batches
        (a stack's, one per run) go through here as one."""
        x = self.images[indices]
        if self.augment == "crop+flip":
            # the crop's rows, then its columns, read right to left where flipped: two gathers, which on
            # the CPU take half the time of one four-index gather followed by a flip (same pixels)
            n, channels, height, width = x.shape
            padded = F.pad(x, (CROP_PAD,) * 4)
            j = torch.arange(width, device=x.device)
            rows = offsets[:, 0, None] + torch.arange(height, device=x.device)
            cols = offsets[:, 1, None] + torch.where(flips[:, None], width - 1 - j, j)
            x = padded.gather(2, rows[:, None, :, None].expand(n, channels, height, padded.shape[3]))
            x = x.gather(3, cols[:, None, None, :].expand(n, channels, height, width))
        elif self.augment == "flip":
            x = torch.where(flips[:, None, None, None], x.flip(3), x)
        x = (x.float() * self.scale - self.shift).to(self.dtype).contiguous(memory_format=self.memory_format)
        return x, self.labels[indices]


class StackedEpoch:
    """One epoch (pass) of K train loaders that share their arrays (`with_seed` twins: one per run of a
    stack) stepped as one: each member draws its own order, crops and flips, exactly as its own loader
    would, and each step's K batches are gathered and augmented together, (K, B, ...), in the kernels
    one batch takes (K loaders stepped one by one launch K times as many, which on a GPU is most of a
    small stack's step)."""

    def __init__(self, loaders, epoch):
        first = loaders[0]
        if any(loader.images is not first.images or loader.batch_size != first.batch_size
               or loader.augment != first.augment for loader in loaders):
            raise LrlabError("the loaders of one stack must share their images, batch size and augmentation")
        self.loader, self.members = first, len(loaders)
        self.order, self.offsets, self.flips = (torch.stack(d) for d in zip(*(loader.draws(epoch) for loader in loaders)))

    def __len__(self):
        return len(self.loader)

    def batch(self, i, rows=None):
        """Batch `i` of the members at `rows` (positions among the loaders; all of them if None): x (K, B, ...), y (K, B)."""
        size = self.loader.batch_size
        span = slice(i * size, (i + 1) * size)
        order, offsets, flips = (d[:, span] if rows is None else d[rows, span]
                                 for d in (self.order, self.offsets, self.flips))
        x, y = self.loader.batch(order.reshape(-1), offsets.reshape(-1, 2), flips.reshape(-1))
        return x.unflatten(0, order.shape), y.unflatten(0, order.shape)

