"""Data: CIFAR-10 (found locally, decoded once, cached) on the device, and Tiny Shakespeare.

CIFAR-10 can come from the official `cifar-10-batches-py` pickles, from an image-folder tree
`{train,test}/<class>/*.jpg`, or from a .tar.xz/.tar.gz of either. Whatever the source, it is
decoded once into uint8 arrays cached under `cache_dir()`, keyed by the sha256 of the source,
so a run record can say exactly which bytes it trained on.
"""

import copy
import hashlib
import io
import json
import math
import os
import pickle
import tarfile
import urllib.request
import warnings
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from lrlab.errors import LrlabError, check_choice, one_line
from lrlab.files import write_atomically

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
AUGMENTATIONS = ("none", "flip", "crop+flip")

KNOWN_ARCHIVE_SHA256 = {
    "cifar10-jpeg.tar.xz": "70f714633438b5801b2fd6c4e817fb9c1b165a182e2d313ca9df62c636f2d4fd",
    "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",  # official release
}
TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

BATCH_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
ARCHIVE_SUFFIXES = (".tar.xz", ".tar.gz", ".tgz")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_FORMAT = "cifar10-v1"  # bump when the decoded layout changes, so old caches are ignored
HOW_TO_PROVIDE = ("provide one of: a cifar-10-batches-py folder, an image-folder tree {train,test}/<class>/*.jpg, "
                  "or a .tar.xz/.tar.gz of one, in $LRLAB_DATA or --data; or run `lrlab data --download`")


# ----------------------------------------------------------------------------- where things live

def data_root(root=None):
    """Explicit argument > $LRLAB_DATA > ~/.cache/lrlab."""
    return Path(root or os.environ.get("LRLAB_DATA") or Path.home() / ".cache" / "lrlab").expanduser()


def cache_dir():
    """Decoded arrays live apart from the data root, which may be a read-only shared folder."""
    return Path(os.environ.get("LRLAB_CACHE") or Path.home() / ".cache" / "lrlab" / "decoded").expanduser()


def _check_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise LrlabError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _is_archive(path):
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _is_batches_folder(path):
    return (path / "data_batch_1").is_file()


def _is_image_tree(path):
    return (path / "train").is_dir() and (path / "test").is_dir()


def find_cifar10(root=None):
    """The CIFAR-10 source in data_root(root) (or root itself), or None. Folders win over archives."""
    base = data_root(root)
    if base.is_file() and not _is_archive(base):  # e.g. --data tinyshakespeare.txt: look beside it
        base = base.parent
    if _is_archive(base) or (base.is_dir() and (_is_batches_folder(base) or _is_image_tree(base))):
        return base
    if not base.is_dir():
        return None
    if _is_batches_folder(base / "cifar-10-batches-py"):
        return base / "cifar-10-batches-py"
    children = sorted(base.iterdir())
    for child in children:
        if child.is_dir() and _is_image_tree(child):
            return child
    return next((child for child in children if _is_archive(child)), None)


# ----------------------------------------------------------------------------- hashing

def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_image_member(parts):
    """`.../{train,test}/<class>/<name>.jpg`; hidden entries (macOS `._x.jpg`, `.ipynb_checkpoints`) are skipped."""
    return (len(parts) >= 3 and parts[-3] in ("train", "test") and not any(p.startswith(".") for p in parts[-2:])
            and parts[-1].lower().endswith(IMAGE_SUFFIXES))


def _folder_files(folder):
    """Sorted relative paths of the files that make up a folder source (only those are read and hashed)."""
    if _is_batches_folder(folder):
        missing = [name for name in BATCH_FILES if not (folder / name).is_file()]
        if missing:
            raise LrlabError(f"cifar-10-batches-py folder {folder} lacks {', '.join(missing)}; re-download it")
        return list(BATCH_FILES)
    files = []  # os.scandir, not Path.glob: 3x faster on 60k files, and this runs on every load
    for split in ("train", "test"):
        for class_dir in os.scandir(folder / split):
            if class_dir.is_dir():
                files += [f"{split}/{class_dir.name}/{entry.name}" for entry in os.scandir(class_dir)
                          if entry.is_file() and _is_image_member((split, class_dir.name, entry.name))]
    return sorted(files)


def _folder_sha256(folder, files):
    """sha256 over (relative path, size, bytes) of each file in sorted order. Slow for 60k files, hence the index."""
    stamp = hashlib.sha256()
    for rel in files:
        stat = os.stat(os.path.join(folder, rel))
        stamp.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    index_path, key = cache_dir() / "fingerprints.json", str(folder.resolve())
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError):
        index = {}
    if index.get(key, {}).get("stamp") == stamp.hexdigest():
        return index[key]["sha256"]
    digest = hashlib.sha256()
    for rel in files:
        data = (folder / rel).read_bytes()
        digest.update(f"{rel}\0{len(data)}\0".encode() + data)
    index[key] = {"stamp": stamp.hexdigest(), "sha256": digest.hexdigest()}
    write_atomically(index_path, lambda f: f.write(json.dumps(index, indent=1).encode()))
    return digest.hexdigest()


