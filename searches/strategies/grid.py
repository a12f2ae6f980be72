"""Grid search: every architecture once, in a fixed order shuffled by the seed.

The order depends only on the space and the seed, so the next proposals are the
first unseen architectures of that order: no state is needed. Architectures are
handled as integers, the mixed-radix index of their complete choice tuple, so a
shuffled order of 100,000 costs a list of ints and seen ones are skipped cheaply.
"""

from __future__ import annotations

import functools
import json
import math
import random

from ..checks import SpecError
from ..spaces.base import SearchSpace
from .base import Strategy, TrialRecord
from .settings_checks import check_bool_setting

MAX_GRID_SIZE = 100_000


class GridSearch(Strategy):
    name = "grid"
    label = "Grid search"
    settings_help = {
        "shuffle": "walk the grid in a seeded random order rather than in order",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = self.space.size()
        if size > MAX_GRID_SIZE:
            raise SpecError("strategy", f"grid search enumerates every architecture, and this space has {size:,} "
                                        f"(the limit is {MAX_GRID_SIZE:,}); narrow the space or pick another strategy")
        self._order: list[int] | None = None

    @classmethod
    def default_settings(cls) -> dict:
        return {"shuffle": True}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_bool_setting(merged, "shuffle")
        return merged

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        seen = self.seen_keys(history)
        seen_indices = {arch_index(self.space, t.arch) for t in history}
        out: list[dict] = []
        for index in self.order():
            if len(out) == n:
                break
            if index in seen_indices:
                continue
            arch = index_to_arch(self.space, index)
            if self.accept(arch, seen):
                out.append(arch)
        return out

    def order(self) -> list[int]:
        """This search's order of architecture indices (built once per strategy object)."""
        if self._order is None:
            self._order = list(architecture_indices(self.space))
            if self.settings["shuffle"]:
                random.Random(f"{self.seed}:grid-order").shuffle(self._order)
        return self._order


def arch_index(space: SearchSpace, arch: dict) -> int | None:
    """Mixed-radix index of the complete choice tuple (first decision most significant)."""
    full = space.complete(arch)
    index = 0
    for d in space.decisions:
        if full[d.name] not in d.choices:
            return None  # not an architecture of this space (e.g. a stale warm-start record)
        index = index * len(d.choices) + d.index_of(full[d.name])
    return index


def index_to_arch(space: SearchSpace, index: int) -> dict:
    choices = {}
    for d in reversed(space.decisions):
        index, digit = divmod(index, len(d.choices))
        choices[d.name] = d.choices[digit]
    return space.to_arch(choices)


def architecture_indices(space: SearchSpace) -> tuple[int, ...]:
    """One index per distinct architecture, in a fixed order."""
    combinations = math.prod(len(d.choices) for d in space.decisions)
    if space.size() == combinations:
        return tuple(range(combinations))  # every combination is its own architecture
    return _active_combinations(type(space), json.dumps(space.spec, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _active_combinations(space_class: type[SearchSpace], spec_json: str) -> tuple[int, ...]:
    """Walk only the active decisions, branching on the first undecided one, so a deep space
    with many inactive decisions costs its number of architectures, not its product of choices.
    Memoised per space: it is a pure function of the space class and spec."""
    space = space_class(json.loads(spec_json))
    found: set[int] = set()
    stack: list[tuple[dict, frozenset]] = [(space.complete({}), frozenset())]
    while stack:
        full, decided = stack.pop()
        undecided = [name for name in space.active_decisions(full) if name not in decided]
        if not undecided:
            found.add(arch_index(space, space.to_arch(full)))
            continue
        name = undecided[0]
        for value in space.decision(name).choices:
            stack.append(({**full, name: value}, decided | {name}))
    return tuple(sorted(found))
