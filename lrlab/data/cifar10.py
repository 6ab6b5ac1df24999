"""CIFAR-10: found locally, verified, decoded once and cached (runs once per machine).

CIFAR-10 can come from the official `cifar-10-batches-py` pickles, from an image-folder tree
`{train,test}/<class>/*.jpg`, or from a .tar.xz/.tar.gz of either. Whatever the source, it is
decoded once into uint8 arrays cached under `cache_dir()`, keyed by the sha256 of the source,
so a run record can say exactly which bytes it trained on.
"""
import hashlib
import io
import json
import os
import pickle
import re
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
from PIL import Image

from lrlab.data.paths import LOOKUP_ORDER, cache_dir, data_root, sha256_file
from lrlab.errors import LrlabError, one_line
from lrlab.files import write_atomically

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

KNOWN_ARCHIVE_SHA256 = {
    "cifar10-jpeg.tar.xz": "70f714633438b5801b2fd6c4e817fb9c1b165a182e2d313ca9df62c636f2d4fd",
    "cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",  # official release
}
BATCH_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
ARCHIVE_SUFFIXES = (".tar.xz", ".tar.gz", ".tgz")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
CACHE_FORMAT = "cifar10-v1"  # bump when the decoded layout changes, so old caches are ignored
HOW_TO_PROVIDE = ("provide one of: a cifar-10-batches-py folder, an image-folder tree {train,test}/<class>/*.jpg, "
                  "or a .tar.xz/.tar.gz of one, in $LRLAB_DATA or --data; or run `lrlab data --download`")


# ----------------------------------------------------------------------------- finding a source

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
                if labels[-1].size and not 0 <= labels[-1].min() <= labels[-1].max() < len(CIFAR10_CLASSES):
                    raise ValueError(f"labels outside 0..{len(CIFAR10_CLASSES) - 1}: not CIFAR-10's ten classes")
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
    if classes["train"] != sorted(CIFAR10_CLASSES):   # another data set must not pass as CIFAR-10 (ids ignore data)
        raise LrlabError(f"image folder {where} has class folders {', '.join(classes['train'])}; CIFAR-10 needs "
                         f"exactly its ten: {', '.join(CIFAR10_CLASSES)}")
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
            except Exception as e:   # PIL names the bytes object by its address: no use to a reader
                why = re.sub(r"<[^<>]* at 0x[0-9a-fA-F]+>", "it", one_line(e))
                raise LrlabError(f"cannot decode image {where}/{rel}: {why}; replace or remove it") from None
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
        looked = f"in {data_root(root)}" if root or os.environ.get("LRLAB_DATA") else \
            f"in {data_root(root)} (looked in order: {'; '.join(LOOKUP_ORDER[1:])})"
        raise LrlabError(f"no CIFAR-10 found {looked}; {HOW_TO_PROVIDE}")
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
        # not HOW_TO_PROVIDE: on a machine without network it would only suggest the download again
        raise LrlabError(f"downloading CIFAR-10 into {root} failed ({one_line(e)}): no network here? Copy a "
                         "cifar-10-batches-py folder, an image-folder tree or an archive of one there, or point "
                         "$LRLAB_DATA or --data at one") from None
