"""The only functions that write projects, searches and trials.

Views, tasks and consumers call these. Each write that the browser should see
schedules its Channels event with transaction.on_commit (searches/events.py),
and work for the workers is dispatched on commit too (searches/dispatch.py).
Errors a user can cause are raised as django ValidationError keyed by field.
"""

from __future__ import annotations

import logging
import math
import tempfile
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import candidates, dispatch, events
from .checks import SpecError
from .constraints import ConstraintError, build_checks, params_counter, validate_constraints
from .fidelity import thinner
from .models import Dataset, OneShotEpoch, Project, Search, SearchSpace, Trial, TrialMetric
from .oneshot.registry import ONESHOT_STRATEGIES
from .pruners import PRUNERS, build_pruner
from .spaces.registry import SPACES, build_space
from .strategies.base import Objective, TrialRecord
from .strategies.registry import STRATEGIES, build_strategy
from .strategies.warm_start import warm_start_history
from .training.datasets import BUILTIN_DATASETS

log = logging.getLogger(__name__)

DEFAULT_TRAINING = {"epochs": 5, "batch_size": 64, "lr": 3e-3, "optimizer": "adamw", "patience": 0}
TRAINING_LIMITS = {"epochs": (1, 500), "batch_size": (2, 4096), "patience": (0, 100)}
OPTIMIZERS = ("adamw", "sgd")
METRIC_DIRECTIONS = {"val_accuracy": "max", "test_accuracy": "max", "params": "min", "train_seconds": "min",
                     "val_perplexity": "min", "test_perplexity": "min"}


# --- projects and datasets -------------------------------------------------------------
def builtin_dataset(key: str) -> Dataset:
    if key not in BUILTIN_DATASETS:
        raise ValidationError({"dataset": f"unknown built-in dataset {key!r}"})
    entry = BUILTIN_DATASETS[key]
    dataset, _ = Dataset.objects.get_or_create(
        source=Dataset.BUILTIN, builtin_key=key,
        defaults={"name": entry.label, "task": entry.task},
    )
    return dataset


#: Benchmark "datasets": trials are answered by looking the architecture up in a table.
BENCHMARKS = {
    "nb201_cifar10": {"label": "NAS-Bench-201 CIFAR-10 (table lookup, no training)", "space_kind": "nb201"},
}


def benchmark_dataset(key: str) -> Dataset:
    if key not in BENCHMARKS:
        raise ValidationError({"dataset": f"unknown benchmark {key!r}"})
    dataset, _ = Dataset.objects.get_or_create(
        source=Dataset.BENCHMARK, builtin_key=key,
        defaults={"name": BENCHMARKS[key]["label"], "task": "classification"},
    )
    return dataset


def dataset_by_choice(choice: str) -> Dataset:
    """Form choices are 'builtin:digits' or 'benchmark:nb201_cifar10'."""
    source, _, key = choice.partition(":")
    if source == Dataset.BENCHMARK:
        return benchmark_dataset(key)
    return builtin_dataset(key)


def upload_dataset(owner, uploaded_file, fmt: str, options: dict) -> Dataset:
    """Check an uploaded file fully before anything is stored; a bad file stores nothing."""
    from .training.datasets import DatasetError
    from .training.uploads import UPLOAD_FORMATS, inspect_upload

    if fmt not in UPLOAD_FORMATS:
        raise ValidationError({"upload_format": f"unknown format {fmt!r}"})
    limit = settings.NASWEB_MAX_UPLOAD_BYTES
    if uploaded_file.size == 0:
        raise ValidationError({"upload_file": "the file is empty"})
    if uploaded_file.size > limit:
        raise ValidationError({"upload_file": f"the file is {uploaded_file.size / 2**20:.1f} MiB; "
                                              f"the limit is {limit / 2**20:.0f} MiB"})
    options = {k: v for k, v in options.items() if v not in (None, "")}
    with tempfile.NamedTemporaryFile(suffix=Path(uploaded_file.name).suffix) as tmp:
        for chunk in uploaded_file.chunks():
            tmp.write(chunk)
        tmp.flush()
        try:
            info = inspect_upload(tmp.name, fmt, limit, **options)
        except DatasetError as exc:
            raise ValidationError({"upload_file": f"{uploaded_file.name}: {exc}"}) from exc
    uploaded_file.seek(0)
    dataset = Dataset(name=Path(uploaded_file.name).name[:120], source=Dataset.UPLOAD, file_format=fmt,
                      options=options, task=info["task"], info=_jsonable(info), owner=owner)
    dataset.file.save(Path(uploaded_file.name).name, uploaded_file, save=False)
    dataset.save()
    return dataset


