"""Grid search: every architecture once, in a fixed order shuffled by the seed.

The order depends only on the space and the seed, so the next proposals are
simply the first unseen architectures of that order: no state is needed.
"""

from __future__ import annotations

import math
import random

from ..spaces.base import SpecError
from .base import Strategy, TrialRecord
from .settings_checks import check_bool_setting

MAX_GRID_SIZE = 100_000


class GridSearch(Strategy):
    name = "grid"
    label = "Grid search"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        size = self.space.size()
        if size > MAX_GRID_SIZE:
            raise SpecError("strategy", f"grid search enumerates every architecture, and this space has {size:,} "
                                        f"(the limit is {MAX_GRID_SIZE:,}); narrow the space or pick another strategy")
        self._order: list | None = None
        self._indexed = False

    @classmethod
    def default_settings(cls) -> dict:
        return {"shuffle": True}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_bool_setting(merged, "shuffle")
        return merged

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        seen = self.seen_keys(history)
        out: list[dict] = []
        for arch in self.order():
            if len(out) == n:
                break
            if self.accept(arch, seen):
                out.append(arch)
        return out

    def order(self):
        """Yield the architectures in this search's order (the order is built once per strategy object)."""
        if self._order is None:
            self._order = self._build_order()
        if not self._indexed:
            yield from self._order
            return
        names = [d.name for d in self.space.decisions]
        radices = [d.choices for d in self.space.decisions]
        for index in self._order:
            yield self.space.to_arch(dict(zip(names, _mixed_radix(index, radices), strict=True)))

    def _build_order(self) -> list:
        # When every combination of choices is a distinct architecture, shuffling the
        # indices is enough; otherwise enumerate, which deduplicates inactive decisions.
        combinations = math.prod(len(d.choices) for d in self.space.decisions)
        self._indexed = self.space.size() == combinations
        items = list(range(combinations)) if self._indexed else list(self.space.enumerate(MAX_GRID_SIZE))
        if self.settings["shuffle"]:
            random.Random(f"{self.seed}:grid-order").shuffle(items)
        return items


def _mixed_radix(index: int, radices: list[tuple]) -> list:
    """The index-th combination of choices, first decision varying slowest."""
    values = []
    for choices in reversed(radices):
        index, digit = divmod(index, len(choices))
        values.append(choices[digit])
    return list(reversed(values))
