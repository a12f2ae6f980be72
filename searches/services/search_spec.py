"""Validation of a new search, free of writes: every field is checked before anything is created.

`validate_search` returns a SearchSpec of clean values or raises a django ValidationError keyed by
the form's field ("spec.layers", "strategy_settings.population", "training.lr"). It builds and runs one
sampled model on two samples of the project's data, so a space that cannot take this data is refused
now rather than failing every trial.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch
from django.core.exceptions import ValidationError

from devices.target_costs import in_process_cost_metrics

from .. import candidates
from ..benchmarks.registry import BENCHMARKS
from ..checks import FloatRange, IntRange, SpecError
from ..constraints import ConstraintError, validate_constraints
from ..engine_data import is_benchmark, load_project_data
from ..engine_setup import strategy_settings_for
from ..fidelity import thinner
from ..models import Dataset, Project, Search
from ..oneshot.registry import ONESHOT_STRATEGIES, build_oneshot
from ..oneshot.supernet import choice_label
from ..oneshot.supernets import SUPERNETS
from ..pruners import PRUNERS, build_pruner
from ..spaces.registry import SPACES, build_space
from ..strategies.base import DEFAULT_OBJECTIVE
from ..strategies.registry import STRATEGIES, build_strategy
from ..strategies.settings_checks import UnknownSetting, describe_schema
from ..training.settings import validate_training as check_training_settings
from .oneshot import LATENCY_TARGETS, RANK_CHECK_ARCHS, oneshot_web_schema, split_oneshot_settings

#: Metrics every search can rank by, with the direction that is better.
METRIC_DIRECTIONS = {"val_accuracy": "max", "test_accuracy": "max", "params": "min", "train_seconds": "min",
                     "val_perplexity": "min", "test_perplexity": "min"}
#: The limits of a search's numbers, read by the form for its fields and checked here for every caller:
#: each fits the column that stores it (PostgreSQL integer, numpy's seed) and means something.
SEARCH_RANGES = {
    "seed": IntRange(0, 2**31 - 1),
    "max_trials": IntRange(1, 100_000),
    "max_seconds": IntRange(1, 366 * 24 * 3600),
    "parallelism": IntRange(1, 64),
}
#: Hard limits of a search's constraints: parameters, and a cost on a hardware target (ms, MACs, ...).
CONSTRAINT_RANGES = {"max_params": IntRange(1, 10**12), "cost_limit": FloatRange(0, 1e15, open_low=True)}


@dataclass
class SearchSpec:
    """A new search's settings, all checked; start_search writes exactly these."""

    name: str
    space_kind: str
    space: object
    strategy: str
    strategy_settings: dict
    objectives: list[dict]
    constraints: list[dict]
    pruner: str
    pruner_settings: dict
    warm_start_from: list = field(default_factory=list)
    estimation: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    max_trials: int | None = None
    max_seconds: int | None = None
    parallelism: int = 1
    seed: int = 0
    device: str = "cpu"
    evaluator: str = Search.WORKERS


