"""Data, in three jobs at three rhythms:

- `cifar10`: find, verify, decode and cache CIFAR-10 (once per machine); `paths`: where data lives
  and the sha256 that names it;
- `loader`: the device-resident loader every step draws its batch from;
- `shakespeare`: Tiny Shakespeare, the character GPT's corpus.

`from lrlab import data` keeps working: the names below are the package's face.
"""
from lrlab.data.cifar10 import (CIFAR10_CLASSES, CIFAR10_MEAN, CIFAR10_STD, HOW_TO_PROVIDE, KNOWN_ARCHIVE_SHA256,
                                Cifar10, find_cifar10, load_cifar10)
from lrlab.data.loader import AUGMENTATIONS, DeviceLoader, StackedEpoch, stratified_subset
from lrlab.data.paths import cache_dir, data_root, sha256_file
from lrlab.data.shakespeare import (TINY_SHAKESPEARE_SHA256, TINY_SHAKESPEARE_URL, CharCorpus, char_batch,
                                    char_starts, char_windows, load_tiny_shakespeare)

__all__ = ["AUGMENTATIONS", "CIFAR10_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "HOW_TO_PROVIDE", "KNOWN_ARCHIVE_SHA256",
           "TINY_SHAKESPEARE_SHA256", "TINY_SHAKESPEARE_URL", "CharCorpus", "Cifar10", "DeviceLoader", "StackedEpoch",
           "cache_dir", "char_batch", "char_starts", "char_windows", "data_root", "find_cifar10", "load_cifar10",
           "load_tiny_shakespeare", "sha256_file", "stratified_subset"]
