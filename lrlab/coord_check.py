"""muP's coordinate check (Yang et al. 2022, `mup.coord_check`): is the muP model built right?

Train each width for a few SGD steps on one fixed batch and record the mean |activation| of every
layer's output. Under a correct muP they stay flat as the width grows; under SP they blow up with
width after the first update. A fixed random batch is enough (the check is about scaling, not
accuracy), so the book can draw it on any machine without the data set.
"""
import torch

from lrlab.models import build_model


def mlp_coord_check(widths, parameterization, lr=0.1, nsteps=3, nseeds=3, base_width=128, batch=64):
    """A DataFrame (width, module, t, l1, ...) from `mup.coord_check.get_coord_data`."""
    from mup.coord_check import get_coord_data
    gen = torch.Generator().manual_seed(0)
    batch_xy = (torch.randn(batch, 3, 32, 32, generator=gen), torch.randint(0, 10, (batch,), generator=gen))

    def lazy(width):   # get_coord_data builds each width fresh, once per seed
        return lambda: build_model("mlp", width=width, parameterization=parameterization,
                                   base_width=base_width, init="lecun")
    return get_coord_data({w: lazy(w) for w in widths}, [batch_xy], optimizer="sgd", lr=lr,
                          mup=parameterization == "mup", nsteps=nsteps, nseeds=nseeds, cuda=False,
                          show_progress=False)