def validate_search(project: Project, *, name: str, space_kind: str, space_spec: dict | None,
                    strategy: str, strategy_settings: dict | None = None, objectives: list | None = None,
                    constraints: list | None = None, pruner: str = "", pruner_settings: dict | None = None,
                    warm_start_from=(), estimation: dict | None = None,
                    training: dict | None = None, max_trials: int | None = 10, max_seconds: int | None = None,
                    parallelism: int = 1, seed: int = 0, device: str = "cpu", user=None,
                    evaluator: str = Search.WORKERS) -> SearchSpec:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationError({"name": "a search needs a name"})
    if len(name) > Search._meta.get_field("name").max_length:
        raise ValidationError({"name": f"at most {Search._meta.get_field('name').max_length} characters"})
    _check_numbers(seed=seed, parallelism=parallelism, max_trials=max_trials, max_seconds=max_seconds)
    _check_no_nul(name=name, space_spec=space_spec, strategy_settings=strategy_settings, objectives=objectives,
                  constraints=constraints, pruner=pruner, pruner_settings=pruner_settings, estimation=estimation,
                  training=training)
    space = validate_space(space_kind, space_spec or {})
    check_space_fits_dataset(project.dataset, space_kind)
    if strategy not in STRATEGIES and strategy not in ONESHOT_STRATEGIES:
        raise ValidationError({"strategy": f"unknown strategy {strategy!r}"})
    _check_evaluator(evaluator, project.dataset, strategy)
    strategy_settings = strategy_settings or {}
    cost_metrics = in_process_cost_metrics(space_kind, project=project, user=user)  # targets they may use
    try:
        constraints = validate_constraints(constraints or [], frozenset(cost_metrics))
    except ConstraintError as exc:
        raise ValidationError({"constraints": str(exc)}) from exc
    _check_constraint_limits(constraints)
    objectives = validate_objectives(objectives, cost_metrics)
    if strategy == "nsga2" and len(objectives) < 2 and "objectives" not in strategy_settings:
        raise ValidationError({"objectives": "NSGA-II optimises two objectives at once: choose a second objective "
                                             "(say, fewest parameters)"})
    _check_cost_metric_setting(strategy_settings, cost_metrics)
    if strategy in ONESHOT_STRATEGIES:
        _check_oneshot(project.dataset, space, strategy, strategy_settings, seed)
    else:
        _check_strategy(strategy, space, strategy_settings_for(strategy, strategy_settings, objectives), seed)
    training = validate_training(training or {})
    _check_space_builds_for_data(space, project.dataset, seed, training.get("width_multiplier", 1.0))
    _check_pruner(pruner, pruner_settings or {}, objectives[0], training["epochs"])
    warm_start_from = _check_warm_start(project, space_kind, warm_start_from)
    estimation = _check_estimation(estimation or {})
    if not max_trials and not max_seconds:
        raise ValidationError({"max_trials": "give a budget in trials, in seconds, or both"})
    if device not in dict(Search.DEVICES):
        raise ValidationError({"device": f"must be one of {[d for d, _ in Search.DEVICES]}"})
    return SearchSpec(name=name, space_kind=space_kind, space=space, strategy=strategy,
                      strategy_settings=strategy_settings, objectives=objectives, constraints=constraints,
                      pruner=pruner or "", pruner_settings=pruner_settings or {}, warm_start_from=warm_start_from,
                      estimation=estimation, training=training, max_trials=max_trials or None,
                      max_seconds=max_seconds or None, parallelism=parallelism, seed=seed, device=device,
                      evaluator=evaluator)


def _check_numbers(**values) -> None:
    """Each number in its SEARCH_RANGES range; a budget may also be None (no limit of that kind)."""
    for name, value in values.items():
        if value is None and name in ("max_trials", "max_seconds"):
            continue
        try:
            SEARCH_RANGES[name].check(name, value)
        except SpecError as exc:
            raise ValidationError({name: exc.message}) from exc


def _check_constraint_limits(constraints: list[dict]) -> None:
    """A limit beyond any architecture (or beyond what a float column holds) is refused, by its form field."""
    for spec in constraints:
        field_name = "max_params" if spec["metric"] == "params" else "cost_limit"
        high = CONSTRAINT_RANGES[field_name].high
        if not spec["max"] <= high:
            raise ValidationError({field_name: f"must be at most {high:g}, got {spec['max']:g}"})


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_holds_nul(v) for v in value)
    return False


def _check_no_nul(**fields) -> None:
    """PostgreSQL stores no NUL character in text or JSON: refuse it by name rather than fail on save."""
    for name, value in fields.items():
        if _holds_nul(value):
            raise ValidationError({name: "contains a NUL character (\\u0000), which cannot be stored"})


def _spec_error(exc: SpecError, prefix: str) -> ValidationError:
    return ValidationError({f"{prefix}{exc.field}": exc.message})


