"""NSGA-II (Deb et al. 2002): multi-objective evolution by non-dominated sorting and crowding.

The objectives come from the settings, e.g. [{"metric": "val_accuracy", "direction":
"max"}, {"metric": "params", "direction": "min"}]. The parents are the best P of all
complete trials by (front, crowding distance), which is NSGA-II's elitist survivor
selection applied to the whole history, so it needs no stored generations. A child
is a uniform crossover of two binary-tournament winners, then one mutation. The
first P proposals are random.
"""

from __future__ import annotations

import random

import numpy as np

from ..checks import SpecError
from .base import DEFAULT_OBJECTIVE, Objective, Strategy, TrialRecord, by_number
from .settings_checks import check_bool_setting, check_int_setting

MUTATION_TRIES = 20
DEFAULT_OBJECTIVES = [DEFAULT_OBJECTIVE.as_dict(), {"metric": "params", "direction": "min"}]


def parse_objectives(raw) -> list[Objective]:
    """Objectives from the settings' list of {"metric", "direction"} dicts (or Objective objects)."""
    if not isinstance(raw, list) or not raw:
        raise SpecError("objectives", 'must be a non-empty list like [{"metric": "val_accuracy", "direction": "max"}]')
    out = []
    for item in raw:
        if isinstance(item, Objective):
            out.append(item)
            continue
        metric = item.get("metric") if isinstance(item, dict) else None
        direction = item.get("direction", "max") if isinstance(item, dict) else None
        if not isinstance(metric, str) or not metric:
            raise SpecError("objectives", f"each objective needs a metric name, got {item!r}")
        if direction not in ("max", "min"):
            raise SpecError("objectives", f"the direction of {metric} must be 'max' or 'min', got {direction!r}")
        out.append(Objective(metric, direction))
    if len({o.metric for o in out}) != len(out):
        raise SpecError("objectives", "must not name a metric twice")
    return out


def objective_points(records: list[TrialRecord], objectives) -> tuple[list[TrialRecord], np.ndarray]:
    """Complete records with every objective, and their scores (rows; higher is better)."""
    objectives = parse_objectives(objectives)
    kept, rows = [], []
    for record in records:
        scores = [o.score(record) for o in objectives]
        if all(s is not None for s in scores):
            kept.append(record)
            rows.append(scores)
    return kept, np.array(rows, dtype=float).reshape(len(rows), len(objectives))


def non_dominated_fronts(points: np.ndarray) -> list[list[int]]:
    """Row indices by front: front 0 is dominated by no row, front 1 only by front 0, ..."""
    n = len(points)
    at_least = (points[:, None, :] >= points[None, :, :]).all(axis=2)
    better = (points[:, None, :] > points[None, :, :]).any(axis=2)
    dominates = at_least & better  # dominates[i, j]: row i dominates row j
    dominated_by = dominates.sum(axis=0)
    fronts, remaining = [], np.ones(n, dtype=bool)
    while remaining.any():
        front = [i for i in range(n) if remaining[i] and dominated_by[i] == 0]
        fronts.append(front)
        remaining[front] = False
        dominated_by = dominated_by - dominates[front].sum(axis=0)
    return fronts


def crowding_distances(points: np.ndarray, front: list[int]) -> dict[int, float]:
    """How isolated each member of a front is; its extremes are infinitely isolated."""
    if len(front) <= 2:
        return dict.fromkeys(front, float("inf"))
    distance = dict.fromkeys(front, 0.0)
    for m in range(points.shape[1]):
        ordered = sorted(front, key=lambda i: points[i, m])
        span = points[ordered[-1], m] - points[ordered[0], m]
        distance[ordered[0]] = distance[ordered[-1]] = float("inf")
        if span == 0:
            continue
        for before, here, after in zip(ordered, ordered[1:], ordered[2:], strict=False):
            distance[here] += (points[after, m] - points[before, m]) / span
    return distance


def rank_records(records: list[TrialRecord], objectives) -> list[tuple[TrialRecord, int, float]]:
    """(record, front number, crowding distance), best first: lower front, then more isolated."""
    kept, points = objective_points(records, objectives)
    ranked = []
    for rank, front in enumerate(non_dominated_fronts(points)):
        crowding = crowding_distances(points, front)
        ranked.extend((kept[i], rank, crowding[i]) for i in front)
    ranked.sort(key=lambda item: (item[1], -item[2], item[0].number))
    return ranked


def pareto_front(records: list[TrialRecord], objectives) -> list[TrialRecord]:
    """The complete records that no other record dominates, in trial-number order (for the UI)."""
    return sorted((r for r, rank, _ in rank_records(records, objectives) if rank == 0), key=lambda r: r.number)


class NSGA2(Strategy):
    name = "nsga2"
    label = "NSGA-II (multi-objective)"
    multi_objective = True
    settings_help = {
        "objectives": "the objectives as a JSON list; by default the search objectives",
        "population_size": "parents kept by non-dominated sorting and crowding",
        "crossover": "cross two parents before mutating",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {"objectives": [dict(o) for o in DEFAULT_OBJECTIVES], "population_size": 20, "crossover": True}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        merged["objectives"] = [{"metric": o.metric, "direction": o.direction}
                                for o in parse_objectives(merged["objectives"])]
        check_int_setting(merged, "population_size", 2, 10_000)
        check_bool_setting(merged, "crossover")
        return merged

    def parents(self, history: list[TrialRecord]) -> list[tuple[TrialRecord, int, float]]:
        """The survivors: the best P complete trials by (front, crowding)."""
        ranked = rank_records(by_number(history), self.settings["objectives"])
        return ranked[: self.settings["population_size"]]

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        return self.breed(history, n, self.parents(history), self._child)

    def _child(self, parents, rng: random.Random, seen: set[str]) -> dict | None:
        for _ in range(MUTATION_TRIES):
            first, second = _binary_tournament(parents, rng), _binary_tournament(parents, rng)
            child = self._crossover(first.arch, second.arch, rng) if self.settings["crossover"] else first.arch
            child = self.space.mutate(child, rng)
            if self.accept(child, seen):
                return child
        return None

    def _crossover(self, first: dict, second: dict, rng: random.Random) -> dict:
        a, b = self.space.complete(first), self.space.complete(second)
        return self.space.to_arch({name: a[name] if rng.random() < 0.5 else b[name] for name in a})


def _binary_tournament(parents, rng: random.Random) -> TrialRecord:
    one, two = rng.choice(parents), rng.choice(parents)
    return min(one, two, key=lambda item: (item[1], -item[2], item[0].number))[0]
