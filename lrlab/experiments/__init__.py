"""Each chapter's experiment declares its runs per profile; it never trains.

A chapter module defines `runs(profile) -> list[RunConfig]`. `smoke` is for the tests (seconds,
CPU), `quick` an honest small-scale CPU version (minutes), `gpu` what the book publishes from
short GPU jobs, `full` the paper's scale for whoever has GPU hours.

A chapter may also define `chunks(profile) -> list[Chunk]`: its runs cut into named sets, each of
which answers one question and fits one short GPU job (a run longer than a job resumes across
several). `lrlab queue` orders them across the book and `lrlab job` runs them to a deadline. A
chapter without `chunks` is one chunk, "all".
"""
import importlib
from dataclasses import dataclass

from lrlab.errors import LrlabError, check_choice
from lrlab.names import PROFILES

EXPERIMENTS = {           # name -> the module that declares its runs and holds its analysis
    "basics": "lrlab.experiments.basics",
    "super_convergence": "lrlab.experiments.super_convergence",
    "linear_scaling": "lrlab.experiments.linear_scaling",
    "weight_decay": "lrlab.experiments.weight_decay",
    "lr_vs_width": "lrlab.experiments.lr_vs_width",
    "rules_of_thumb": "lrlab.experiments.rules_of_thumb",
}


CIFAR10_TRAIN_IMAGES, CIFAR10_TEST_IMAGES = 50_000, 10_000


def _all(per_class):
    return per_class is None or per_class != per_class   # None in a config, NaN in a runs frame


def train_images(per_class, classes=10):
    """CIFAR-10 training images a run sees: `per_class` of each of its `classes`, or all of theirs."""
    return (CIFAR10_TRAIN_IMAGES // 10 if _all(per_class) else int(per_class)) * classes


def test_images(per_class, classes=10):
    """CIFAR-10 test images a run is measured on: `per_class` of each of its `classes`, or all of theirs."""
    return (CIFAR10_TEST_IMAGES // 10 if _all(per_class) else int(per_class)) * classes


@dataclass(frozen=True)
class Chunk:
    """A named set of runs that answers one question (`settles`): the unit of GPU work.

    tier 1: a first GPU-scale verdict on a chapter's main claims; tier 2: completeness (more seeds,
    finer grids, the paper's larger model, and the claims that need them)."""
    name: str
    tier: int
    settles: str
    runs: tuple

    def __post_init__(self):
        object.__setattr__(self, "runs", tuple(self.runs))
        if self.tier not in (1, 2):
            raise LrlabError(f"chunk {self.name!r}: tier must be 1 or 2, got {self.tier!r}")


def union_of_parts(parts):
    """The runs of a chapter whose `parts(profile)` names what each run is for: each run once, in order."""
    seen, out = set(), []
    for configs in parts.values():
        for config in configs:
            if config.id not in seen:
                seen.add(config.id)
                out.append(config)
    return out


def get(name):
    check_choice("experiment", name, EXPERIMENTS)
    return importlib.import_module(EXPERIMENTS[name])


def runs(name, profile):
    check_choice("profile", profile, PROFILES)
    return get(name).runs(profile)


def chunks(name, profile):
    """The chunks of experiment `name` at `profile`, in the chapter's own priority order. A run that
    several chunks name belongs to the first: chunks are disjoint, so their minutes add up."""
    check_choice("profile", profile, PROFILES)
    module = get(name)
    declared = (module.chunks(profile) if hasattr(module, "chunks")
                else [Chunk("all", 2, "every run of the chapter", module.runs(profile))])
    seen, out = set(), []
    for chunk in declared:
        own = [c for c in union_of_parts({chunk.name: chunk.runs}) if c.id not in seen]
        seen.update(c.id for c in own)
        if own:
            out.append(Chunk(chunk.name, chunk.tier, chunk.settles, own))
    return out


def union_of_chunks(declared):
    """Every run of a chapter that declares chunks: each once, in chunk order."""
    return union_of_parts({c.name: c.runs for c in declared})

