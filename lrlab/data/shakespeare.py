"""Tiny Shakespeare, the character GPT's corpus: found (or downloaded once) and checked by its sha256,
split 90/10, and random windows of it as batches."""
import hashlib
import urllib.request
from dataclasses import dataclass
from functools import cached_property

import torch

from lrlab.data.paths import CORPUS_NAMES, data_root
from lrlab.errors import LrlabError, check_int, one_line
from lrlab.files import write_atomically

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


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
    candidates = [base] if base.is_file() else [base / name for name in CORPUS_NAMES]
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
    return char_windows(data, char_starts(data, block_size, batch_size, generator), block_size, device)


def char_starts(data, block_size, batch_size, generator):
    """Where `batch_size` random windows of `block_size` + 1 tokens start, drawn from `generator`."""
    block_size = check_int("block_size", block_size)
    batch_size = check_int("batch_size", batch_size)
    if len(data) <= block_size:
        raise LrlabError(f"block_size={block_size} needs more than {block_size} tokens, the data has {len(data)}")
    return torch.randint(len(data) - block_size, (batch_size,), generator=generator, device=generator.device)


def char_windows(data, starts, block_size, device="cpu"):
    """The windows at `starts` (any shape, e.g. (K, B) for a stack of runs, gathered at once): x (..., T)
    int64 and y, the same windows shifted by one."""
    windows = data[(starts[..., None] + torch.arange(block_size + 1, device=starts.device)).to(data.device)]
    windows = windows.to(device=device, dtype=torch.int64)
    return windows[..., :-1], windows[..., 1:]
