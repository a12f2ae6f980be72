"""Regularized (aging) evolution, Real et al. 2019.

The population is the last P complete trials in trial-number order, so the
oldest member leaves when a new one completes, however good it was (aging keeps
the search from settling on a lucky early architecture). A child is a one-decision
mutation of the best of S members drawn at random. The first P proposals are random.
"""

from __future__ import annotations

import random

from .base import Strategy, TrialRecord, by_number
from .settings_checks import check_int_setting

#: mutation attempts per child before falling back to a random architecture
MUTATION_TRIES = 20


class RegularizedEvolution(Strategy):
    name = "evolution"
    label = "Regularized evolution"
    settings_help = {
        "population_size": "how many of the latest complete trials form the population (the first ones are random)",
        "sample_size": "tournament size: members drawn to pick the parent to mutate",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {"population_size": 10, "sample_size": 7}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        population = check_int_setting(merged, "population_size", 2, 10_000)
        check_int_setting(merged, "sample_size", 1, population)
        return merged

    def population(self, history: list[TrialRecord]) -> list[tuple[float, TrialRecord]]:
        """(score, trial) of the last P complete trials, oldest first."""
        return self.scored(by_number(history))[-self.settings["population_size"]:]

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        return self.breed(history, n, self.population(history), self._child)

    def tournament(self, population: list[tuple[float, TrialRecord]], rng: random.Random) -> TrialRecord:
        """The best of S members drawn without replacement; the younger wins a tie."""
        drawn = rng.sample(population, min(self.settings["sample_size"], len(population)))
        return max(drawn, key=lambda pair: (pair[0], pair[1].number))[1]

    def _child(self, population, rng: random.Random, seen: set[str]) -> dict | None:
        for _ in range(MUTATION_TRIES):
            child = self.space.mutate(self.tournament(population, rng).arch, rng)
            if self.accept(child, seen):
                return child
        return None
