import os
import pathlib

import pytest

# A sweep's default, --jobs auto, starts a worker per core; the suite's sweeps of a few tiny runs finish
# before the workers would have started. Tests that are about workers ask for them (jobs=2).
os.environ.setdefault("LRLAB_JOBS", "1")

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_root():
    """The real data sets, found as `lrlab sweep` finds them (lrlab.data.paths.LOOKUP_ORDER)."""
    from lrlab.data import data_root as lookup, find_cifar10
    root = lookup()   # the order lrlab's own commands use
    if find_cifar10(root) is None:
        pytest.skip(f"no CIFAR-10 in {root}; set LRLAB_DATA")
    return root


@pytest.fixture(scope="session")
def cifar(data_root):
    from lrlab.data import load_cifar10
    return load_cifar10(data_root)


@pytest.fixture
def float64():
    """Tensors are float64 by default in the test (exactness tests: rounding then stays far below them)."""
    import torch
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)