def validate_space(kind: str, spec: dict):
    if kind not in SPACES:
        raise ValidationError({"space_kind": f"unknown search space {kind!r}"})
    try:
        return build_space(kind, spec)
    except SpecError as exc:
        raise _spec_error(exc, "spec.") from exc


def check_space_fits_dataset(dataset: Dataset, space_kind: str) -> None:
    if is_benchmark(dataset):
        wanted = BENCHMARKS[dataset.builtin_key].space_kind
        if space_kind != wanted:
            raise ValidationError({"space_kind": f"a {dataset.name} project answers only {wanted} architectures"})
    elif dataset.task not in SPACES[space_kind].tasks:
        raise ValidationError({"space_kind": f"the {SPACES[space_kind].label} space cannot build models for "
                                             f"{dataset.get_task_display().lower()}"})


def _check_space_builds_for_data(space, dataset: Dataset, seed: int, width_multiplier: float = 1.0) -> None:
    """Build and run one sampled model on two samples, so a space that cannot take this
    data (say, a CNN on token sequences) is refused now rather than failing every trial."""
    if is_benchmark(dataset):
        return
    data = load_project_data(dataset, seed)
    try:
        built_space, arch = thinner(space, space.sample(random.Random(seed)), width_multiplier)
        model = built_space.to_torch(arch, data.input_shape, data.num_classes, task=data.task,
                                     vocab_size=data.vocab_size)
        model.eval()
        with torch.no_grad():
            model(data.x_train[:2])
    except Exception as exc:
        raise ValidationError({"space_kind": f"the {space.label} space cannot build a model for "
                                             f"{dataset.name}: {exc}"}) from exc


def validate_training(training: dict) -> dict:
    try:
        return check_training_settings(training)
    except SpecError as exc:
        raise _spec_error(exc, "training.") from exc


def validate_objectives(objectives: list | None, cost_metrics: dict[str, str]) -> list[dict]:
    objectives = objectives or [DEFAULT_OBJECTIVE.as_dict()]
    known = {**METRIC_DIRECTIONS, **{k: "min" for k in cost_metrics}}
    clean = []
    for item in objectives:
        metric = item.get("metric") if isinstance(item, dict) else None
        if not isinstance(metric, str) or metric not in known:
            raise ValidationError({"objectives": f"unknown or inapplicable metric {metric!r}; "
                                                 f"use one of {sorted(known)}"})
        direction = item.get("direction", known[metric])
        if direction not in ("max", "min"):
            raise ValidationError({"objectives": f"direction of {metric} must be max or min"})
        clean.append({"metric": metric, "direction": direction})
    return clean


def _check_cost_metric_setting(strategy_settings: dict, cost_metrics: dict[str, str]) -> None:
    cost_metric = str(strategy_settings.get("cost_metric", ""))
    if "@" in cost_metric and cost_metric not in cost_metrics:
        raise ValidationError({"strategy_settings": f"cost_metric {cost_metric!r} names no hardware target cost "
                                                    f"that applies to this space"})


def _check_strategy(strategy: str, space, settings: dict, seed: int) -> None:
    try:
        build_strategy(strategy, space, settings, seed)
    except UnknownSetting as exc:
        message = _unknown(exc, STRATEGIES[strategy].settings_schema(space))
        raise ValidationError({f"strategy_settings.{exc.field}": message}) from exc
    except SpecError as exc:
        raise _spec_error(exc, "strategy_settings.") from exc


def _unknown(exc: UnknownSetting, schema) -> str:
    """'is not a setting of the evolution strategy; its settings are population_size: ... (default 10); ...'"""
    return f"{exc.message}; {describe_schema(schema)}"


def settings_schema(strategy: str, space) -> list:
    """The chosen strategy's settings (SettingInfo), the web side's one-shot settings included."""
    if strategy in ONESHOT_STRATEGIES:
        return ONESHOT_STRATEGIES[strategy].settings_schema(space) + oneshot_web_schema(strategy)
    return STRATEGIES[strategy].settings_schema(space) if strategy in STRATEGIES else []


