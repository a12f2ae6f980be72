"""name -> strategy class. Model choices and forms are built from this dict."""

from __future__ import annotations

from ..spaces.base import SearchSpace, SpecError
from .base import Constraint, Objective, Strategy
from .random_search import RandomSearch

STRATEGIES: dict[str, type[Strategy]] = {
    RandomSearch.name: RandomSearch,
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


def strategy_choices() -> list[tuple[str, str]]:
    return [(name, cls.label) for name, cls in STRATEGIES.items()]
