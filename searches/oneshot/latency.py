"""Per-choice latency tables for ProxylessNAS's latency loss, built from devices/costs.

ProxylessNAS needs the expected latency of the supernet as a differentiable function of the
architecture weights. With a table `lat[decision][choice]` (ms) and a fixed part `base`:

    E[latency] = base + sum over decisions, choices of p(choice) x lat[decision][choice]

which is the paper's additive model (per-layer latencies from a lookup table, summed). Three
ways to build the table, picked by `target`:

  raspi4, pixel3, eyeriss, fpga  (NB201 space only) - HW-NAS-Bench measured each of the 15,625
      NB201 networks on these devices. A least-squares fit of the whole-network latency on one
      indicator per (edge, op), 'none' being the reference, gives each op's marginal cost on each
      edge and an intercept (stem, reductions, head). The fit leaves out the cells whose output
      does not depend on the input (no path of non-'none' edges from node 0 to node 3): the phone
      runtimes prune such graphs to almost nothing, which no additive model fits (with them
      R^2 is about 0.90 and the mean relative error several hundred percent on the Raspberry Pi;
      without them R^2 0.92 and 20%; Eyeriss and the FPGA are exactly additive, R^2 = 1). The fit's
      R^2 and mean relative error come with the table. Where the intercept comes out below the
      fastest measured cell (the phones), the fixed part is raised to that cell's latency, so that
      E[latency] stays positive for the log loss. The costs are those of the benchmark's network
      (CIFAR-10, C=16, N=5): op-to-op ratios transfer to a smaller network, absolute ms do not.
  cpu  - the layer-latency lookup table of devices/costs/predictor.py, on this machine: each
      choice's cost is the predicted latency change of switching one decision of a reference
      architecture (every decision active) to that choice.
  macs - the same one-decision differences with analytical MACs (devices/costs/analytical.py), a
      hardware-free proxy for when nothing was measured; unit MMACs, not ms.

The loss ProxylessNAS uses, CE + lambda log E[latency], has a gradient that does not depend on
the unit (log(c E) = log c + log E), so the MACs proxy and the benchmark's scale plug in as is.

Each decision's costs are shifted so its cheapest choice costs 0 (the shift goes into base);
that keeps every table entry non-negative and E[latency] >= base > 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

from devices.costs import hwnasbench
from devices.costs.analytical import analytical_costs
from devices.costs.predictor import LatencyTable

from ..checks import SpecError
from ..spaces.base import SearchSpace
from ..spaces.nb201_cell import EDGE_NAMES, NODES, edge_name, string_to_arch
from .supernet import NONE_OP, choice_label

MEASURED_TARGETS = ("cpu", "macs")


@dataclass
class DecisionCosts:
    """table[decision][choice label] -> cost, plus the fixed part; unit 'ms' or 'MMACs'."""

    table: dict[str, dict[str, float]]
    base: float
    unit: str
    source: str
    fit: dict = field(default_factory=dict)

    def of_arch(self, arch: dict) -> float:
        return self.base + sum(self.table[name][choice_label(value)] for name, value in arch.items())

    def to_dict(self) -> dict:
        return {"table": self.table, "base": self.base, "unit": self.unit, "source": self.source, "fit": self.fit}


def build_latency_table(space: SearchSpace, target: str, input_shape: tuple, num_classes: int,
                        predictor_table=None) -> DecisionCosts:
    """The per-choice cost table of `space` for a hardware target (see the module docstring).

    predictor_table: a devices.costs.predictor.LatencyTable to reuse for target 'cpu' (e.g. one
    stored for a device); a fresh one is profiled on this machine otherwise.
    """
    if target in hwnasbench.DEVICES:
        if space.kind != "nb201":
            raise SpecError("target", f"HW-NAS-Bench latencies exist for NB201 cells only, not {space.kind!r}")
        return hwnasbench_op_costs(target, tuple(space.spec["ops"]))
    if target == "cpu":
        return one_decision_costs(space, input_shape, num_classes, predicted_latency_ms(predictor_table),
                                  "ms", "latency predictor lookup table on this CPU")
    if target == "macs":
        return one_decision_costs(space, input_shape, num_classes, analytical_mmacs, "MMACs",
                                  "analytical MACs (a proxy for latency)")
    raise SpecError("target", f"unknown target {target!r}; choose one of "
                              f"{list(hwnasbench.DEVICES) + list(MEASURED_TARGETS)}")


# --- HW-NAS-Bench regression ---------------------------------------------------------------------

def hwnasbench_op_costs(device: str, ops: tuple[str, ...]) -> DecisionCosts:
    hwnasbench.check_device(device)
    all_ops = hwnasbench.OPERATIONS
    features, latencies = hwnasbench_design(device)
    design = np.hstack([np.ones((len(features), 1)), features])
    solution, *_ = np.linalg.lstsq(design, latencies, rcond=None)
    predicted = design @ solution
    intercept, coefficients = float(solution[0]), solution[1:].reshape(len(EDGE_NAMES), len(all_ops) - 1)
    full_table = {edge: {"none": 0.0, **{op: float(c) for op, c in zip(all_ops[1:], row, strict=True)}}
                  for edge, row in zip(EDGE_NAMES, coefficients, strict=True)}
    table, base = shifted_to_cheapest({edge: {op: costs[op] for op in ops} for edge, costs in full_table.items()},
                                      intercept)
    fit = {"r2": float(1 - ((latencies - predicted) ** 2).sum() / ((latencies - latencies.mean()) ** 2).sum()),
           "mean_relative_error": float(np.mean(np.abs(predicted - latencies) / latencies)),
           "cells": len(latencies), "fitted_base": base, "fastest_cell_ms": float(latencies.min())}
    return DecisionCosts(table, max(base, float(latencies.min())), "ms",
                         f"HW-NAS-Bench {device}: least-squares op costs per edge", fit)


@cache  # one entry per device, four at most
def hwnasbench_design(device: str) -> tuple[np.ndarray, np.ndarray]:
    """One row per benchmark cell whose output depends on its input: indicators of
    (edge, op != none), and the cell's latency. Cached: the shipped table never changes."""
    ops = hwnasbench.OPERATIONS[1:]
    rows, latencies = [], []
    for index in range(hwnasbench.cell_count()):
        entry = hwnasbench.lookup_index(index)
        arch = string_to_arch(entry.arch)
        if not output_depends_on_input(arch):
            continue
        rows.append([1.0 if arch[edge] == op else 0.0 for edge in EDGE_NAMES for op in ops])
        latencies.append(entry.on(device))
    return np.array(rows), np.array(latencies)