def _check_oneshot(dataset: Dataset, space, strategy: str, settings: dict, seed: int) -> None:
    if is_benchmark(dataset):
        raise ValidationError({"strategy": "one-shot search trains a supernet on data; a benchmark table has none"})
    if space.kind not in SUPERNETS:
        supported = ", ".join(SPACES[kind].label for kind in SUPERNETS)
        raise ValidationError({"space_kind": f"{ONESHOT_STRATEGIES[strategy].label} trains one supernet, and the "
                                             f"{space.label} space has none; choose one of {supported}, or a "
                                             f"trial-by-trial strategy"})
    engine, web = split_oneshot_settings(settings)
    if web["latency_target"] and (strategy != "proxyless" or web["latency_target"] not in LATENCY_TARGETS):
        raise ValidationError({"strategy_settings": f"latency_target is for proxyless, one of {list(LATENCY_TARGETS)}"})
    try:
        RANK_CHECK_ARCHS.check("rank_check_archs", web["rank_check_archs"])
    except SpecError as exc:
        raise _spec_error(exc, "strategy_settings.") from exc
    extra = {}
    if web["latency_target"]:
        # Shape only: the real table is built by the worker that trains the supernet.
        extra["latency_table"] = {d.name: {choice_label(c): 1.0 for c in d.choices} for d in space.decisions}
    try:
        build_oneshot(strategy, space, load_project_data(dataset, seed), engine, seed, **extra)
    except UnknownSetting as exc:
        message = _unknown(exc, settings_schema(strategy, space))
        raise ValidationError({f"strategy_settings.{exc.field}": message}) from exc
    except SpecError as exc:
        field_name = "space_kind" if exc.field in ("space", "dataset") else f"strategy_settings.{exc.field}"
        raise ValidationError({field_name: exc.message}) from exc


def _check_pruner(pruner: str, settings: dict, objective: dict, epochs: int) -> None:
    if not pruner:
        return
    if pruner not in PRUNERS:
        raise ValidationError({"pruner": f"unknown pruner {pruner!r}"})
    try:
        build_pruner(pruner, settings, objective["direction"], epochs, objective["metric"])
    except UnknownSetting as exc:
        message = _unknown(exc, PRUNERS[pruner].settings_schema())
        raise ValidationError({"pruner_settings": f"{exc.field}: {message}"}) from exc
    except SpecError as exc:
        field_name = "pruner" if exc.field == "pruner" else "pruner_settings"
        raise ValidationError({field_name: exc.message if field_name == "pruner" else str(exc)}) from exc
    if epochs < 2:
        raise ValidationError({"pruner": f"early stopping stops a trial between epochs; with {epochs} epoch per trial "
                                         "there is nothing to stop: train 2 or more epochs, or choose none"})


def _check_evaluator(evaluator: str, dataset: Dataset, strategy: str) -> None:
    if evaluator not in dict(Search.EVALUATORS):
        raise ValidationError({"evaluator": f"must be one of {[e for e, _ in Search.EVALUATORS]}"})
    if evaluator == Search.EXTERNAL and strategy in ONESHOT_STRATEGIES:
        raise ValidationError({"evaluator": "a one-shot search trains its supernet on our workers; "
                                            "choose a trial-by-trial strategy for your own training code"})
    if evaluator == Search.EXTERNAL and is_benchmark(dataset):
        raise ValidationError({"evaluator": f"a {dataset.name} project's trials are answered from its table"})


def _check_warm_start(project: Project, space_kind: str, searches) -> list[Search]:
    searches = list(searches)
    for other in searches:
        if other.project_id != project.id or other.space.kind != space_kind:
            raise ValidationError({"warm_start_from": f"“{other.name}” is not a {space_kind} search of this project"})
    return searches


def _check_estimation(estimation: dict) -> dict:
    try:
        return candidates.validate_estimation(estimation)
    except candidates.EstimationError as exc:
        raise ValidationError({exc.field: str(exc)}) from exc
