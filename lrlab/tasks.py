"""What a run trains on: a task turns decoded data into the batches one training loop steps through.

Both tasks give `train_batches(epoch)`, `steps_in(epoch)`, `test_batches()`, `noise_batches(count, first)`,
`num_classes`, `steps_per_epoch` and `examples_per_batch`: the loop needs nothing else to know
whether it trains on images or characters. `lrlab.bench`'s classic DataLoader recipe has the same shape.
"""
import copy
import math

import numpy as np
import torch

from lrlab.config import batches_per_step
from lrlab.data import (DeviceLoader, StackedEpoch, char_batch, char_starts, char_windows, load_cifar10,
                        load_tiny_shakespeare, stratified_subset)
from lrlab.errors import LrlabError

EVAL_BATCH = 1000
FAR_APART = 1_000_003       # a prime stride: derived seeds and extra passes never meet a real seed or epoch
NOISE_SEED = 7_777_777      # the noise measurement's own batches: it never moves the training stream


def build_task(config, data, device, channels_last=None):
    """The task of `config` on `data` (what `load_task_data` returned for it)."""
    if config.task == "cifar10":
        return CifarTask(config, data, device, channels_last)
    return CharTask(config, data, device)


def load_task_data(config, data_root=None):
    """The decoded data a config needs: Cifar10 or CharCorpus (decoded once, cached)."""
    if config.task == "cifar10":
        return load_cifar10(data_root)
    return load_tiny_shakespeare(data_root)


def _classes_only(images, labels, classes):
    """The images of `classes` only, their labels renumbered by position in `classes`."""
    labels = np.asarray(labels)
    keep = np.isin(labels, classes)
    relabel = np.full(int(labels.max()) + 1, -1, dtype=labels.dtype)
    relabel[classes] = np.arange(len(classes))
    return images[keep], relabel[labels[keep]]


class CifarTask:
    """CIFAR-10 batches from device-resident uint8 arrays, optionally a stratified subset."""

    def __init__(self, config, cifar, device, channels_last=None):
        self.config = config
        train_x, train_y, test_x, test_y = cifar.train_images, cifar.train_labels, cifar.test_images, cifar.test_labels
        if config.classes:   # a transfer task: the classes kept, relabelled 0, 1, ... in the order given
            (train_x, train_y), (test_x, test_y) = (_classes_only(x, y, config.classes)
                                                    for x, y in ((train_x, train_y), (test_x, test_y)))
        # subsets are drawn with a fixed seed so that the seeds of a headline number share the data
        if config.train_per_class:
            idx = stratified_subset(train_y, config.train_per_class, seed=0)
            train_x, train_y = train_x[idx], train_y[idx]
        if config.test_per_class:
            idx = stratified_subset(test_y, config.test_per_class, seed=0)
            test_x, test_y = test_x[idx], test_y[idx]
        if channels_last is None:   # pays off for convolutions on CUDA, nowhere else
            channels_last = device.type == "cuda" and config.model.startswith("resnet")
        self.channels_last = channels_last
        if len(train_y) < config.batch_size:   # drop_last would leave no step at all
            raise LrlabError(f"batch_size {config.batch_size} is larger than the {len(train_y)} training images; "
                             f"use batch_size <= {len(train_y)} or a larger train_per_class")
        dtype = torch.get_default_dtype()   # float32, or float64 where the exactness tests ask for it
        self.train = DeviceLoader(train_x, train_y, config.batch_size, device, config.augment,
                                         shuffle=True, drop_last=True, seed=config.seed,
                                         channels_last=channels_last, dtype=dtype)
        if config.noise_scale_every:   # small batches of the size the model trains on (its BN batch)
            self.noise = DeviceLoader(train_x, train_y, config.micro_batch or config.batch_size, device,
                                             config.augment, shuffle=True, drop_last=True,
                                             seed=config.seed + NOISE_SEED, channels_last=channels_last,
                                             dtype=dtype)
        self.test = DeviceLoader(test_x, test_y, EVAL_BATCH, device, "none", shuffle=False,
                                        channels_last=channels_last, dtype=dtype)
        self.num_classes = int(max(train_y.max(), test_y.max())) + 1
        self.examples_per_batch = config.batch_size
        self.steps_per_epoch = config.steps_per_epoch or len(self.train)

    def for_seed(self, seed):
        """The same task with another seed's data order and augmentation, sharing the device arrays
        (a stack of K runs holds the data once, not K times)."""
        twin = copy.copy(self)
        twin.train = self.train.with_seed(seed)
        return twin

    def steps_in(self, epoch):
        """Optimizer steps in `epoch`: fewer once the batch grows (the last step takes what is left)."""
        return math.ceil(self.steps_per_epoch / batches_per_step(self.config, epoch))

    def train_batches(self, epoch):
        """The epoch's batches, one per optimizer step; where the batch has grown (`batch_growth`), each
        joins that many consecutive batches of batch_size, so the data order stays the same."""
        per_step = batches_per_step(self.config, epoch)
        if per_step == 1:
            yield from self._batches(epoch)
            return
        group = []
        for batch in self._batches(epoch):
            group.append(batch)
            if len(group) == per_step:
                yield torch.cat([x for x, _ in group]), torch.cat([y for _, y in group])
                group = []
        if group:
            yield torch.cat([x for x, _ in group]), torch.cat([y for _, y in group])

    def _batches(self, epoch):
        """steps_per_epoch batches; when that is more than one pass, further passes reshuffle
        (pass 0 is the plain epoch, so runs of one pass or less are unchanged)."""
        produced, passes = 0, 0
        while produced < self.steps_per_epoch:
            self.train.set_epoch(epoch + passes * FAR_APART)
            for x, y in self.train:
                if produced == self.steps_per_epoch:
                    return
                produced += 1
                yield x, y
            passes += 1

    def stacked_batches(self, twins, epoch):
        """`train_batches` of several runs at once (`twins`: this task's `for_seed` twins, one per member
        of a stack, in stack order), as a function of the members still training (their positions
        among `twins`, ascending) that returns the next step's x (K, B, ...) and y (K, B): each member's
        batches are exactly its own `train_batches`'. Not for a growing batch (such runs train alone)."""
        if batches_per_step(self.config, epoch) != 1:
            raise LrlabError("a run whose batch grows trains alone; it has no stacked batches")
        per_pass, produced, current = len(self.train), 0, None

        def next_batch(members):
            nonlocal produced, current
            passes, i = divmod(produced, per_pass)
            if i == 0:   # a further pass reshuffles, as _batches does
                current = StackedEpoch([t.train for t in twins], epoch + passes * FAR_APART)
            produced += 1
            rows = None if len(members) == len(twins) else torch.as_tensor(members, device=current.order.device)
            return current.batch(i, rows)
        return next_batch

    def test_batches(self):
        self.test.set_epoch(0)
        return iter(self.test)

    def noise_batches(self, count, first):
        """`count` independent small batches: the first batch of `count` freshly shuffled epochs."""
        for j in range(count):
            self.noise.set_epoch(first + j)
            yield next(iter(self.noise))