def _jsonable(info: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in info.items()}


def check_project_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "a project needs a name"})
    return name


def create_project(owner, name: str, dataset: Dataset, description: str = "", members=()) -> Project:
    name = check_project_name(name)
    with transaction.atomic():
        project = Project.objects.create(
            owner=owner, name=name, description=description, dataset=dataset, task=dataset.task,
        )
        project.members.add(*[m for m in members if m.id != owner.id])
    return project


def create_project_with_data(owner, name: str, description: str, members, dataset_choice: str,
                             upload=None, upload_format: str = "", upload_options: dict | None = None) -> Project:
    """Create a project on a built-in, benchmark or uploaded dataset, all or nothing."""
    check_project_name(name)
    if dataset_choice != "upload":
        return create_project(owner, name, dataset_by_choice(dataset_choice), description, members)
    if upload is None:
        raise ValidationError({"upload_file": "choose a file to upload"})
    with transaction.atomic():
        dataset = upload_dataset(owner, upload, upload_format, upload_options or {})
        try:
            return create_project(owner, name, dataset, description, members)
        except Exception:
            dataset.file.delete(save=False)  # the row rolls back; do not leave the file behind
            raise


# --- validation helpers ------------------------------------------------------------------
def _spec_error(exc: SpecError, prefix: str) -> ValidationError:
    return ValidationError({f"{prefix}{exc.field}": exc.message})


def validate_space(kind: str, spec: dict):
    if kind not in SPACES:
        raise ValidationError({"space_kind": f"unknown search space {kind!r}"})
    try:
        return build_space(kind, spec)
    except SpecError as exc:
        raise _spec_error(exc, "spec.") from exc


def _check_space_fits_dataset(dataset: Dataset, space_kind: str) -> None:
    if dataset.source == Dataset.BENCHMARK:
        wanted = BENCHMARKS[dataset.builtin_key]["space_kind"]
        if space_kind != wanted:
            raise ValidationError({"space_kind": f"a {dataset.name} project answers only {wanted} architectures"})
    elif dataset.task not in SPACES[space_kind].tasks:
        raise ValidationError({"space_kind": f"the {SPACES[space_kind].label} space cannot build models for "
                                             f"{dataset.get_task_display().lower()}"})


def _check_space_builds_for_data(space, dataset: Dataset, seed: int, width_multiplier: float = 1.0) -> None:
    """Build and run one sampled model on two samples, so a space that cannot take this
    data (say, a CNN on token sequences) is refused now rather than failing every trial."""
    if dataset.source == Dataset.BENCHMARK:
        return
    import random

    import torch

    from .runner import load_project_data

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
    merged = {**DEFAULT_TRAINING, **(training or {})}
    unknown = sorted(set(merged) - set(DEFAULT_TRAINING) - {"data_fraction", "weight_decay", "width_multiplier"})
    if unknown:
        raise ValidationError({f"training.{unknown[0]}": "is not a training setting"})
    for name, (low, high) in TRAINING_LIMITS.items():
        value = merged[name]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError({f"training.{name}": f"must be a whole number from {low} to {high}"})
    lr = merged["lr"]
    if not isinstance(lr, (int, float)) or not (0 < lr <= 10) or math.isnan(lr):
        raise ValidationError({"training.lr": "must be a number in (0, 10]"})
    if merged["optimizer"] not in OPTIMIZERS:
        raise ValidationError({"training.optimizer": f"must be one of {list(OPTIMIZERS)}"})
    fraction = merged.get("data_fraction", 1.0)
    if not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValidationError({"training.data_fraction": "must be in (0, 1]"})
    multiplier = merged.get("width_multiplier", 1.0)
    if not isinstance(multiplier, (int, float)) or not 0 < multiplier <= 4:
        raise ValidationError({"training.width_multiplier": "must be in (0, 4]"})
    return merged


