"""Where data lives, and how its bytes are named: the data root a reader points at, the cache of
decoded arrays, and the sha256 every run record carries as its data's provenance."""
import hashlib
import os
from pathlib import Path


def data_root(root=None):
    """Explicit argument > $LRLAB_DATA > ~/.cache/lrlab."""
    return Path(root or os.environ.get("LRLAB_DATA") or Path.home() / ".cache" / "lrlab").expanduser()


def cache_dir():
    """Decoded arrays live apart from the data root, which may be a read-only shared folder."""
    return Path(os.environ.get("LRLAB_CACHE") or Path.home() / ".cache" / "lrlab" / "decoded").expanduser()


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
