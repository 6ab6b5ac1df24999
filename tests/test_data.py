"""Tests for lrlab.data on tiny generated data sets (fast), plus one `realdata` test on the offline CIFAR-10 copy."""

import hashlib
import os
import pickle
import shutil
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import SHARED_DATA
from lrlab import data
from lrlab.data import (AUGMENTATIONS, CIFAR10_MEAN, CIFAR10_STD, DeviceLoader, char_batch, find_cifar10,
                        load_cifar10, load_tiny_shakespeare, stratified_subset)
from lrlab.errors import LrlabError

# read before the autouse fixture hides them; the offline copies beside the checkout by default
REAL_DATA_ROOT = os.environ.get("LRLAB_DATA") or str(SHARED_DATA)
REAL_CACHE = os.environ.get("LRLAB_CACHE")
REAL_TINY_SHAKESPEARE = Path(REAL_DATA_ROOT) / "tinyshakespeare.txt"
CLASSES = tuple(reversed(data.CIFAR10_CLASSES))  # folders in any order; alphabetical gives airplane=0 ... truck=9


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own cache and no data root from the environment."""
    monkeypatch.setenv("LRLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LRLAB_DATA", raising=False)


def make_image_tree(folder, n_train=4, n_test=2, seed=0):
    """{train,test}/<class>/NNNN.png with random pixels; returns the expected arrays in load order."""
    rng = np.random.default_rng(seed)
    expected = {}
    for split, count in (("train", n_train), ("test", n_test)):
        images, labels = [], []
        for label, cls in enumerate(sorted(CLASSES)):
            (folder / split / cls).mkdir(parents=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / split / cls / f"{i:04d}.png")
                images.append(pixels)
                labels.append(label)
        expected[split] = (np.stack(images), np.array(labels))
    (folder / "train" / "cat" / ".DS_Store").write_bytes(b"not an image")  # stray files are ignored
    return expected


def make_archive(folder, archive, arcname):
    with tarfile.open(archive, "w:" + archive.name.rsplit(".", 1)[-1].replace("tgz", "gz")) as tar:
        tar.add(folder, arcname=arcname)
    return archive


def make_batches_folder(folder, per_batch=3, seed=0):
    """The official python layout: pickled dicts with b"data" (N, 3072) as R, G, B planes and b"labels"."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    rows = {}
    for name in data.cifar10.BATCH_FILES:
        rows[name] = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        batch = {b"batch_label": name.encode(), b"data": rows[name], b"labels": list(rng.integers(0, 10, per_batch))}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [c.encode() for c in data.CIFAR10_CLASSES]}))
    return rows


def assert_same_cifar(a, b):
    for field in ("train_images", "train_labels", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


# ----------------------------------------------------------------------------- finding and loading CIFAR-10

def test_image_folder_loads_decodes_once_and_caches(tmp_path, monkeypatch):
    expected = make_image_tree(tmp_path / "data" / "cifar10-jpeg")
    assert find_cifar10(tmp_path / "data") == tmp_path / "data" / "cifar10-jpeg"
    cifar = load_cifar10(tmp_path / "data")
    assert cifar.train_images.shape == (40, 32, 32, 3) and cifar.train_images.dtype == np.uint8
    assert cifar.test_images.shape == (20, 32, 32, 3) and cifar.test_labels.dtype == np.int64
    np.testing.assert_array_equal(cifar.train_images, expected["train"][0])
    np.testing.assert_array_equal(cifar.train_labels, np.repeat(np.arange(10), 4))
    np.testing.assert_array_equal(cifar.test_labels, np.repeat(np.arange(10), 2))
    assert "cifar10-jpeg" in cifar.source
    assert (tmp_path / "cache" / f"{data.cifar10.CACHE_FORMAT}-{cifar.sha256}.npz").is_file()

    def no_decoding(source):
        raise AssertionError("decoded again instead of using the cache")

    monkeypatch.setenv("LRLAB_DATA", str(tmp_path / "data"))  # $LRLAB_DATA is the default root
    monkeypatch.setattr(data.cifar10, "_decode_source", no_decoding)
    again = load_cifar10()
    assert again.sha256 == cifar.sha256
    assert_same_cifar(again, cifar)


def test_folder_hash_follows_content(tmp_path, monkeypatch):
    make_image_tree(tmp_path / "tree")
    before = load_cifar10(tmp_path / "tree")
    with monkeypatch.context() as patch:  # unchanged sizes and mtimes: the fingerprint index answers, no file is read
        patch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"re-read {self}"))
        assert load_cifar10(tmp_path / "tree").sha256 == before.sha256
    changed = tmp_path / "tree" / "test" / "dog" / "0001.png"
    Image.fromarray(np.full((32, 32, 3), 7, dtype=np.uint8)).save(changed)
    os.utime(changed, ns=(1, 1))  # a different mtime, whatever the file system's clock resolution
    after = load_cifar10(tmp_path / "tree")
    assert after.sha256 != before.sha256
    assert (after.test_images[2 * data.CIFAR10_CLASSES.index("dog") + 1] == 7).all()