def target_cost_metrics(space_kind: str) -> dict[str, str]:
    """Costs a search may optimise or bound, by key "<cost>@<target id>": label.

    Only targets answered in-process (edge-device tables, analytical counts):
    a measured latency would time whichever host proposes the architecture.
    """
    from devices.models import HardwareTarget
    from devices.services import cost_metric, target_applies

    out = {}
    for target in HardwareTarget.objects.exclude(kind__startswith="measured"):
        if target_applies(target, space_kind):
            key, label = cost_metric(target)
            out[f"{key}@{target.id}"] = f"{label} on {target.name}"
    return out


def validate_objectives(objectives: list | None, space_kind: str = "") -> list[dict]:
    objectives = objectives or [{"metric": "val_accuracy", "direction": "max"}]
    known = {**METRIC_DIRECTIONS, **{k: "min" for k in target_cost_metrics(space_kind)}}
    clean = []
    for item in objectives:
        metric = item.get("metric") if isinstance(item, dict) else None
        if metric not in known:
            raise ValidationError({"objectives": f"unknown or inapplicable metric {metric!r}; "
                                                 f"use one of {sorted(known)}"})
        direction = item.get("direction", known[metric])
        if direction not in ("max", "min"):
            raise ValidationError({"objectives": f"direction of {metric} must be max or min"})
        clean.append({"metric": metric, "direction": direction})
    return clean


def build_search_strategy(search: Search, space=None):
    space = space or search.space.build()
    primary = search.objectives[0] if search.objectives else {"metric": "val_accuracy", "direction": "max"}
    checks = build_checks(search.constraints, _constraint_counters(search, space)) if search.constraints else []
    return build_strategy(search.strategy, space, strategy_settings_for(search.strategy, search.strategy_settings,
                                                                       search.objectives),
                          search.seed, Objective(primary["metric"], primary["direction"]), checks)


def strategy_settings_for(strategy: str, settings: dict, objectives: list[dict]) -> dict:
    """Multi-objective strategies optimise the search's objectives unless their settings say otherwise."""
    if strategy == "nsga2" and "objectives" not in settings and len(objectives) >= 2:
        return {**settings, "objectives": objectives}
    return settings


def _constraint_counters(search: Search, space) -> dict:
    counters = {"params": _params_counter(search, space)}
    for spec in search.constraints:
        if "@" in spec["metric"]:
            counters[spec["metric"]] = _target_cost_counter(search, spec["metric"])
    return counters


def _target_cost_counter(search: Search, key: str):
    from devices.models import HardwareTarget
    from devices.services import arch_costs

    metric, _, target_id = key.partition("@")
    target = HardwareTarget.objects.get(id=int(target_id))
    return lambda arch: arch_costs(search, arch, target)[metric]


def target_costs_for_objectives(search: Search, arch: dict) -> dict:
    """The target costs this search optimises or bounds, as trial metrics ("latency_ms@3": 4.2)."""
    keys = {o["metric"] for o in search.objectives} | {c["metric"] for c in search.constraints}
    keys.add(str(search.strategy_settings.get("cost_metric", "")))  # MONAS's reward may weigh a device cost
    return {key: _target_cost_counter(search, key)(arch) for key in sorted(keys) if "@" in key}


def _params_counter(search: Search, space):
    dataset = search.project.dataset
    if dataset.source == Dataset.BENCHMARK:
        from .runner import benchmark_evaluator

        evaluator = benchmark_evaluator(dataset.builtin_key)
        return lambda arch: evaluator.evaluate(arch).get("params", 0)
    from .runner import load_project_data

    data = load_project_data(dataset, search.seed)
    return params_counter(space, data.input_shape, data.num_classes, data.task, data.vocab_size)


