"""Each chapter's experiment declares its runs per profile; it never trains.

A chapter module defines `runs(profile) -> list[RunConfig]`. `smoke` is for the tests (seconds,
CPU), `quick` an honest small-scale CPU version (minutes), `full` the paper's scale on a GPU.
"""
import importlib

from lrlab.errors import check_choice
from lrlab.results import PROFILES

EXPERIMENTS = {           # name -> (module, chapter notebook)
    "basics": ("lrlab.experiments.basics", "01_basics"),
    "super_convergence": ("lrlab.experiments.super_convergence", "02_super_convergence"),
    "linear_scaling": ("lrlab.experiments.linear_scaling", "03_linear_scaling"),
    "weight_decay": ("lrlab.experiments.weight_decay", "04_weight_decay"),
    "lr_vs_width": ("lrlab.experiments.lr_vs_width", "05_lr_vs_width"),
}


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
    return importlib.import_module(EXPERIMENTS[name][0])


def runs(name, profile):
    check_choice("profile", profile, PROFILES)
    return get(name).runs(profile)
