"""Writer of pruning searches: search which widths of a completed trial's trained model to keep.

With the learned gates (strategy "gates") the search runs like a one-shot search: one task learns a
gate per unit of the parent model under the budget (runner.py: _learn_gates), the widths it reads off
become the search's one trial, started from the gated model and its gate values.

A pruning search is an ordinary Search (same tables, runner, strategies, leaderboard, charts,
exports) whose space is a PrunedSpace of the parent trial's space: its stored spec is the parent's
plus {"pruned_from": {"trial": id, "arch": the trained architecture}}. The budget is one of the
search's hard constraints (params, macs, or a cost on a hardware target), so the strategy proposes
only widths within it. Each trial starts from the parent's kept weights cut down to its widths
(searches/runner.py: _starting_model) and is fine-tuned for the search's epochs.

The parent's weights are copied to pruning_source_path(trial) when the first pruning search of it
starts: the parent search's disk policy may delete the trial's own file later.
"""

from __future__ import annotations

import itertools
import os
import shutil
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from devices.target_costs import cost_counter, in_process_cost_metrics

from ..checks import IntRange, SpecError
from ..constraints import macs_counter, params_counter
from ..engine_data import is_benchmark, model_inputs, pruning_source_path, weights_path
from ..models import Search, Trial
from ..spaces.registry import build_space
from ..structured_pruning.gates import GATE_COSTS
from ..structured_pruning.search import GATES
from ..structured_pruning.space import PRUNABLE_KINDS, PRUNED_FROM, PrunedSpace, parent_spec
from .lifecycle import create_search_rows
from .search_spec import validate_search

#: strategy name -> label: the strategies a pruning search may use (ask/tell samplers, and the learned gates).
PRUNING_STRATEGIES = {"evolution": "regularised evolution", "gp_bo": "Bayesian optimisation (Gaussian process)",
                      "tpe": "Bayesian optimisation (TPE)", "random": "random widths",
                      GATES: "learned unit gates (differentiable, DSA-like; chain MLP, parameter or MAC budget)"}
#: budget kind -> label; "target" bounds a cost on a hardware target ("latency_ms@3").
BUDGET_KINDS = {"params": "parameters", "macs": "multiply-accumulates (MACs) per input",
                "target": "a cost on a hardware target (device latency)"}
PRUNING_RANGES = {"candidates": IntRange(1, 500), "finetune_epochs": IntRange(1, 100)}


@dataclass(frozen=True)
class PruningRequest:
    budget_kind: str
    budget_value: float
    strategy: str = "evolution"
    candidates: int = 8
    finetune_epochs: int = 2
    target_metric: str = ""  # "latency_ms@3" when budget_kind is "target"


def why_not_prunable(trial: Trial) -> str:
    """Why this trial cannot be pruned, in words ("" when it can)."""
    search = trial.search
    if trial.state != Trial.COMPLETE:
        return f"Only a completed trial can be pruned; this one is {trial.state}."
    if is_benchmark(search.project.dataset):
        return "Trials answered from a benchmark table were not trained, so there are no weights to prune."
    if search.space.kind not in PRUNABLE_KINDS:
        return (f"Pruning is not available for the {search.space.kind} space yet "
                f"(it is for: {', '.join(sorted(PRUNABLE_KINDS))}).")
    if search.training.get("width_multiplier", 1.0) != 1:
        return "This trial was trained at a width multiplier, so its weights are not those of its architecture."
    if not weights_path(trial.id).exists() and not pruning_source_path(trial.id).exists():
        return ("Its trained weights were not kept: each search keeps the weights of its best completed trials "
                "only (NASWEB_KEEP_WEIGHTS), so there is nothing to prune.")
    return ""


def budget_metrics(trial: Trial, user) -> dict[str, str]:
    """Budget metric key -> label, for this trial's space: params, macs and the hardware-target costs."""
    targets = in_process_cost_metrics(trial.search.space.kind, project=trial.search.project, user=user)
    return {"params": BUDGET_KINDS["params"], "macs": BUDGET_KINDS["macs"], **targets}


