"""Slow, pure results of lrlab's code, kept on disk between processes.

`lrlab queue`, the cost page and a job's planner each need every model shape's FLOPs and operator
counts (`lrlab.cost`), measured by running the model on the meta device: about 0.35 s a shape on
2 CPU cores, 6 s for the book's 18, paid again by every process (and every notebook kernel). Such a
value depends only on its arguments, lrlab's source and torch's version, so it is kept in one JSON
file per function under the cache folder (`lrlab.data.paths.cache_dir`, $LRLAB_CACHE), filed under
a digest of the source and torch's version: a change to either finds nothing and measures again.
A file that does not parse, or a folder that cannot be written, costs the time only.
"""
import functools
import hashlib
import json
import pathlib

import torch

from lrlab.data.paths import cache_dir
from lrlab.files import write_atomically

PACKAGE = pathlib.Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
def code_version():
    """A digest of torch's version and every source file of lrlab."""
    digest = hashlib.sha256(torch.__version__.encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _read(path):
    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return table if isinstance(table, dict) else {}


def disk_memo(fn):
    """`fn(*args)` (JSON-able arguments, a JSON-able result) remembered in <cache>/<fn's name>.json,
    under the current code_version() (older versions' entries are dropped at the next write). Keeping
    it in memory too is the caller's choice (lrlab.cost keeps each ShapeCost)."""
    @functools.wraps(fn)
    def remembered(*args):
        path, key = cache_dir() / f"{fn.__name__}.json", json.dumps(args)
        stored = _read(path).get(code_version())
        if isinstance(stored, dict) and key in stored:
            return stored[key]
        value = fn(*args)
        entries = _read(path).get(code_version())   # again: another process may have added some meanwhile
        entries = dict(entries if isinstance(entries, dict) else {}, **{key: value})
        try:
            write_atomically(path, lambda f: f.write(json.dumps({code_version(): entries}).encode()))
        except OSError:
            pass
        return value
    return remembered