class CharTask:
    """Random windows of Tiny Shakespeare; an 'epoch' is steps_per_epoch steps."""

    def __init__(self, config, corpus, device):
        self.config, self.corpus, self.device = config, corpus, device
        self.num_classes = len(corpus.vocab)
        tokens_per_step = self.examples_per_batch = config.batch_size * config.block_size   # a token is an example
        self.steps_per_epoch = config.steps_per_epoch or max(1, len(corpus.train) // tokens_per_step)

    def steps_in(self, epoch):
        return self.steps_per_epoch

    def _train_generator(self, epoch):
        return torch.Generator().manual_seed(self.config.seed * FAR_APART + epoch)

    def train_batches(self, epoch):
        gen = self._train_generator(epoch)
        for _ in range(self.steps_per_epoch):
            yield char_batch(self.corpus.train, self.config.block_size, self.config.batch_size, gen, self.device)

    def stacked_batches(self, twins, epoch):
        """As CifarTask.stacked_batches: each member's windows drawn from its own generator, as its
        `train_batches` draws them, and gathered for all the members in one go."""
        generators = [t._train_generator(epoch) for t in twins]
        block, size = self.config.block_size, self.config.batch_size

        def next_batch(members):
            starts = torch.stack([char_starts(self.corpus.train, block, size, generators[m]) for m in members])
            return char_windows(self.corpus.train, starts, block, self.device)
        return next_batch

    def noise_batches(self, count, first):
        gen = torch.Generator().manual_seed(self.config.seed + NOISE_SEED + first)
        size = self.config.micro_batch or self.config.batch_size
        for _ in range(count):
            yield char_batch(self.corpus.train, self.config.block_size, size, gen, self.device)

    def test_batches(self, n_batches=20):
        gen = torch.Generator().manual_seed(12345)   # the same validation windows for every run
        for _ in range(n_batches):
            yield char_batch(self.corpus.val, self.config.block_size, self.config.batch_size, gen, self.device)