def start_pruning_search(trial: Trial, user, request: PruningRequest) -> Search:
    """Validate, copy the parent's weights, create the search; its first advance is sent on commit."""
    reason = why_not_prunable(trial)
    if reason:
        raise ValidationError({"trial": reason})
    parent = trial.search
    metric = _budget_metric(trial, user, request)
    _check_numbers(request)
    # the trial's architecture in its space's full form (a trial of a pruning search prunes further)
    space = PrunedSpace(build_space(parent.space.kind, parent_spec(parent.space.spec)), trial.arch)
    _check_budget_fits(trial, user, space, metric, request.budget_value)
    gates = request.strategy == GATES
    spec = validate_search(  # the gates are not an ask/tell strategy: the rest is checked as for random
        parent.project, user=user, name=f"Prune trial {trial.number} of {parent.name}"[:120],
        space_kind=parent.space.kind, space_spec=parent_spec(parent.space.spec),
        strategy="random" if gates else request.strategy,
        objectives=[{"metric": "val_accuracy", "direction": "max"}],
        constraints=[{"metric": metric, "max": request.budget_value}],
        training={**parent.training, "epochs": request.finetune_epochs, "patience": 0},
        max_trials=1 if gates else _at_most(space, request.candidates), parallelism=1, seed=parent.seed,
        device=parent.device)
    spec.strategy = request.strategy
    _copy_parent_weights(trial.id)
    spec.space_kind, spec.space = parent.space.kind, space
    space_spec = {**parent_spec(parent.space.spec), PRUNED_FROM: {"trial": trial.id, "arch": trial.arch}}
    return create_search_rows(parent.project, user, spec, space_spec)


def _budget_metric(trial: Trial, user, request: PruningRequest) -> str:
    if request.budget_kind not in BUDGET_KINDS:
        raise ValidationError({"budget_kind": f"choose one of {sorted(BUDGET_KINDS)}"})
    if request.strategy not in PRUNING_STRATEGIES:
        raise ValidationError({"strategy": f"a pruning search uses one of {sorted(PRUNING_STRATEGIES)}"})
    if request.strategy == GATES and (request.budget_kind not in GATE_COSTS or trial.search.space.kind != "chain_mlp"):
        raise ValidationError({"strategy": "the learned gates prune chain MLPs under a parameter or MAC budget; "
                                           "choose another strategy for this trial or budget"})
    if request.budget_kind != "target":
        return request.budget_kind
    targets = in_process_cost_metrics(trial.search.space.kind, project=trial.search.project, user=user)
    if request.target_metric not in targets:
        raise ValidationError({"target_metric": "choose a hardware target you may use"
                                                + (f": one of {sorted(targets)}" if targets else " (none yet)")})
    return request.target_metric


def _check_numbers(request: PruningRequest) -> None:
    value = request.budget_value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value > 1e15:
        raise ValidationError({"budget_value": f"the budget must be a positive number, got {value!r}"})
    for name, limits in PRUNING_RANGES.items():
        try:
            limits.check(name, getattr(request, name))
        except SpecError as exc:
            raise ValidationError({name: exc.message}) from exc


def _check_budget_fits(trial: Trial, user, space: PrunedSpace, metric: str, limit: float) -> None:
    """Refuse a budget that even the smallest pruned model exceeds, or that the trained model meets."""
    cost = _cost_function(trial, user, space, metric)
    smallest = space.to_arch({d.name: min(d.choices) for d in space.decisions})
    smallest_cost, trained_cost = cost(smallest), cost(trial.arch)
    if smallest_cost > limit:
        raise ValidationError({"budget_value": f"even the smallest pruned model ({space.describe(smallest)}) has "
                                               f"{smallest_cost:g} {metric}, over the budget of {limit:g}"})
    if trained_cost <= limit:
        raise ValidationError({"budget_value": f"the trained model already fits: it has {trained_cost:g} {metric} "
                                               f"(budget {limit:g}); choose a smaller budget"})


def _cost_function(trial: Trial, user, space: PrunedSpace, metric: str):
    search = trial.search
    if "@" in metric:  # an unsaved search of the same project, started by this user: the targets they may use
        return cost_counter(Search(project=search.project, space=search.space, seed=search.seed, created_by=user),
                            metric)
    inputs = model_inputs(search.project.dataset, search.seed)
    counter = params_counter if metric == "params" else macs_counter
    return counter(space, inputs.input_shape, inputs.num_classes, inputs.task, inputs.vocab_size)


def _at_most(space: PrunedSpace, count: int) -> int:
    """min(count, the space's size), without counting a large space to its end."""
    return sum(1 for _ in itertools.islice(space.enumerate(), count))


def _copy_parent_weights(trial_id: int) -> None:
    """Keep the parent's weights for its pruning searches (write then rename: no half file)."""
    target = pruning_source_path(trial_id)
    if target.exists():
        return
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(weights_path(trial_id), temporary)
    os.replace(temporary, target)
