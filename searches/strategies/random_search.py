"""Random search: uniform over the space, new and feasible proposals only."""

from __future__ import annotations

from .base import Strategy, TrialRecord


class RandomSearch(Strategy):
    name = "random"
    label = "Random search"

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        return self.sample_new(self.rng(history), self.seen_keys(history), n)