@pytest.mark.parametrize("suffix", ["tar.gz", "tar.xz", "tgz"])
def test_archive_gives_same_arrays_as_folder(tmp_path, suffix):
    make_image_tree(tmp_path / "cifar10-jpeg")
    folder = load_cifar10(tmp_path / "cifar10-jpeg")
    (tmp_path / "archives").mkdir()
    archive = make_archive(tmp_path / "cifar10-jpeg", tmp_path / "archives" / f"tiny.{suffix}", "cifar10-jpeg")
    assert find_cifar10(tmp_path / "archives") == archive
    packed = load_cifar10(tmp_path / "archives")
    assert_same_cifar(packed, folder)
    assert packed.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert "archive" in packed.source
    # one --data for both data sets: a text file or an archive points at its folder for the other one
    (tmp_path / "archives" / "input.txt").write_text("hello, world\n")
    assert find_cifar10(tmp_path / "archives" / "input.txt") == archive
    assert load_tiny_shakespeare(archive).text == "hello, world\n"


def test_batches_folder_and_its_archive(tmp_path):
    rows = make_batches_folder(tmp_path / "root" / "cifar-10-batches-py")
    cifar = load_cifar10(tmp_path / "root")
    assert cifar.train_images.shape == (15, 32, 32, 3) and cifar.test_images.shape == (3, 32, 32, 3)
    # pixel (y=5, x=7) of channel c of image 1 of data_batch_2 sits at column c*1024 + 5*32 + 7
    for c in range(3):
        assert cifar.train_images[3 + 1, 5, 7, c] == rows["data_batch_2"][1, c * 1024 + 5 * 32 + 7]
    assert cifar.test_images[2, 31, 0, 2] == rows["test_batch"][2, 2 * 1024 + 31 * 32 + 0]
    assert cifar.train_labels.dtype == np.int64
    (tmp_path / "official").mkdir()
    make_archive(tmp_path / "root" / "cifar-10-batches-py", tmp_path / "official" / "tiny-python.tar.gz",
                 "cifar-10-batches-py")
    assert_same_cifar(load_cifar10(tmp_path / "official"), cifar)


def test_checksum_mismatch_names_the_archive(tmp_path):
    make_image_tree(tmp_path / "tree")
    archive = make_archive(tmp_path / "tree", tmp_path / "tiny.tar.gz", "tree")
    sidecar = tmp_path / "tiny.tar.gz.sha256"
    sidecar.write_text("0" * 64 + "  tiny.tar.gz\n")
    with pytest.raises(LrlabError, match="checksum mismatch") as error:
        load_cifar10(archive)
    assert str(archive) in str(error.value) and "\n" not in str(error.value)
    sidecar.write_text(hashlib.sha256(archive.read_bytes()).hexdigest() + "  tiny.tar.gz\n")
    assert load_cifar10(archive).train_images.shape == (40, 32, 32, 3)
    # a known archive name is checked against the known checksum
    known = archive.rename(tmp_path / "cifar10-jpeg.tar.xz")
    with pytest.raises(LrlabError, match="expected 70f71463"):
        load_cifar10(known)


def test_unreadable_archive(tmp_path):
    (tmp_path / "broken.tar.xz").write_bytes(b"this is not xz data")
    with pytest.raises(LrlabError, match="cannot read archive .*broken.tar.xz"):
        load_cifar10(tmp_path)
    (tmp_path / "other").mkdir()
    make_archive(tmp_path / "broken.tar.xz", tmp_path / "other" / "nothing.tgz", "x")  # a tar without CIFAR-10
    with pytest.raises(LrlabError, match="holds no cifar-10-batches-py and no image-folder tree"):
        load_cifar10(tmp_path / "other")


def test_no_data_names_the_folder_and_the_ways_to_provide_it(tmp_path):
    with pytest.raises(LrlabError) as error:
        load_cifar10(tmp_path / "empty")
    message = str(error.value)
    assert str(tmp_path / "empty") in message and "cifar-10-batches-py" in message and "\n" not in message
    assert find_cifar10(tmp_path / "empty") is None