def _verified_archive_sha256(archive):
    """Hash an archive and check it against KNOWN_ARCHIVE_SHA256 and a `<name>.sha256` sidecar, if any."""
    actual = sha256_file(archive)
    expected = [KNOWN_ARCHIVE_SHA256[archive.name]] if archive.name in KNOWN_ARCHIVE_SHA256 else []
    sidecar = archive.with_name(archive.name + ".sha256")
    if sidecar.is_file():
        words = sidecar.read_text().split()  # `sha256sum` format: "<hex>  <name>", or just "<hex>"
        if not words or len(words[0]) != 64:
            raise LrlabError(f"cannot read a sha256 from {sidecar}; it should hold 64 hex digits; fix or remove it")
        expected.append(words[0].lower())
    for want in expected:
        if want != actual:
            raise LrlabError(f"checksum mismatch for {archive}: expected {want}, got {actual}; "
                             "re-download it or remove it")
    return actual


# ----------------------------------------------------------------------------- decoding

def _decode_batches(read, where):
    """Official python pickles: b"data" is (N, 3072) uint8 as R, G, B planes of 32x32, row-major."""
    arrays = {}
    for split, names in (("train", BATCH_FILES[:5]), ("test", BATCH_FILES[5:])):
        images, labels = [], []
        for name in names:
            try:  # the official files are Python 2 pickles, hence encoding="bytes"
                batch = pickle.loads(read(name), encoding="bytes")
                images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
                labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
            except Exception as e:
                raise LrlabError(f"cannot read CIFAR-10 batch {where}/{name}: {one_line(e)}; re-download it") from None
        arrays[f"{split}_images"] = np.ascontiguousarray(np.concatenate(images))
        arrays[f"{split}_labels"] = np.concatenate(labels)
    return arrays


def _decode_image_tree(members, where):
    """members: {relative path `[prefix/]split/class/name`: bytes or a zero-argument reader}."""
    by_split = {"train": [], "test": []}
    for rel in sorted(members):
        parts = PurePosixPath(rel).parts
        by_split[parts[-3]].append((parts[-2], rel))
    classes = {split: sorted({cls for cls, _ in items}) for split, items in by_split.items()}
    if not classes["train"] or classes["train"] != classes["test"]:
        raise LrlabError(f"image folder {where} needs the same non-empty set of class folders in train/ and test/; "
                         f"got train: {classes['train']}, test: {classes['test']}")
    class_index = {cls: i for i, cls in enumerate(classes["train"])}  # alphabetical == CIFAR-10's official order
    arrays = {}
    for split, items in by_split.items():
        items.sort(key=lambda item: (class_index[item[0]], item[1]))
        images = np.empty((len(items), 32, 32, 3), dtype=np.uint8)
        for i, (_, rel) in enumerate(items):
            data = members[rel] if isinstance(members[rel], bytes) else members[rel]()
            try:
                with Image.open(io.BytesIO(data)) as image:
                    pixels = np.asarray(image.convert("RGB"))
            except Exception as e:
                raise LrlabError(f"cannot decode image {where}/{rel}: {one_line(e)}; replace or remove it") from None
            if pixels.shape != (32, 32, 3):
                raise LrlabError(f"image {where}/{rel} is {pixels.shape[1]}x{pixels.shape[0]}; "
                                 "CIFAR-10 images must be 32x32: replace or remove it")
            images[i] = pixels
        arrays[f"{split}_images"] = images
        arrays[f"{split}_labels"] = np.array([class_index[cls] for cls, _ in items], dtype=np.int64)
    return arrays


