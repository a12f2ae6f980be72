"""Multi-objective TPE (after Ozaki et al., GECCO 2020): TPE whose "good" trials are the best by
Pareto rank instead of by one score.

The complete trials with every objective are ordered as NSGA-II orders them (non-dominated front,
then, within a front, the larger hypervolume contribution first: the points that alone cover the
most of the front's area), the first ceil(gamma x n) are "good", the rest "bad", and each
proposal is the candidate drawn from the good density with the largest l(x)/g(x), as in TPE.
The objectives come from the settings, like NSGA-II's.
"""

from __future__ import annotations

import math

import numpy as np

from .base import TrialRecord, by_number
from .nsga2 import DEFAULT_OBJECTIVES, non_dominated_fronts, objective_points, parse_objectives
from .tpe import TPE


def hypervolume_contributions(points: np.ndarray) -> np.ndarray:
    """Per point of a 2-objective front (higher is better on both): the area that only it
    dominates. With more objectives, zeros (the order falls back to trial number)."""
    contributions = np.zeros(len(points))
    if points.shape[1] != 2 or len(points) == 0:
        return contributions
    order = np.argsort(-points[:, 0], kind="stable")  # first objective descending: second ascending
    contributions[order[0]] = contributions[order[-1]] = np.inf  # the extremes bound the front
    for before, index, after in zip(order, order[1:], order[2:], strict=False):
        # what only this point covers: above its successor's first objective, above its predecessor's second
        contributions[index] = (points[index, 0] - points[after, 0]) * (points[index, 1] - points[before, 1])
    return contributions


def pareto_order(records: list[TrialRecord], objectives) -> list[TrialRecord]:
    """Records best first: by front, then by hypervolume contribution within the front."""
    kept, points = objective_points(records, objectives)
    ordered = []
    for front in non_dominated_fronts(points):
        contributions = hypervolume_contributions(points[front])
        ranked = sorted(range(len(front)), key=lambda i: (-contributions[i], kept[front[i]].number))
        ordered.extend(kept[front[i]] for i in ranked)
    return ordered


class MultiObjectiveTPE(TPE):
    name = "motpe"
    label = "TPE, multi-objective"
    multi_objective = True
    settings_help = {
        **TPE.settings_help,
        "objectives": "the objectives as a JSON list; by default the search objectives",
    }

    @classmethod
    def default_settings(cls) -> dict:
        # 5 random trials and gamma 0.1: the best of bench/tune_multiobjective.py on its tuning seeds
        return {**super().default_settings(), "startup_trials": 5, "gamma": 0.1,
                "objectives": [dict(o) for o in DEFAULT_OBJECTIVES]}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        merged["objectives"] = [{"metric": o.metric, "direction": o.direction}
                                for o in parse_objectives(merged["objectives"])]
        return merged

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        rng = self.rng(history)
        seen = self.seen_keys(history)
        ordered = pareto_order(by_number(history), self.settings["objectives"])
        if len(ordered) < self.settings["startup_trials"]:
            return self.fill_random(rng, seen, n)
        n_good = max(1, math.ceil(self.settings["gamma"] * len(ordered)))
        good, bad = [t.arch for t in ordered[:n_good]], [t.arch for t in ordered[n_good:]]
        l_density, g_density = self.densities(good), self.densities(bad)
        return self.propose_each(n, rng, seen, lambda i: self._best_candidate(l_density, g_density, rng, seen))