# --- starting and steering searches ------------------------------------------------------
def start_search(project: Project, user, *, name: str, space_kind: str, space_spec: dict | None,
                 strategy: str, strategy_settings: dict | None = None, objectives: list | None = None,
                 constraints: list | None = None, pruner: str = "", pruner_settings: dict | None = None,
                 warm_start_from=(), estimation: dict | None = None,
                 training: dict | None = None, max_trials: int | None = 10, max_seconds: int | None = None,
                 parallelism: int = 1, seed: int = 0, device: str = "cpu") -> Search:
    """Validate everything first, then create space + search in one transaction."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "a search needs a name"})
    space = validate_space(space_kind, space_spec or {})
    _check_space_fits_dataset(project.dataset, space_kind)
    if strategy not in STRATEGIES and strategy not in ONESHOT_STRATEGIES:
        raise ValidationError({"strategy": f"unknown strategy {strategy!r}"})
    try:
        constraints = validate_constraints(constraints or [], frozenset(target_cost_metrics(space_kind)))
    except ConstraintError as exc:
        raise ValidationError({"constraints": str(exc)}) from exc
    objectives = validate_objectives(objectives, space_kind)
    cost_metric = str((strategy_settings or {}).get("cost_metric", ""))
    if "@" in cost_metric and cost_metric not in target_cost_metrics(space_kind):
        raise ValidationError({"strategy_settings": f"cost_metric {cost_metric!r} names no hardware target cost "
                                                    f"that applies to this space"})
    if strategy in ONESHOT_STRATEGIES:
        _check_oneshot(project.dataset, space, strategy, strategy_settings or {}, seed)
    else:
        try:
            build_strategy(strategy, space, strategy_settings_for(strategy, strategy_settings or {}, objectives), seed)
        except SpecError as exc:
            raise _spec_error(exc, "strategy_settings.") from exc
    training = validate_training(training or {})
    _check_space_builds_for_data(space, project.dataset, seed, training.get("width_multiplier", 1.0))
    _check_pruner(pruner, pruner_settings or {}, objectives[0], training["epochs"])
    warm_start_from = _check_warm_start(project, space_kind, warm_start_from)
    try:
        estimation = candidates.validate_estimation(estimation or {})
    except candidates.EstimationError as exc:
        raise ValidationError({exc.field: str(exc)}) from exc
    if not max_trials and not max_seconds:
        raise ValidationError({"max_trials": "give a budget in trials, in seconds, or both"})
    if not 1 <= parallelism <= 64:
        raise ValidationError({"parallelism": "must be from 1 to 64"})
    if device not in dict(Search.DEVICES):
        raise ValidationError({"device": f"must be one of {[d for d, _ in Search.DEVICES]}"})
    with transaction.atomic():
        space_row = SearchSpace.objects.create(project=project, name=f"{name} space", kind=space_kind,
                                               spec=space.spec)
        search = Search.objects.create(
            project=project, space=space_row, name=name, strategy=strategy,
            strategy_settings=strategy_settings or {}, objectives=objectives, constraints=constraints,
            training=training, estimation=estimation, pruner=pruner or "", pruner_settings=pruner_settings or {},
            max_trials=max_trials or None,
            max_seconds=max_seconds or None, parallelism=parallelism, seed=seed, device=device,
            created_by=user,
        )
        search.warm_start_from.set(warm_start_from)
        dispatch.advance_later(search.id)
    return search


#: One-shot settings the web side handles itself (the rest go to the engine).
ONESHOT_WEB_SETTINGS = {"latency_target": "", "rank_check_archs": 0}
LATENCY_TARGETS = ("raspi4", "pixel3", "eyeriss", "fpga", "cpu", "macs")


def split_oneshot_settings(settings: dict) -> tuple[dict, dict]:
    """(engine settings, web settings) of a one-shot search."""
    web = {k: settings.get(k, default) for k, default in ONESHOT_WEB_SETTINGS.items()}
    return {k: v for k, v in settings.items() if k not in ONESHOT_WEB_SETTINGS}, web


def _check_oneshot(dataset: Dataset, space, strategy: str, settings: dict, seed: int) -> None:
    from .oneshot.registry import build_oneshot
    from .runner import load_project_data

    if dataset.source == Dataset.BENCHMARK:
        raise ValidationError({"strategy": "one-shot search trains a supernet on data; a benchmark table has none"})
    engine, web = split_oneshot_settings(settings)
    if web["latency_target"] and (strategy != "proxyless" or web["latency_target"] not in LATENCY_TARGETS):
        raise ValidationError({"strategy_settings": f"latency_target is for proxyless, one of {list(LATENCY_TARGETS)}"})
    if not isinstance(web["rank_check_archs"], int) or not 0 <= web["rank_check_archs"] <= 200:
        raise ValidationError({"strategy_settings": "rank_check_archs must be a whole number from 0 to 200"})
    extra = {}
    if web["latency_target"]:
        from .oneshot.supernet import choice_label

        # Shape only: the real table is built by the worker that trains the supernet.
        extra["latency_table"] = {d.name: {choice_label(c): 1.0 for c in d.choices} for d in space.decisions}
    try:
        build_oneshot(strategy, space, load_project_data(dataset, seed), engine, seed, **extra)
    except SpecError as exc:
        field = "space_kind" if exc.field in ("space", "dataset") else f"strategy_settings.{exc.field}"
        raise ValidationError({field: exc.message}) from exc


def _check_pruner(pruner: str, settings: dict, objective: dict, epochs: int) -> None:
    if not pruner:
        return
    if pruner not in PRUNERS:
        raise ValidationError({"pruner": f"unknown pruner {pruner!r}"})
    try:
        build_pruner(pruner, settings, objective["direction"], epochs, objective["metric"])
    except SpecError as exc:
        field = "pruner" if exc.field == "pruner" else "pruner_settings"
        raise ValidationError({field: exc.message if field == "pruner" else str(exc)}) from exc


def _check_warm_start(project: Project, space_kind: str, searches) -> list[Search]:
    searches = list(searches)
    for other in searches:
        if other.project_id != project.id or other.space.kind != space_kind:
            raise ValidationError({"warm_start_from": f"“{other.name}” is not a {space_kind} search of this project"})
    return searches


def pause_search(search: Search) -> bool:
    return _set_state(search, from_states=Search.ACTIVE_STATES, to=Search.PAUSED)


def resume_search(search: Search) -> bool:
    changed = _set_state(search, from_states=(Search.PAUSED,), to=Search.RUNNING)
    if changed:
        dispatch.advance_later(search.id)
    return changed


def cancel_search(search: Search) -> bool:
    """Stop a search: queued trials are cancelled now, running ones at their next epoch."""
    with transaction.atomic():
        changed = _set_state(search, from_states=(*Search.ACTIVE_STATES, Search.PAUSED), to=Search.CANCELLED)
        if changed:
            for trial in search.trials.filter(state__in=Trial.OPEN_STATES):
                _finish(trial.id, Trial.CANCELLED, error="search cancelled")
    return changed


def _set_state(search: Search, from_states, to: str) -> bool:
    fields = {"state": to}
    if to in Search.FINAL_STATES:
        fields["finished_at"] = timezone.now()
    with transaction.atomic():
        updated = Search.objects.filter(id=search.id, state__in=from_states).update(**fields)
        if updated:
            search.refresh_from_db()
            events.search_changed(search)
    return bool(updated)


# --- the search loop ----------------------------------------------------------------------
def history_for(search: Search, trials=None) -> list[TrialRecord]:
    trials = trials if trials is not None else search.trials.all()
    curves = _curves(search, trials)
    return [
        TrialRecord(t.number, t.arch, t.state, t.metrics, tuple(curves.get(t.id, ())))
        for t in sorted(trials, key=lambda t: t.number)
    ]


def _curves(search: Search, trials) -> dict[int, list[float]]:
    metric = search.primary_metric
    out: dict[int, list[float]] = {}
    rows = TrialMetric.objects.filter(trial__in=[t.id for t in trials], name=metric).order_by("trial_id", "epoch")
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


def advance_search(search_id: int) -> list[int]:
    """Ask the strategy for trials up to the parallelism limit; finish the search when spent.

    Idempotent: the search row is locked, so two workers advancing at once create
    each trial once.
    """
    with transaction.atomic():
        search = Search.objects.select_for_update().filter(id=search_id).first()
        if search is None or search.state not in Search.ACTIVE_STATES:
            return []
        if search.state == Search.QUEUED:
            search.state, search.started_at = Search.RUNNING, timezone.now()
            search.save(update_fields=["state", "started_at"])
            events.search_changed(search)
        reap_stale_trials(search)
        trials = list(search.trials.all())
        open_count = sum(t.state in Trial.OPEN_STATES for t in trials)
        if search.strategy in ONESHOT_STRATEGIES:
            _advance_oneshot(search, open_count)
            return []
        wanted = min(search.parallelism - open_count, _trials_left(search, len(trials)))
        try:
            created = _create_trials(search, trials, wanted) if wanted > 0 else []
        except Exception as exc:  # a broken strategy fails the search, with the reason shown
            log.exception("strategy failed for search %s", search.id)
            _fail_search(search, f"the {search.strategy} strategy failed: {type(exc).__name__}: {exc}")
            return []
        if not created and open_count == 0:
            _complete_search(search, exhausted=wanted > 0)
    return [t.id for t in created]


def _advance_oneshot(search: Search, open_count: int) -> None:
    """A one-shot search is one supernet task, then any retrains the user asks for."""
    if not search.oneshot_result and not search.oneshot_worker:
        dispatch.run_oneshot_later(search.id, search.device)
    elif search.oneshot_result and open_count == 0:
        _complete_search(search, exhausted=False)


def _trials_left(search: Search, created: int) -> int:
    left = search.max_trials - created if search.max_trials else 10**9
    if search.max_seconds and search.started_at:
        if timezone.now() - search.started_at >= timedelta(seconds=search.max_seconds):
            return 0
    return max(left, 0)


def _create_trials(search: Search, trials: list[Trial], wanted: int) -> list[Trial]:
    space = search.space.build()
    strategy = build_search_strategy(search, space)
    history = prior_history(search, space) + history_for(search, trials)
    estimation = {**candidates.DEFAULTS, **search.estimation}
    proposals = strategy.ask(history, candidates.pool_size(estimation, wanted))
    proposals = _choose_candidates(search, space, proposals, wanted, history, estimation)
    next_number = (max((t.number for t in trials), default=0)) + 1
    created = []
    for offset, arch in enumerate(proposals[:wanted]):
        trial = Trial.objects.create(
            search=search, number=next_number + offset, arch=arch, arch_key=space.key(arch),
            description=space.describe(arch)[:300],
        )
        created.append(trial)
        events.trial_changed(trial)
        dispatch.run_trial_later(trial.id, search.device)
    return created


def _choose_candidates(search: Search, space, proposals, wanted, history, estimation) -> list[dict]:
    if not estimation["prerank_proxy"] and not estimation["surrogate_quantile"]:
        return proposals[:wanted]
    objective = search.objectives[0] if search.objectives else {"metric": "val_accuracy", "direction": "max"}
    data = None
    if search.project.dataset.source != Dataset.BENCHMARK:
        from .runner import load_project_data

        data = load_project_data(search.project.dataset, search.seed)
    return candidates.choose(space, proposals, wanted, history, estimation, metric=objective["metric"],
                             direction=objective["direction"], data=data, seed=search.seed + len(history))


def _complete_search(search: Search, exhausted: bool) -> None:
    search.state, search.finished_at = Search.DONE, timezone.now()
    if exhausted:
        search.error = "the strategy found no new architecture: the search space is exhausted"
    search.save(update_fields=["state", "finished_at", "error"])
    events.search_changed(search)


def _fail_search(search: Search, error: str) -> None:
    Search.objects.filter(id=search.id).update(state=Search.FAILED, error=error, finished_at=timezone.now())
    search.refresh_from_db()
    events.search_changed(search)


def reap_stale_trials(search: Search) -> int:
    """Running trials whose worker stopped sending heartbeats are failed, freeing their slot."""
    cutoff = timezone.now() - timedelta(seconds=settings.NASWEB_TRIAL_STALE_SECONDS)
    stale = search.trials.filter(state=Trial.RUNNING, heartbeat_at__lt=cutoff)
    count = 0
    for trial in stale:
        count += _finish(trial.id, Trial.FAILED, error="worker lost: no heartbeat for "
                         f"{settings.NASWEB_TRIAL_STALE_SECONDS} s")
    return count


def recover_active_searches(orphaned_worker_prefix: str) -> int:
    """After a restart: requeue trials the dead process held and advance every active search."""
    searches = list(Search.objects.filter(state__in=Search.ACTIVE_STATES))
    for search in searches:
        with transaction.atomic():
            Trial.objects.filter(search=search, state=Trial.RUNNING,
                                 worker__startswith=orphaned_worker_prefix).update(state=Trial.QUEUED, worker="")
            Search.objects.filter(id=search.id, oneshot_result={},
                                  oneshot_worker__startswith=orphaned_worker_prefix).update(oneshot_worker="")
            for trial_id in search.trials.filter(state=Trial.QUEUED).values_list("id", flat=True):
                dispatch.run_trial_later(trial_id, search.device)
            dispatch.advance_later(search.id)
    return len(searches)


# --- one trial's life ------------------------------------------------------------------------
def claim_trial(trial_id: int, worker: str, device: str) -> Trial | None:
    """QUEUED -> RUNNING for exactly one worker; None if someone else has it or it is gone.

    A RUNNING trial with a stale heartbeat may be claimed again (its worker died
    and the broker redelivered the task).
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.NASWEB_TRIAL_STALE_SECONDS)
    claimable = Q(state=Trial.QUEUED) | Q(state=Trial.RUNNING, heartbeat_at__lt=cutoff)
    with transaction.atomic():
        open_search = Search.ACTIVE_STATES + (Search.PAUSED,)
        updated = (Trial.objects.filter(claimable, id=trial_id, search__state__in=open_search)
                   .update(state=Trial.RUNNING, worker=worker[:200], device=device[:60], started_at=now,
                           heartbeat_at=now, epochs_done=0))
        if not updated:
            return None
        trial = Trial.objects.select_related("search", "search__space", "search__project__dataset").get(id=trial_id)
        events.trial_changed(trial)
    return trial


