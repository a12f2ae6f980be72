"""name -> strategy class. Model choices and forms are built from this dict."""

from __future__ import annotations

from ..checks import SpecError
from ..spaces.base import SearchSpace
from .bananas import Bananas
from .base import Constraint, Objective, Strategy
from .evolution import RegularizedEvolution
from .gp_bo import GaussianProcessBO
from .grid import GridSearch
from .local_search import LocalSearch
from .motpe import MultiObjectiveTPE
from .nsga2 import NSGA2
from .random_search import RandomSearch
from .reinforce import Reinforce
from .tpe import TPE

STRATEGIES: dict[str, type[Strategy]] = {
    RandomSearch.name: RandomSearch,
    GridSearch.name: GridSearch,
    RegularizedEvolution.name: RegularizedEvolution,
    LocalSearch.name: LocalSearch,
    Bananas.name: Bananas,
    GaussianProcessBO.name: GaussianProcessBO,
    TPE.name: TPE,
    Reinforce.name: Reinforce,
    NSGA2.name: NSGA2,
    MultiObjectiveTPE.name: MultiObjectiveTPE,
}


def build_strategy(
    name: str,
    space: SearchSpace,
    settings: dict | None = None,
    seed: int = 0,
    objective: Objective | None = None,
    constraints: list[Constraint] | None = None,
) -> Strategy:
    if name not in STRATEGIES:
        raise SpecError("strategy", f"unknown strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    return STRATEGIES[name](space, settings, seed, objective, constraints)