def test_corrupt_cache_is_regenerated(tmp_path, monkeypatch):
    make_image_tree(tmp_path / "tree")
    cifar = load_cifar10(tmp_path / "tree")
    cache_file = tmp_path / "cache" / f"{data.cifar10.CACHE_FORMAT}-{cifar.sha256}.npz"
    cache_file.write_bytes(cache_file.read_bytes()[: cache_file.stat().st_size // 2])
    decodes = []
    real_decode = data.cifar10._decode_source
    monkeypatch.setattr(data.cifar10, "_decode_source", lambda source: decodes.append(source) or real_decode(source))
    assert_same_cifar(load_cifar10(tmp_path / "tree"), cifar)
    assert len(decodes) == 1
    assert data.cifar10._read_cache(cache_file) is not None  # rewritten whole
    assert not list(cache_file.parent.glob("*.tmp"))


def test_bad_image_folders_raise_one_line_errors(tmp_path):
    make_image_tree(tmp_path / "small")
    Image.new("RGB", (16, 16)).save(tmp_path / "small" / "train" / "cat" / "0001.png")
    with pytest.raises(LrlabError, match=r"0001\.png is 16x16"):
        load_cifar10(tmp_path / "small")
    make_image_tree(tmp_path / "broken")
    (tmp_path / "broken" / "test" / "dog" / "0000.png").write_bytes(b"garbage")
    with pytest.raises(LrlabError, match=r"cannot decode image .*dog/0000\.png"):
        load_cifar10(tmp_path / "broken")
    make_image_tree(tmp_path / "uneven")
    (tmp_path / "uneven" / "test" / "zebra").mkdir()
    Image.new("L", (32, 32)).save(tmp_path / "uneven" / "test" / "zebra" / "0000.jpg")  # grey is fine, converted to RGB
    with pytest.raises(LrlabError, match="same non-empty set of class folders"):
        load_cifar10(tmp_path / "uneven")
    make_image_tree(tmp_path / "two")   # another data set of image folders is not CIFAR-10
    for name in data.CIFAR10_CLASSES[2:]:
        for split in ("train", "test"):
            shutil.rmtree(tmp_path / "two" / split / name)
    with pytest.raises(LrlabError, match="airplane, automobile; CIFAR-10 needs exactly its ten"):
        load_cifar10(tmp_path / "two")


def test_a_corrupt_image_is_named_without_an_object_address(tmp_path):
    make_image_tree(tmp_path / "broken")
    (tmp_path / "broken" / "test" / "dog" / "0000.png").write_bytes(b"garbage")
    with pytest.raises(LrlabError) as e:
        load_cifar10(tmp_path / "broken")
    assert " at 0x" not in str(e.value) and "dog/0000.png" in str(e.value)


def test_batches_with_labels_beyond_ten_classes_are_refused(tmp_path):
    make_batches_folder(tmp_path / "b")
    batch = pickle.loads((tmp_path / "b" / "test_batch").read_bytes())
    batch[b"labels"] = [0, 1, 99]
    (tmp_path / "b" / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(LrlabError, match="not CIFAR-10's ten classes"):
        load_cifar10(tmp_path / "b")


# ----------------------------------------------------------------------------- stratified_subset

def test_stratified_subset():
    labels = np.repeat(np.arange(4), [5, 6, 7, 8])
    picked = stratified_subset(labels, 3, seed=1)
    assert np.bincount(labels[picked]).tolist() == [3, 3, 3, 3]
    assert (np.diff(picked) > 0).all()
    np.testing.assert_array_equal(picked, stratified_subset(labels, 3, seed=1))
    assert any(not np.array_equal(picked, stratified_subset(labels, 3, seed=s)) for s in range(2, 6))
    for bad in (0, -1, 6, 2.5, True):
        with pytest.raises(LrlabError, match="per_class"):
            stratified_subset(labels, bad, seed=0)


# ----------------------------------------------------------------------------- DeviceLoader

def random_images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("augment", AUGMENTATIONS)
def test_loader_shapes_and_dtypes(augment):
    loader = DeviceLoader(random_images(10), np.arange(10), batch_size=4, augment=augment)
    batches = list(loader)
    assert len(loader) == len(batches) == 3 and loader.num_examples == 10 and loader.epoch == 1
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x, y = batches[0]
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert sorted(torch.cat([y for _, y in batches]).tolist()) == list(range(10))
    dropped = DeviceLoader(random_images(10), np.arange(10), batch_size=4, drop_last=True, channels_last=True,
                           dtype=torch.bfloat16, augment=augment)
    assert len(dropped) == len(list(dropped)) == 2
    x, _ = next(iter(dropped))
    assert x.dtype == torch.bfloat16 and x.is_contiguous(memory_format=torch.channels_last)


def test_loader_normalises_a_constant_image():
    images = np.full((2, 32, 32, 3), (0, 128, 255), dtype=np.uint8)
    x, _ = next(iter(DeviceLoader(images, [0, 1], batch_size=2, augment="flip")))
    for c, value in enumerate((0, 128, 255)):
        torch.testing.assert_close(x[:, c], torch.full((2, 32, 32), (value / 255 - CIFAR10_MEAN[c]) / CIFAR10_STD[c]))


def test_loader_is_deterministic_per_seed_and_epoch():
    images, labels = random_images(20), np.arange(20)
    first = DeviceLoader(images, labels, batch_size=8, augment="crop+flip", seed=3)
    second = DeviceLoader(torch.from_numpy(images), torch.from_numpy(labels), batch_size=8, augment="crop+flip", seed=3)
    epoch0 = list(first)
    for (xa, ya), (xb, yb) in zip(epoch0, second):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    epoch1 = torch.cat([y for _, y in first])
    assert not torch.equal(epoch1, torch.cat([y for _, y in epoch0]))
    first.set_epoch(0)  # resume: epoch 0 again, batch for batch
    assert all(torch.equal(xa, xb) for (xa, _), (xb, _) in zip(epoch0, first))
    other_seed = DeviceLoader(images, labels, batch_size=8, augment="crop+flip", seed=4)
    assert not torch.equal(torch.cat([y for _, y in other_seed]), torch.cat([y for _, y in epoch0]))
    in_order = DeviceLoader(images, labels, batch_size=8, shuffle=False)
    assert torch.cat([y for _, y in in_order]).tolist() == list(range(20))


def coordinate_images(n):
    """Pixel (y, x) of image i holds (y + 1, x + 1, i + 1): every value says where it came from; 0 is padding."""
    ys, xs = np.meshgrid(np.arange(1, 33), np.arange(1, 33), indexing="ij")
    return np.stack([np.stack([ys, xs, np.full_like(ys, i + 1)], axis=-1) for i in range(n)]).astype(np.uint8)


def raw_pixels(x):
    """Undo the normalisation: back to the uint8 values (NCHW -> NHWC)."""
    return (x.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()


@pytest.mark.parametrize("augment", ["flip", "crop+flip"])
def test_augmentations_only_shift_and_mirror(augment):
    images = coordinate_images(64)
    loader = DeviceLoader(images, np.arange(64), batch_size=16, augment=augment, mean=(0, 0, 0), std=(1, 1, 1))
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    offsets = [range(9), range(9)] if augment == "crop+flip" else [[4], [4]]
    seen = set()
    for x, y in loader:
        for out, i in zip(raw_pixels(x), y.tolist()):
            matches = [(dy, dx, flip) for dy in offsets[0] for dx in offsets[1] for flip in (False, True)
                       if np.array_equal(out, (lambda crop: crop[:, ::-1] if flip else crop)(
                           padded[i, dy:dy + 32, dx:dx + 32]))]
            assert matches, f"image {i} is not a shifted/mirrored copy of its input"
            seen.update(matches)
    assert {flip for _, _, flip in seen} == {False, True}
    if augment == "crop+flip":
        assert len({(dy, dx) for dy, dx, _ in seen}) > 20  # offsets really vary, over the whole [0, 8] range
        assert {dy for dy, _, _ in seen} >= {0, 8}


def test_each_image_is_cropped_at_its_drawn_corner_then_mirrored_where_drawn():
    """The pixels a run sees follow from its draws alone (the records' reproducibility rests on it):
    row offset first, column offset second, the mirror applied to the crop."""
    images = coordinate_images(24)
    loader = DeviceLoader(images, np.arange(24), batch_size=24, augment="crop+flip", seed=7,
                          mean=(0, 0, 0), std=(1, 1, 1))
    order, offsets, flips = loader.draws(0)
    (x, y), = list(loader)
    padded = np.pad(images, ((0, 0), (4, 4), (4, 4), (0, 0)))
    assert y.tolist() == order.tolist()
    for out, i, (dy, dx), flip in zip(raw_pixels(x), order.tolist(), offsets.tolist(), flips.tolist()):
        crop = padded[i, dy:dy + 32, dx:dx + 32]
        np.testing.assert_array_equal(out, crop[:, ::-1] if flip else crop)


def test_loader_rejects_bad_arguments():
    with pytest.raises(LrlabError, match="unknown augmentation 'rotate'; valid choices: none, flip, crop\\+flip"):
        DeviceLoader(random_images(2), [0, 1], batch_size=2, augment="rotate")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(LrlabError, match="batch_size"):
            DeviceLoader(random_images(2), [0, 1], batch_size=bad)
    with pytest.raises(LrlabError, match="uint8"):
        DeviceLoader(random_images(2).astype(np.float32), [0, 1], batch_size=2)
    with pytest.raises(LrlabError, match="labels"):
        DeviceLoader(random_images(2), [0, 1, 2], batch_size=2)
    with pytest.raises(LrlabError, match="epoch"):
        DeviceLoader(random_images(2), [0, 1], batch_size=2).set_epoch(-1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_loader_on_cuda_matches_cpu():
    images, labels = random_images(32), np.arange(32)
    cpu = DeviceLoader(images, labels, batch_size=8, augment="crop+flip", seed=5)
    gpu = DeviceLoader(images, labels, batch_size=8, augment="crop+flip", seed=5, device="cuda", channels_last=True)
    for (xc, yc), (xg, yg) in zip(cpu, gpu):
        assert xg.is_cuda and torch.equal(yc, yg.cpu())
        torch.testing.assert_close(xc, xg.cpu())


# ----------------------------------------------------------------------------- Tiny Shakespeare

def test_tiny_shakespeare_from_a_small_file(tmp_path):
    text = "To be, or not to be: that is the question.\n" * 20
    (tmp_path / "input.txt").write_text(text)
    corpus = load_tiny_shakespeare(tmp_path)
    assert corpus.vocab == "".join(sorted(set(text))) and corpus.text == text
    assert len(corpus.train) == int(0.9 * len(text)) and len(corpus.train) + len(corpus.val) == len(text)
    assert corpus.decode(corpus.encode("not to be")) == "not to be"
    assert corpus.decode(corpus.train[:6]) == "To be,"
    with pytest.raises(LrlabError, match="not in the"):
        corpus.encode("Z")
    x, y = char_batch(corpus.train, block_size=8, batch_size=5, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    again, _ = char_batch(corpus.train, block_size=8, batch_size=5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, again)
    with pytest.raises(LrlabError, match="block_size"):
        char_batch(corpus.val, block_size=len(corpus.val), batch_size=1, generator=torch.Generator())


def test_tiny_shakespeare_errors(tmp_path):
    with pytest.raises(LrlabError, match="no Tiny Shakespeare found in .*tinyshakespeare.txt"):
        load_tiny_shakespeare(tmp_path)
    (tmp_path / "tinyshakespeare.txt").write_text("not the real thing")
    with pytest.raises(LrlabError, match="checksum mismatch for .*tinyshakespeare.txt"):
        load_tiny_shakespeare(tmp_path)


@pytest.mark.skipif(not REAL_TINY_SHAKESPEARE.is_file(), reason="no offline Tiny Shakespeare copy")
def test_real_tiny_shakespeare():
    corpus = load_tiny_shakespeare(REAL_TINY_SHAKESPEARE)
    assert corpus.sha256 == data.TINY_SHAKESPEARE_SHA256
    assert len(corpus.vocab) == 65 and len(corpus.train) + len(corpus.val) == 1_115_394


# ----------------------------------------------------------------------------- the real CIFAR-10 copy

@pytest.mark.realdata
def test_real_cifar10(monkeypatch):
    if not REAL_DATA_ROOT or find_cifar10(REAL_DATA_ROOT) is None:
        pytest.skip("set LRLAB_DATA to a folder holding CIFAR-10")
    # the user's (or default) cache: decode once per machine, not once per test run
    if REAL_CACHE:
        monkeypatch.setenv("LRLAB_CACHE", REAL_CACHE)
    else:
        monkeypatch.delenv("LRLAB_CACHE")
    start = time.perf_counter()
    cifar = load_cifar10(REAL_DATA_ROOT)
    print(f"loaded {cifar.source} in {time.perf_counter() - start:.1f} s")
    assert cifar.train_images.shape == (50000, 32, 32, 3) and cifar.test_images.shape == (10000, 32, 32, 3)
    assert np.bincount(cifar.train_labels).tolist() == [5000] * 10
    mean = cifar.train_images.reshape(-1, 3).mean(axis=0) / 255
    np.testing.assert_allclose(mean, (0.4913, 0.4821, 0.4465), atol=1e-3)