def record_epoch(trial_id: int, epoch: int, metrics: dict) -> bool:
    """Store one epoch's metrics and beat the heart. False tells the trainer to stop."""
    clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    with transaction.atomic():
        updated = Trial.objects.filter(id=trial_id, state=Trial.RUNNING).update(
            epochs_done=epoch, heartbeat_at=timezone.now())
        if not updated:
            return False  # cancelled, pruned or reaped meanwhile
        TrialMetric.objects.bulk_create(
            [TrialMetric(trial_id=trial_id, epoch=epoch, name=k, value=v) for k, v in clean.items()],
            update_conflicts=True, unique_fields=["trial", "epoch", "name"], update_fields=["value"],
        )
        trial = Trial.objects.select_related("search").get(id=trial_id)
        events.epoch_recorded(trial, epoch, clean)
        if _should_prune(trial, epoch, clean):
            prune_trial(trial_id, f"pruned by {PRUNERS[trial.search.pruner].label} after epoch {epoch}",
                        {**clean, "pruned_at_epoch": epoch})
            return False
    return not Search.objects.filter(id=trial.search_id, state=Search.CANCELLED).exists()


def _should_prune(trial: Trial, epoch: int, metrics: dict) -> bool:
    search = trial.search
    metric = search.primary_metric
    if not search.pruner or metric not in metrics:
        return False
    direction = search.objectives[0]["direction"] if search.objectives else "max"
    should_stop = build_pruner(search.pruner, search.pruner_settings, direction, search.training["epochs"], metric)
    return should_stop(trial.number, epoch, metrics[metric], history_for(search))