def _decode_source(source):
    """Decode a folder or an archive (read in memory, never extracted) into the four uint8/int64 arrays."""
    if source.is_dir():
        if _is_batches_folder(source):
            return _decode_batches(lambda name: (source / name).read_bytes(), source)
        return _decode_image_tree({rel: (source / rel).read_bytes for rel in _folder_files(source)}, source)
    batches, images = {}, {}
    try:
        with tarfile.open(source, "r:*") as tar:
            for member in tar:  # one sequential pass: cheap even for a compressed stream
                parts = PurePosixPath(member.name).parts
                if member.isfile() and parts[-1] in BATCH_FILES:
                    batches[parts[-1]] = tar.extractfile(member).read()
                elif member.isfile() and _is_image_member(parts):
                    images[member.name] = tar.extractfile(member).read()
    except Exception as e:  # tarfile, lzma, zlib and EOF errors for a truncated or foreign file
        raise LrlabError(f"cannot read archive {source}: {one_line(e)}; re-download it or remove it") from None
    if "data_batch_1" in batches:
        missing = [name for name in BATCH_FILES if name not in batches]
        if missing:
            raise LrlabError(f"archive {source} lacks {', '.join(missing)}; re-download it")
        return _decode_batches(batches.__getitem__, source)
    if not images:
        raise LrlabError(f"archive {source} holds no cifar-10-batches-py and no image-folder tree; {HOW_TO_PROVIDE}")
    trees = sorted({str(PurePosixPath(*PurePosixPath(name).parts[:-3])) for name in images})
    if len(trees) > 1:
        raise LrlabError(f"archive {source} holds several image-folder trees ({', '.join(trees)}); keep only one")
    return _decode_image_tree(images, source)


