"""Where data lives, and how its bytes are named: the data root a reader points at, the cache of
decoded arrays, and the sha256 every run record carries as its data's provenance."""
import hashlib
import os
from pathlib import Path


DOWNLOADS = Path.home() / ".cache" / "lrlab"   # where `lrlab data --download` puts what it fetches
# the offline copies an offline machine of this project keeps beside the checkout (../shared/data)
BESIDE_CHECKOUT = Path(__file__).resolve().parents[3] / "shared" / "data"
CORPUS_NAMES = ("tinyshakespeare.txt", "input.txt")   # Tiny Shakespeare's file, under either name
LOOKUP_ORDER = ("--data (or the root argument)", "$LRLAB_DATA", "~/.cache/lrlab if it holds data",
                "../shared/data beside the checkout if it holds data", "~/.cache/lrlab (where --download puts it)")


def _holds_data(folder):
    """Whether `folder` holds a data set as the loaders find them (a decoded cache alone does not count)."""
    from lrlab.data.cifar10 import find_cifar10   # here: cifar10 imports this module
    return folder.is_dir() and (find_cifar10(folder) is not None
                                or any((folder / name).is_file() for name in CORPUS_NAMES))


def data_root(root=None):
    """Where data is looked for, the one order that lrlab's commands and its tests share (LOOKUP_ORDER):
    an explicit root, else $LRLAB_DATA, else the first of ~/.cache/lrlab and ../shared/data beside the
    checkout that holds data, else ~/.cache/lrlab (where a download goes)."""
    if root or os.environ.get("LRLAB_DATA"):
        return Path(root or os.environ["LRLAB_DATA"]).expanduser()
    return next((folder for folder in (DOWNLOADS, BESIDE_CHECKOUT) if _holds_data(folder)), DOWNLOADS)


def cache_dir():
    """Decoded arrays live apart from the data root, which may be a read-only shared folder."""
    return Path(os.environ.get("LRLAB_CACHE") or Path.home() / ".cache" / "lrlab" / "decoded").expanduser()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