def complete_trial(trial_id: int, metrics: dict) -> bool:
    return _finish(trial_id, Trial.COMPLETE, metrics=metrics)


def fail_trial(trial_id: int, error: str) -> bool:
    return _finish(trial_id, Trial.FAILED, error=error)


def prune_trial(trial_id: int, reason: str = "", metrics: dict | None = None) -> bool:
    return _finish(trial_id, Trial.PRUNED, metrics=metrics, error=reason)


def _finish(trial_id: int, state: str, metrics: dict | None = None, error: str = "") -> bool:
    """Move an open trial to a final state (conditional: a finished trial stays as it is)."""
    fields = {"state": state, "finished_at": timezone.now(), "error": error[:5000]}
    if metrics is not None:
        fields.update(metrics=metrics, val_accuracy=metrics.get("val_accuracy"), params=metrics.get("params"))
    with transaction.atomic():
        updated = Trial.objects.filter(id=trial_id, state__in=Trial.OPEN_STATES).update(**fields)
        if updated:
            trial = Trial.objects.get(id=trial_id)
            events.trial_changed(trial)
            dispatch.advance_later(trial.search_id)
    return bool(updated)



# --- one-shot searches ------------------------------------------------------------------------
def claim_oneshot(search_id: int, worker: str) -> Search | None:
    updated = Search.objects.filter(id=search_id, state=Search.RUNNING, oneshot_worker="").update(
        oneshot_worker=worker[:200])
    if not updated:
        return None
    return Search.objects.select_related("space", "project__dataset").get(id=search_id)


