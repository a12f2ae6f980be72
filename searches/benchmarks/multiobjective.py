"""Multi-objective NAS-Bench-201: validation accuracy against a cost, scored by hypervolume.

Each query looks up a cell's CIFAR-10 validation accuracy (NAS-Bench-201) and its cost: the
latency measured by HW-NAS-Bench on one of its devices (raspi4, pixel3, eyeriss, fpga) or the
parameter count. A search is scored by its hypervolume regret:

    1 - HV(the points it evaluated) / HV(every cell of the table)

with HV the area that a set of (accuracy, cost) points dominates (accuracy up, cost down) within
the reference point (the table's worst accuracy, its worst cost), so 0 means the search found the
table's whole Pareto front. Accuracies are in percent and costs in their unit; the ratio does
not depend on either scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from devices.costs import hwnasbench

from ..strategies.base import COMPLETE, TrialRecord
from ..strategies.registry import build_strategy
from .nb201 import Nb201Table

COSTS = (*hwnasbench.DEVICES, "params")
ACCURACY = "val_accuracy"


def cost_metric(cost: str) -> str:
    return "params" if cost == "params" else f"latency_{cost}_ms"


def cost_of(arch: str, cost: str, table: Nb201Table) -> float:
    if cost == "params":
        return table.lookup(arch).params_m * 1e6
    return hwnasbench.lookup_arch(arch).on(cost)


def hypervolume(points: np.ndarray, reference: tuple[float, float]) -> float:
    """Area dominated by (accuracy, cost) rows, higher accuracy and lower cost better, bounded
    by reference = (worst accuracy, worst cost). Points beyond the reference add nothing."""
    worst_acc, worst_cost = reference
    inside = points[(points[:, 0] > worst_acc) & (points[:, 1] < worst_cost)]
    if len(inside) == 0:
        return 0.0
    inside = inside[np.lexsort((-inside[:, 0], inside[:, 1]))]  # cost ascending, best accuracy first
    area, best_acc = 0.0, worst_acc
    for (acc, cost), next_cost in zip(inside, list(inside[1:, 1]) + [worst_cost], strict=True):
        best_acc = max(best_acc, acc)
        area += (best_acc - worst_acc) * (next_cost - cost)
    return float(area)


@dataclass(frozen=True)
class ParetoReference:
    """The table's own figures for one cost: reference point and hypervolume of all cells."""

    reference: tuple[float, float]
    hypervolume: float


@cache  # one per (table, cost): the shipped tables never change
def pareto_reference(table: Nb201Table, cost: str) -> ParetoReference:
    points = np.array([(row.valid_acc, cost_of(row.arch, cost, table)) for row in table.rows])
    reference = (float(points[:, 0].min()), float(points[:, 1].max()))
    return ParetoReference(reference, hypervolume(points, reference))


def hypervolume_regret(points: np.ndarray, table: Nb201Table, cost: str) -> float:
    ref = pareto_reference(table, cost)
    return 1.0 - hypervolume(points, ref.reference) / ref.hypervolume


def objectives_for(cost: str) -> list[dict]:
    return [{"metric": ACCURACY, "direction": "max"}, {"metric": cost_metric(cost), "direction": "min"}]


def run_multiobjective_search(strategy_name: str, queries: int, seed: int, table: Nb201Table, cost: str,
                              settings: dict | None = None) -> np.ndarray:
    """(valid accuracy %, cost) of each of `queries` proposals, one query at a time."""
    if cost not in COSTS:
        raise ValueError(f"unknown cost {cost!r}; choose one of {list(COSTS)}")
    strategy_class = build_strategy(strategy_name, table.space(), settings, seed)
    if strategy_class.multi_objective and "objectives" not in (settings or {}):
        strategy_class = build_strategy(strategy_name, table.space(),
                                        {**(settings or {}), "objectives": objectives_for(cost)}, seed)
    history: list[TrialRecord] = []
    points = []
    for number in range(1, queries + 1):
        proposals = strategy_class.ask(history, 1)
        if not proposals:
            break
        arch = table.space().describe(proposals[0])
        row = table.lookup(arch)
        value = cost_of(arch, cost, table)
        metrics = {ACCURACY: row.valid_acc / 100.0, cost_metric(cost): value}
        history.append(TrialRecord(number, proposals[0], COMPLETE, metrics))
        points.append((row.valid_acc, value))
    return np.array(points)
