"""A pruning search: propose widths under a budget, prune the trained model, fine-tune, record.

Each proposal comes from one of our strategies (evolution, BO, ... - any of STRATEGIES) asked on
the PrunedSpace with the budget as a hard constraint, or from the learned gates ("gates"). Every
candidate is pruned from the same trained model (prune_model), its batch-norm statistics are
re-estimated, it is evaluated as pruned, fine-tuned briefly with the project's trainer, and recorded
as a TrialRecord, so the strategy's next proposals read the history as in any search.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from devices.costs.analytical import analytical_costs
from devices.costs.measure import measure_latency

from ..checks import SpecError
from ..strategies.base import COMPLETE, Objective, TrialRecord
from ..strategies.registry import build_strategy
from ..training.trainer import TrainConfig, evaluate, train
from .gates import GATE_COSTS, learn_gates
from .space import PrunedSpace
from .transplant import prune_model, recalibrate_batch_norm

#: budget metric -> what it measures. latency_ms: eager CPU latency at batch 1 on this machine;
#: pass cost_of for another device's latency (the web side: a hardware target's cost).
BUDGET_METRICS = {"params": "parameters", "macs": "multiply-accumulates per input",
                  "latency_ms": "CPU latency at batch 1, measured here"}
GATES = "gates"


@dataclass
class PruningCandidate:
    number: int
    arch: dict
    description: str
    cost: float
    params: int
    macs: int
    #: validation accuracy right after pruning, before fine-tuning
    pruned_val_accuracy: float
    val_accuracy: float
    test_accuracy: float
    finetune_seconds: float
    model: nn.Module | None = field(default=None, repr=False)

    def metrics(self, metric: str) -> dict:
        return {"val_accuracy": self.val_accuracy, "test_accuracy": self.test_accuracy, "params": self.params,
                "macs": self.macs, metric: self.cost, "pruned_val_accuracy": self.pruned_val_accuracy}


def cost_function(space, metric: str, input_shape: tuple, num_classes: int,
                  cost_of: Callable[[dict], float] | None = None) -> Callable[[dict], float]:
    if cost_of is not None:
        return cost_of
    if metric not in BUDGET_METRICS:
        raise SpecError("budget", f"unknown budget metric {metric!r}; use one of {sorted(BUDGET_METRICS)}")
    cache: dict[str, float] = {}

    def cost(arch: dict) -> float:
        key = space.key(arch)
        if key not in cache:
            model = space.to_torch(arch, input_shape, num_classes)
            if metric == "latency_ms":
                cache[key] = measure_latency(model, input_shape, runs=50, rounds=5, round_gap_s=0.0).median_ms
            else:
                cache[key] = float(analytical_costs(model, input_shape)[metric])
        return cache[key]

    return cost


def run_pruning_search(model: nn.Module, space, arch: dict, data, budget: dict, strategy: str = "evolution",
                       trials: int = 8, finetune: TrainConfig | None = None, strategy_settings: dict | None = None,
                       seed: int = 0, cost_of: Callable[[dict], float] | None = None,
                       on_candidate: Callable[[PruningCandidate], None] | None = None,
                       keep_models: bool = False, gate_settings: dict | None = None) -> list[PruningCandidate]:
    """Candidates in the order tried. budget = {"metric": "params" | "macs" | "latency_ms", "max": x}."""
    pruned_space = PrunedSpace(space, arch)
    metric, limit = budget.get("metric"), budget.get("max")
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
        raise SpecError("budget", f"the budget must be a positive number, got {limit!r}")
    cost = cost_function(pruned_space, metric, data.input_shape, data.num_classes, cost_of)
    smallest = pruned_space.to_arch({d.name: min(d.choices) for d in pruned_space.decisions})
    if cost(smallest) > limit:
        raise SpecError("budget", f"even the smallest pruned model ({space.describe(smallest)}) costs "
                                  f"{cost(smallest):g} {metric}, over the budget of {limit:g}")
    finetune = finetune or TrainConfig(epochs=2, seed=seed)
    if strategy == GATES:
        if metric not in GATE_COSTS and cost_of is None:
            raise SpecError("budget", f"learned gates need a params or macs budget, got {metric!r}")
        gated = copy.deepcopy(model)
        pruned_arch, scores = learn_gates(gated, space, arch, data, metric if metric in GATE_COSTS else "macs",
                                          limit, seed=seed, cost_of=cost, **(gate_settings or {}))
        proposals = iter([(pruned_arch, gated, scores)])
        trials = 1
    else:
        proposer = build_strategy(strategy, pruned_space, strategy_settings, seed, Objective(),
                                  [lambda a: cost(a) <= limit])
    history: list[TrialRecord] = []
    candidates: list[PruningCandidate] = []
    for number in range(trials):
        if strategy == GATES:
            pruned_arch, source, scores = next(proposals)
        else:
            asked = proposer.ask(history, 1)
            if not asked:
                break  # the strategy has nothing new within the budget
            pruned_arch, source, scores = asked[0], model, None
        candidate = evaluate_candidate(number, source, space, arch, pruned_arch, data, finetune, cost, scores,
                                       keep_models)
        candidates.append(candidate)
        history.append(TrialRecord(number, pruned_arch, COMPLETE, candidate.metrics(metric)))
        if on_candidate is not None:
            on_candidate(candidate)
    return candidates


def evaluate_candidate(number: int, model: nn.Module, space, arch: dict, pruned_arch: dict, data,
                       finetune: TrainConfig, cost, scores=None, keep_model: bool = False) -> PruningCandidate:
    pruned = prune_model(model, space, arch, pruned_arch, data.input_shape, data.num_classes, scores)
    recalibrate_batch_norm(pruned, data.x_train)
    _, pruned_val = evaluate(pruned, data.x_val, data.y_val, "cpu")
    started = time.perf_counter()
    result = train(pruned, data, finetune)
    costs = analytical_costs(pruned, data.input_shape)
    return PruningCandidate(number, pruned_arch, space.describe(pruned_arch), cost(pruned_arch), costs["params"],
                            costs["macs"], pruned_val, result.val_accuracy, result.test_accuracy,
                            time.perf_counter() - started, pruned if keep_model else None)

