"""Local search: first-improvement hill climbing over space.neighbours, with random restarts.

A climb starts from the best of a few random architectures. Its centre is the best
trial of the climb so far; each proposal is an unseen neighbour of the centre, in
random order, so the centre moves as soon as a neighbour beats it. When every
neighbour of the centre has been proposed, the centre is a local optimum and the
search restarts from new random architectures.

Nothing is stored: `replay` walks the history in trial-number order and re-derives
where each climb started, using only which architectures had been proposed before
each position (fixed) and the scores known now.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .base import Strategy, TrialRecord, by_number
from .settings_checks import check_int_setting


@dataclass
class Climb:
    """Where the current climb stands after some prefix of the history."""

    start: int = 0  # history position of the climb's first (random) architecture
    centre: TrialRecord | None = None
    centre_score: float = float("-inf")
    seen: set = field(default_factory=set)

    def offer(self, score: float | None, trial: TrialRecord) -> None:
        if score is not None and (self.centre is None or score > self.centre_score):
            self.centre, self.centre_score = trial, score

    def restart(self, position: int) -> None:
        self.start, self.centre, self.centre_score = position, None, float("-inf")


class LocalSearch(Strategy):
    name = "local_search"
    label = "Local search"
    settings_help = {
        "initial_samples": "random architectures before walking to better neighbours",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {"initial_samples": 10}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "initial_samples", 1, 10_000)
        return merged

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        rng = self.rng(history)
        climb = self.replay(history)
        out: list[dict] = []
        for position in range(len(history), len(history) + n):
            if self.at_local_optimum(climb, position):
                climb.restart(position)
            arch = self._next_neighbour(climb, position, rng)
            if arch is None:
                arch = next(iter(self.fill_random(rng, climb.seen, 1)), None)
            if arch is None:
                break
            out.append(arch)
        return out

    def replay(self, history: list[TrialRecord]) -> Climb:
        climb = Climb()
        for position, trial in enumerate(by_number(history)):
            if self.at_local_optimum(climb, position):
                climb.restart(position)
            climb.seen.add(self.space.key(trial.arch))
            climb.offer(self.objective.score(trial), trial)
        return climb

    def climbing(self, climb: Climb, position: int) -> bool:
        return climb.centre is not None and position - climb.start >= self.settings["initial_samples"]

    def at_local_optimum(self, climb: Climb, position: int) -> bool:
        """True once every feasible neighbour of the centre has been proposed."""
        if not self.climbing(climb, position):
            return False
        return all(k in climb.seen or not self.feasible(a) for k, a in self.neighbours_of(climb.centre.arch))

    def _next_neighbour(self, climb: Climb, position: int, rng: random.Random) -> dict | None:
        if not self.climbing(climb, position):
            return None
        neighbours = [arch for _, arch in self.neighbours_of(climb.centre.arch)]
        rng.shuffle(neighbours)
        return next((arch for arch in neighbours if self.accept(arch, climb.seen)), None)