def output_depends_on_input(arch: dict) -> bool:
    """True when a path of non-'none' edges leads from the cell's input (node 0) to its output."""
    reached = {0}
    for target in range(1, NODES):
        if any(source in reached and arch[edge_name(target, source)] != NONE_OP for source in range(target)):
            reached.add(target)
    return NODES - 1 in reached


# --- one-decision differences on this machine ------------------------------------------------------

def reference_arch(space: SearchSpace) -> dict:
    """A full choice dict with as many decisions active as possible (greedily, in decision order),
    so that every decision's choices change the network."""
    full = space.complete({})
    for decision in space.decisions:
        full[decision.name] = max(decision.choices,
                                  key=lambda c: (len(space.active_decisions({**full, decision.name: c})),
                                                 -decision.index_of(c)))
    return full


def one_decision_costs(space: SearchSpace, input_shape: tuple, num_classes: int, cost_of, unit: str,
                       source: str) -> DecisionCosts:
    """cost(reference with one decision switched) - cost(reference), per decision and choice."""
    reference = reference_arch(space)
    active = set(space.active_decisions(reference))
    reference_cost = cost_of(space.to_torch(space.to_arch(reference), input_shape, num_classes), input_shape)
    deltas: dict[str, dict[str, float]] = {}
    for decision in space.decisions:
        deltas[decision.name] = {}
        for choice in decision.choices:
            delta = 0.0
            if decision.name in active and choice != reference[decision.name]:
                arch = space.to_arch({**reference, decision.name: choice})
                delta = cost_of(space.to_torch(arch, input_shape, num_classes), input_shape) - reference_cost
            deltas[decision.name][choice_label(choice)] = delta
    table, base = shifted_to_cheapest(deltas, reference_cost)
    return DecisionCosts(table, base, unit, source, {"reference_arch": space.to_arch(reference)})


def shifted_to_cheapest(table: dict[str, dict[str, float]], base: float) -> tuple[dict, float]:
    shifted = {}
    for name, costs in table.items():
        cheapest = min(costs.values())
        shifted[name] = {choice: cost - cheapest for choice, cost in costs.items()}
        base += cheapest
    return shifted, base


def predicted_latency_ms(predictor_table=None):
    # Few rounds: the table is profiled once per distinct layer, and these are small networks.
    table = predictor_table if predictor_table is not None else LatencyTable(threads=1, batch=1, rounds=3)

    def cost_of(model, input_shape) -> float:
        return table.predict_ms(model, input_shape)

    return cost_of


def analytical_mmacs(model, input_shape) -> float:
    return analytical_costs(model, input_shape)["macs"] / 1e6
