"""The weight-decay chapter's declaration: the paper's normalised decay and the grid it promises."""
import math
from collections import Counter

import pytest

from lrlab.errors import LrlabError
from lrlab.experiments import weight_decay as wd


def test_normalised_decay_matches_the_papers_cifar_example():
    # Appendix B.1 with b = 128, B = 50,000, T = 100: a factor of 0.00506; 0.025 -> 1.26e-4
    assert wd.lambda_from_normalized(1.0, 128, 50_000, 100) == pytest.approx(0.00506, abs=5e-6)
    assert wd.lambda_from_normalized(0.025, 128, 50_000, 100) == pytest.approx(1.26e-4, rel=0.01)


def test_normalised_decay_rejects_a_non_positive_size():
    with pytest.raises(LrlabError, match="epochs"):
        wd.lambda_from_normalized(0.025, 128, 50_000, 0)


@pytest.mark.parametrize("profile", ["quick", "full"])
def test_each_optimizer_gets_a_6x6_grid_a_no_decay_column_and_headline_seeds(profile):
    runs = wd.runs(profile)
    assert len({r.id for r in runs}) == len(runs)
    grid = Counter((r.optimizer, r.lr) for r in runs if r.weight_decay > 0 and r.seed == 0)
    for optimizer in wd.OPTIMIZERS:
        lrs = {lr for (o, lr) in grid if o == optimizer}
        assert len(lrs) >= 6 and all(grid[(optimizer, lr)] >= 6 for lr in lrs)
    assert {(r.optimizer, r.lr) for r in runs if r.weight_decay == 0} == {
        (o, 2.0 ** k) for o in ("sgd", "adam") for k in wd.LOG2_LRS[o]}
    headline = [r for r in runs if r.optimizer in ("adam", "adamw") and r.lr == 2.0 ** wd.HEADLINE_LOG2_LR
                and r.weight_decay > 0]
    assert min(Counter((r.optimizer, r.weight_decay) for r in headline).values()) >= 3
    # one lambda_norm axis for every optimizer: the same decay values on every row
    assert len({r.weight_decay for r in runs if r.weight_decay > 0}) == len(wd.LOG2_LAMBDA_NORM)
    assert all(math.isclose(r.lr, 2.0 ** round(math.log2(r.lr))) for r in runs)