def _read_cache(path):
    """The cached arrays, or None if missing or damaged (a truncated file is never trusted)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in ("train_images", "train_labels", "test_images", "test_labels")}
    except Exception:
        return None
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if (images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (32, 32, 3)
                or labels.dtype != np.int64 or labels.shape != (len(images),)):
            return None
    return arrays


@dataclass(frozen=True, eq=False)
class Cifar10:
    train_images: np.ndarray  # uint8 (N, 32, 32, 3), HWC
    train_labels: np.ndarray  # int64 (N,)
    test_images: np.ndarray   # uint8 (M, 32, 32, 3)
    test_labels: np.ndarray   # int64 (M,)
    source: str               # where it came from, for run records
    sha256: str               # of the archive bytes, or of a folder's (path, bytes) list


def load_cifar10(root=None, download=False):
    """Find (or download) CIFAR-10, decode it once, and return the cached uint8 arrays."""
    source = find_cifar10(root)
    if source is None and download:
        _download_cifar10(data_root(root))
        source = find_cifar10(root)
    if source is None:
        raise LrlabError(f"no CIFAR-10 found in {data_root(root)}; {HOW_TO_PROVIDE}")
    if source.is_dir():
        kind = "cifar-10-batches-py folder" if _is_batches_folder(source) else "image folder"
        sha256 = _folder_sha256(source, _folder_files(source))
    else:
        kind, sha256 = "archive", _verified_archive_sha256(source)
    cache_file = cache_dir() / f"{CACHE_FORMAT}-{sha256}.npz"
    arrays = _read_cache(cache_file)
    if arrays is None:
        arrays = _decode_source(source)
        try:
            write_atomically(cache_file, lambda f: np.savez(f, **arrays))
        except OSError as e:  # an unwritable cache costs time on the next call, not correctness
            warnings.warn(f"could not cache CIFAR-10 in {cache_file}: {one_line(e)}; point $LRLAB_CACHE elsewhere")
    # the name, not the local path: records are committed and compared across machines
    return Cifar10(**arrays, source=f"{kind} {source.name}", sha256=sha256)


def _download_cifar10(root):
    try:  # lazily: only the download path needs torchvision
        import torchvision
    except ImportError:
        raise LrlabError("downloading CIFAR-10 needs torchvision: pip install torchvision") from None

    try:
        torchvision.datasets.CIFAR10(root=str(root), train=True, download=True)  # -> root/cifar-10-batches-py
    except Exception as e:
        raise LrlabError(f"downloading CIFAR-10 into {root} failed: {one_line(e)}; {HOW_TO_PROVIDE}") from None


def stratified_subset(labels, per_class, seed):
    """Sorted indices of `per_class` examples of each class, drawn by a seeded numpy Generator."""
    labels = np.asarray(labels)
    per_class = _check_int("per_class", per_class)
    classes, counts = np.unique(labels, return_counts=True)
    if per_class > counts.min():
        raise LrlabError(f"per_class={per_class} is more than class {classes[counts.argmin()]} has ({counts.min()}); "
                         f"use at most {counts.min()}")
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == cls), size=per_class, replace=False) for cls in classes]
    return np.sort(np.concatenate(chosen))


# ----------------------------------------------------------------------------- on-device loader

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
        batch_size = _check_int("batch_size", batch_size)
        seed = _check_int("seed", seed, minimum=0)
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
        self.epoch = _check_int("epoch", epoch, minimum=0)

    def with_seed(self, seed):
        """A loader of the same arrays (shared, not copied) with another seed, at epoch 0."""
        twin = copy.copy(self)
        twin.seed, twin.epoch = _check_int("seed", seed, minimum=0), 0
        return twin

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        # All randomness of the epoch is drawn up front on the CPU: identical across devices and batch sizes.
        generator, n = _epoch_generator(self.seed, epoch), self.num_examples
        order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
        offsets = torch.randint(0, 9, (n, 2), generator=generator)  # crop corner in the 4-pixel zero padding
        flips = torch.rand(n, generator=generator) < 0.5
        device = self.images.device
        order, offsets, flips = order.to(device), offsets.to(device), flips.to(device)
        return (self._batch(order[i:i + self.batch_size], offsets[i:i + self.batch_size], flips[i:i + self.batch_size])
                for i in range(0, len(self) * self.batch_size, self.batch_size))

    def _batch(self, indices, offsets, flips):
        x = self.images[indices]
        if self.augment == "crop+flip":
            _, channels, height, width = x.shape
            padded = F.pad(x, (4, 4, 4, 4))
            rows = (offsets[:, 0, None] + torch.arange(height, device=x.device))[:, None, :, None]
            cols = (offsets[:, 1, None] + torch.arange(width, device=x.device))[:, None, None, :]
            batch = torch.arange(len(x), device=x.device)[:, None, None, None]
            x = padded[batch, torch.arange(channels, device=x.device)[None, :, None, None], rows, cols]
        if self.augment in ("flip", "crop+flip"):
            x = torch.where(flips[:, None, None, None], x.flip(3), x)
        x = (x.float() * self.scale - self.shift).to(self.dtype).contiguous(memory_format=self.memory_format)
        return x, self.labels[indices]


# ----------------------------------------------------------------------------- Tiny Shakespeare

@dataclass(frozen=True, eq=False)
class CharCorpus:
    text: str
    vocab: str            # sorted unique characters; a token id is an index into it
    train: torch.Tensor   # int64 token ids, first 90%
    val: torch.Tensor     # int64 token ids, last 10%
    source: str
    sha256: str

    @cached_property
    def _index(self):
        return {char: i for i, char in enumerate(self.vocab)}

    def encode(self, s):
        unknown = sorted(set(s) - set(self.vocab))
        if unknown:
            raise LrlabError(f"characters {''.join(unknown)!r} are not in the {len(self.vocab)}-character vocabulary")
        return [self._index[char] for char in s]

    def decode(self, ids):
        return "".join(self.vocab[int(i)] for i in ids)


def load_tiny_shakespeare(root=None, download=False):
    """Tiny Shakespeare from `tinyshakespeare.txt` or `input.txt` in data_root(root) (or root is the file)."""
    base = data_root(root)
    if base.is_file() and base.suffix != ".txt":  # e.g. --data cifar10-jpeg.tar.xz: look beside it
        base = base.parent
    candidates = [base] if base.is_file() else [base / "tinyshakespeare.txt", base / "input.txt"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None and download:
        path = base / "tinyshakespeare.txt"
        try:
            with urllib.request.urlopen(TINY_SHAKESPEARE_URL, timeout=60) as response:
                data = response.read()
            if hashlib.sha256(data).hexdigest() != TINY_SHAKESPEARE_SHA256:
                raise OSError(f"checksum mismatch for {TINY_SHAKESPEARE_URL}")
            write_atomically(path, lambda f: f.write(data))
        except OSError as e:
            raise LrlabError(f"downloading Tiny Shakespeare to {path} failed: {one_line(e)}; "
                             f"put a copy there yourself") from None
    if path is None:
        raise LrlabError(f"no Tiny Shakespeare found in {base}; provide tinyshakespeare.txt or input.txt there "
                         f"(via $LRLAB_DATA or --data), or run `lrlab data --download`")
    data = path.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    if path.name == "tinyshakespeare.txt" and sha256 != TINY_SHAKESPEARE_SHA256:
        raise LrlabError(f"checksum mismatch for {path}: expected {TINY_SHAKESPEARE_SHA256}, got {sha256}; "
                         f"re-download it or remove it")
    text = data.decode("utf-8")
    vocab = "".join(sorted(set(text)))
    index = {char: i for i, char in enumerate(vocab)}
    ids = torch.tensor([index[char] for char in text], dtype=torch.int64)
    split = int(0.9 * len(ids))
    return CharCorpus(text=text, vocab=vocab, train=ids[:split], val=ids[split:], source=path.name, sha256=sha256)


def char_batch(data, block_size, batch_size, generator, device="cpu"):
    """`batch_size` random windows of `block_size` tokens: x (B, T) int64 and y, the same windows shifted by one."""
    block_size = _check_int("block_size", block_size)
    batch_size = _check_int("batch_size", batch_size)
    if len(data) <= block_size:
        raise LrlabError(f"block_size={block_size} needs more than {block_size} tokens, the data has {len(data)}")
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator, device=generator.device)
    windows = data[(starts[:, None] + torch.arange(block_size + 1, device=starts.device)).to(data.device)]
    windows = windows.to(device=device, dtype=torch.int64)
    return windows[:, :-1], windows[:, 1:]
