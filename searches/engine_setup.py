"""A stored search's engine objects: its strategy, pruner, constraint checks and history.

Data access for the engine, like engine_data.py: strategies are stateless (ask/tell), so
any process rebuilds them from the rows here and continues the search. Reads only.
"""

from __future__ import annotations

from devices.target_costs import cost_counter

from .checks import SpecError
from .constraints import build_checks, macs_counter, params_counter
from .engine_data import evaluator_for, is_benchmark, load_project_data, model_inputs
from .models import Search, TrialMetric
from .pruners import build_pruner
from .strategies.base import Objective, TrialRecord
from .strategies.registry import STRATEGIES, build_strategy
from .strategies.warm_start import warm_start_history


def strategy_settings_for(strategy: str, settings: dict, objectives: list[dict]) -> dict:
    """Multi-objective strategies optimise the search's objectives unless their settings say otherwise."""
    multi_objective = strategy in STRATEGIES and STRATEGIES[strategy].multi_objective
    if multi_objective and "objectives" not in settings and len(objectives) >= 2:
        return {**settings, "objectives": objectives}
    return settings


def build_search_strategy(search: Search, space=None):
    space = space or search.space.build()
    primary = search.primary_objective
    checks = build_checks(search.constraints, constraint_counters(search, space)) if search.constraints else []
    settings = strategy_settings_for(search.strategy, search.strategy_settings, search.objectives)
    return build_strategy(search.strategy, space, settings, search.seed,
                          Objective(primary["metric"], primary["direction"]), checks)


def build_search_pruner(search: Search):
    """(trial number, epoch, value, history) -> stop now?, for a search that has a pruner."""
    objective = search.primary_objective
    return build_pruner(search.pruner, search.pruner_settings, objective["direction"], search.training["epochs"],
                        objective["metric"])


def constraint_counters(search: Search, space) -> dict:
    counters = {"params": params_counter_for(search, space)}
    if any(spec["metric"] == "macs" for spec in search.constraints):
        inputs = model_inputs(search.project.dataset, search.seed)
        counters["macs"] = macs_counter(space, inputs.input_shape, inputs.num_classes, inputs.task, inputs.vocab_size)
    for spec in search.constraints:
        if "@" in spec["metric"]:
            counters[spec["metric"]] = cost_counter(search, spec["metric"])
    return counters


def params_counter_for(search: Search, space):
    dataset = search.project.dataset
    if is_benchmark(dataset):
        evaluator = evaluator_for(dataset)
        return lambda arch: evaluator.evaluate(arch).get("params", 0)
    data = load_project_data(dataset, search.seed)
    return params_counter(space, data.input_shape, data.num_classes, data.task, data.vocab_size)


def target_costs_for_objectives(search: Search, arch: dict) -> dict:
    """The target costs this search optimises or bounds, as trial metrics ("latency_ms@3": 4.2)."""
    keys = {o["metric"] for o in search.objectives} | {c["metric"] for c in search.constraints}
    keys.add(str(search.strategy_settings.get("cost_metric", "")))  # MONAS's reward may weigh a device cost
    return {key: cost_counter(search, key)(arch) for key in sorted(keys) if "@" in key}


def history_for(search: Search, trials=None, curves: bool = True) -> list[TrialRecord]:
    """The search's trials as the engine sees them; `curves=False` leaves the per-epoch curves out
    (only pruners read them; strategies never do), which saves reading every epoch row."""
    trials = trials if trials is not None else search.trials.all()
    curves = _curves(search, trials) if curves else {}
    return [
        TrialRecord(t.number, t.arch, t.state, t.metrics, tuple(curves.get(t.id, ())), t.arch_key)
        for t in sorted(trials, key=lambda t: t.number)
    ]


def _curves(search: Search, trials) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    rows = (TrialMetric.objects.filter(trial__in=[t.id for t in trials], name=search.primary_metric)
            .order_by("trial_id", "epoch"))
    for trial_id, value in rows.values_list("trial_id", "value"):
        out.setdefault(trial_id, []).append(value)
    return out


def prior_history(search: Search, space) -> list[TrialRecord]:
    """Finished trials of the searches this one warm-starts from, valid in this space."""
    prior = []
    for other in search.warm_start_from.order_by("created_at"):
        for record in history_for(other):
            try:
                space.validate_arch(record.arch)
            except SpecError:
                continue  # the earlier space allowed choices this one does not
            prior.append(record)
    return warm_start_history(prior)