def record_oneshot_epoch(search_id: int, epoch: int, info: dict) -> bool:
    """Store one supernet epoch and push it; False tells the one-shot loop to stop."""
    with transaction.atomic():
        OneShotEpoch.objects.update_or_create(search_id=search_id, epoch=epoch, defaults={"info": info})
        events.send_on_commit(search_id, {"type": "oneshot.update", "epoch": epoch})
    return not Search.objects.filter(id=search_id, state=Search.CANCELLED).exists()


def finish_oneshot(search_id: int, result: dict) -> None:
    with transaction.atomic():
        Search.objects.filter(id=search_id).update(oneshot_result=result)
        events.send_on_commit(search_id, {"type": "oneshot.update", "epoch": result.get("epochs_run")})
        dispatch.advance_later(search_id)


def fail_oneshot(search_id: int, error: str) -> None:
    with transaction.atomic():
        search = Search.objects.get(id=search_id)
        if search.state == Search.RUNNING:
            _fail_search(search, error)


def retrain_architecture(search: Search, arch: dict) -> Trial:
    """Train an architecture (e.g. the one a supernet derived) as an ordinary trial of the search."""
    space = search.space.build()
    try:
        space.validate_arch(arch)
    except SpecError as exc:
        raise ValidationError({"arch": exc.message}) from exc
    key = space.key(arch)
    with transaction.atomic():
        search = Search.objects.select_for_update().get(id=search.id)
        existing = search.trials.filter(arch_key=key).first()
        if existing is not None:
            raise ValidationError({"arch": f"this architecture is already trial {existing.number}"})
        if search.state not in (Search.RUNNING, Search.DONE):
            raise ValidationError({"arch": f"the search is {search.state}"})
        if search.state == Search.DONE:
            search.state, search.finished_at = Search.RUNNING, None
            search.save(update_fields=["state", "finished_at"])
            events.search_changed(search)
        number = (search.trials.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        trial = Trial.objects.create(search=search, number=number, arch=arch, arch_key=key,
                                     description=space.describe(arch)[:300])
        events.trial_changed(trial)
        dispatch.run_trial_later(trial.id, search.device)
    return trial
