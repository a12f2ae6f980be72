"""The only functions that write hardware targets and measurements.

A target is one of four kinds; devices/costs/targets.py computes the costs of each. Benchmark targets
(HW-NAS-Bench's edge devices) answer NAS-Bench-201 cells by exact table lookup; the analytical target
counts MACs, FLOPs, memory, size and energy of the built model; both are computed in whatever process
asks. Measured targets time the model on a real worker: each registers itself when it starts and
consumes its own queue, `measure.<target id>`.

A trial's cost on a target is a Measurement row that is also its job: queued -> running -> done or
failed, claimed with a conditional update so a redelivered task never measures twice. Writes the
browser should see schedule the search's "trial.update" event on commit, which makes the device
comparison page refetch. Errors a user can cause are raised as ValidationError keyed by field.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from searches import events
from searches.dispatch import queue_name
from searches.models import Dataset, Search, Trial
from searches.spaces.nb201 import NB201Space

from .charts import format_cost
from .costs import hwnasbench
from .costs.targets import TARGET_KINDS, TargetError, estimate_costs, normalise_target_specs
from .models import HardwareTarget, Measurement

log = logging.getLogger(__name__)

KIND_LABELS = dict(HardwareTarget.KINDS)
#: Labels of the costs a target can rank architectures by (devices/costs/targets.py names them).
METRIC_LABELS = {
    "latency_ms": "latency (ms)", "latency_median_ms": "median latency (ms)", "latency_p90_ms": "p90 latency (ms)",
    "macs": "MACs", "flops": "FLOPs", "params": "parameters", "peak_memory_bytes": "peak memory",
    "activation_bytes": "activation memory", "size_fp32_bytes": "size (fp32)", "size_int8_bytes": "size (int8)",
    "energy_mj": "energy (mJ)",
}
DEFAULT_METRICS = {HardwareTarget.ANALYTICAL: "macs"}  # the others rank by latency_ms
ANALYTICAL_TARGET_NAME = "Analytical"
#: HW-NAS-Bench measured the NAS-Bench-201 cells only.
BENCHMARK_SPACE_KIND = NB201Space.kind
#: Benchmark datasets have no data to load; the NAS-Bench-201 CIFAR-10 networks take 32x32 RGB images.
BENCHMARK_INPUTS = {"nb201_cifar10": ((3, 32, 32), 10)}


# --- targets ------------------------------------------------------------------------------
def ranking_metrics(kind: str) -> tuple[str, ...]:
    """Costs a target of this kind stores. Benchmark targets store the table's latency only: the
    analytical target has the counts of the search's own model."""
    if kind == HardwareTarget.BENCHMARK:
        return ("latency_ms",)
    return TARGET_KINDS[kind].metrics


def validate_specs(kind: str, specs: dict | None) -> dict:
    """The specs with their defaults (devices/costs/targets.py); errors are keyed 'kind' or 'specs.<field>'."""
    if kind not in KIND_LABELS:
        raise ValidationError({"kind": f"unknown target kind {kind!r}; choose one of {', '.join(KIND_LABELS)}"})
    try:
        return normalise_target_specs(kind, specs)
    except TargetError as exc:
        raise ValidationError({"specs" if exc.field == "specs" else f"specs.{exc.field}": str(exc)}) from exc


def validate_metric(kind: str, metric: str | None) -> str:
    metric = metric or DEFAULT_METRICS.get(kind, "latency_ms")
    if metric not in ranking_metrics(kind):
        raise ValidationError({"metric": f"a {kind} target ranks by one of {', '.join(ranking_metrics(kind))}"})
    return metric


def create_target(name: str, kind: str, specs: dict | None = None, metric: str | None = None) -> HardwareTarget:
    """Validate everything first; a bad name, kind, setting or metric creates nothing.

    Measured targets are not made here: a worker registers its own (register_worker_target), since
    only that worker consumes the target's queue.
    """
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "a target needs a name"})
    if len(name) > 120:
        raise ValidationError({"name": "at most 120 characters"})
    if kind in HardwareTarget.MEASURED_KINDS:
        raise ValidationError({"kind": "measured targets register themselves when their worker starts"})
    clean, metric = validate_specs(kind, specs), validate_metric(kind, metric)
    taken = ValidationError({"name": f"a target named {name!r} exists already"})
    if HardwareTarget.objects.filter(name=name).exists():
        raise taken
    try:
        with transaction.atomic():
            return HardwareTarget.objects.create(name=name, kind=kind, specs=clean, metric=metric)
    except IntegrityError:  # created by someone else between the check and the insert
        raise taken from None


def worker_target_name(host: dict, device: str = "cpu") -> str:
    """"cpu: <model> (<n> cores) @ host" or "gpu: <name> @ host"; the host always fits in the name."""
    where = f" @ {host.get('hostname') or 'unknown host'}"[:60]
    if device == "gpu":
        label = f"gpu: {host.get('gpu_name') or 'unknown GPU'}"
    else:
        cores = host.get("cpu_usable_cores") or host.get("cpu_logical_cores") or "?"
        label = f"cpu: {host.get('cpu_model') or 'unknown CPU'} ({cores} cores)"
    return label[: 120 - len(where)] + where


def register_worker_target(host: dict, device: str = "cpu") -> HardwareTarget:
    """The measured target of the worker whose machine is `host` (measure.host_specs()); idempotent.

    A restart refreshes the host facts and last_seen_at and keeps the target's measurement settings.
    """
    kind = HardwareTarget.MEASURED_GPU if device == "gpu" else HardwareTarget.MEASURED_CPU
    with transaction.atomic():
        target, created = HardwareTarget.objects.select_for_update().get_or_create(
            name=worker_target_name(host, device),
            defaults={"kind": kind, "specs": validate_specs(kind, {}), "metric": validate_metric(kind, None),
                      "host": host, "last_seen_at": timezone.now()})
        if not created:
            target.kind, target.host, target.last_seen_at = kind, host, timezone.now()
            target.save(update_fields=["kind", "host", "last_seen_at"])
    return target


def measure_queue(target: HardwareTarget) -> str:
    return queue_name(f"measure.{target.id}")


def worker_measure_queue(host: dict, device: str = "cpu") -> str:
    """Register the worker's target and name the queue it must consume (devices/signals.py does both)."""
    return measure_queue(register_worker_target(host, device))


def default_target_specs() -> dict[str, tuple[str, dict]]:
    """name -> (kind, specs) of the targets every installation has."""
    defaults = {hwnasbench.DEVICE_LABELS[d]: (HardwareTarget.BENCHMARK, {"device": d}) for d in hwnasbench.DEVICES}
    defaults[ANALYTICAL_TARGET_NAME] = (HardwareTarget.ANALYTICAL, {})
    return defaults


def ensure_default_targets() -> list[HardwareTarget]:
    """The four HW-NAS-Bench edge devices and the analytical target; existing rows are left alone."""
    targets = []
    for name, (kind, specs) in default_target_specs().items():
        defaults = {"kind": kind, "specs": validate_specs(kind, specs), "metric": validate_metric(kind, None)}
        targets.append(HardwareTarget.objects.get_or_create(name=name, defaults=defaults)[0])
    return targets


def missing_default_targets() -> list[str]:
    names = list(default_target_specs())
    existing = set(HardwareTarget.objects.filter(name__in=names).values_list("name", flat=True))
    return [n for n in names if n not in existing]


# --- what a target answers -------------------------------------------------------------------
def target_applies(target: HardwareTarget, space_kind: str) -> bool:
    return target.kind != HardwareTarget.BENCHMARK or space_kind == BENCHMARK_SPACE_KIND


def not_applicable_reason(target: HardwareTarget, space_kind: str) -> str:
    if target_applies(target, space_kind):
        return ""
    return f"n/a: HW-NAS-Bench has {BENCHMARK_SPACE_KIND} cells only, not {space_kind} architectures"


def cost_metric(target: HardwareTarget) -> tuple[str, str]:
    """(metrics key, label) of the cost a target ranks architectures by."""
    key = target.metric or DEFAULT_METRICS.get(target.kind, "latency_ms")
    return key, METRIC_LABELS.get(key, key)


@dataclass(frozen=True)
class ModelInputs:
    input_shape: tuple
    num_classes: int
    task: str = "classification"
    vocab_size: int = 0


def model_inputs(search: Search) -> ModelInputs:
    """What the search's models take, from the project's dataset (loaded once per process)."""
    dataset = search.project.dataset
    if dataset.source == Dataset.BENCHMARK:
        shape, classes = BENCHMARK_INPUTS[dataset.builtin_key]
        return ModelInputs(shape, classes)
    from searches.runner import load_project_data

    data = load_project_data(dataset, search.seed)
    return ModelInputs(tuple(data.input_shape), data.num_classes, data.task, getattr(data, "vocab_size", 0))


def build_model(search: Search, arch: dict):
    inputs = model_inputs(search)
    model = search.space.build().to_torch(arch, inputs.input_shape, inputs.num_classes, task=inputs.task,
                                          vocab_size=inputs.vocab_size)
    return model, inputs


def arch_costs(search: Search, arch: dict, target: HardwareTarget, model_for=None) -> dict | None:
    """The costs of `arch` of this search on a target, computed here (devices/costs/targets.py), with
    the settings that produced them; None where the target does not apply. Writes nothing and needs
    no trial, so hard constraints can be checked before training. `model_for` (a no-argument callable
    returning (model, ModelInputs)) lets callers build the model once for several targets.

    Benchmark targets get no model: their latency is the table's, for the paper's CIFAR-10 network
    (C=16, N=5), and the counts of the search's own model belong to the analytical target.
    """
    space_kind = search.space.kind
    if not target_applies(target, space_kind):
        return None
    if target.kind == HardwareTarget.BENCHMARK:
        model, inputs = None, ModelInputs(*BENCHMARK_INPUTS["nb201_cifar10"])
    else:
        model, inputs = model_for() if model_for else build_model(search, arch)
    costs = estimate_costs(target.kind, target.specs, space_kind, arch, model, inputs.input_shape,
                           inputs.vocab_size)
    return {**costs, **normalise_target_specs(target.kind, target.specs)}


# --- measurements --------------------------------------------------------------------------
def record_measurement(target: HardwareTarget, metrics: dict, *, trial: Trial | None = None,
                       arch: dict | None = None, space_kind: str = "") -> Measurement:
    """Store finished costs: a trial's replace its earlier ones on that target; others add a row."""
    now = timezone.now()
    fields = {"state": Measurement.DONE, "metrics": metrics, "error": "", "finished_at": now}
    with transaction.atomic():
        if trial is None:
            if arch is None or not space_kind:
                raise ValueError("a measurement without a trial needs the arch and its space kind")
            return Measurement.objects.create(target=target, arch=arch, space_kind=space_kind, **fields)
        measurement, _ = Measurement.objects.update_or_create(
            trial=trial, target=target, defaults={**fields, "arch": trial.arch, "space_kind": _space_kind(trial)})
        events.trial_changed(trial)
    return measurement


def _space_kind(trial: Trial) -> str:
    return trial.search.space.kind


def _claim(trial: Trial, target: HardwareTarget) -> Measurement | None:
    """Queued (or stale running) -> running for exactly one caller; None when done or taken."""
    measurement, _ = Measurement.objects.get_or_create(
        trial=trial, target=target, defaults={"arch": trial.arch, "space_kind": _space_kind(trial)})
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.NASWEB_TRIAL_STALE_SECONDS)
    claimable = Q(state=Measurement.QUEUED) | Q(state=Measurement.RUNNING, started_at__lt=cutoff)
    if not Measurement.objects.filter(claimable, id=measurement.id).update(state=Measurement.RUNNING, started_at=now):
        return None
    measurement.refresh_from_db()
    return measurement


def _finish(measurement: Measurement, state: str, metrics: dict | None = None, error: str = "") -> None:
    Measurement.objects.filter(id=measurement.id, state=Measurement.RUNNING).update(
        state=state, metrics=metrics or {}, error=error[:5000], finished_at=timezone.now())


def _measure(trial: Trial, target: HardwareTarget, model_for=None) -> bool:
    """Claim, compute and store one trial's costs on one target; False when there was nothing to do."""
    measurement = _claim(trial, target)
    if measurement is None:
        return False
    try:
        metrics = arch_costs(trial.search, trial.arch, target, model_for)
    except Exception as exc:  # stored on the measurement: one bad model must not stop the others
        log.warning("costs of trial %s on %s failed: %s", trial.id, target, exc)
        _finish(measurement, Measurement.FAILED, error=f"{type(exc).__name__}: {exc}")
    else:
        _finish(measurement, Measurement.DONE, metrics=metrics)
    return True


def _trial(trial_id: int) -> Trial | None:
    return Trial.objects.select_related("search__space", "search__project__dataset").filter(id=trial_id).first()


def measure_trial_on_target(trial_id: int, target_id: int) -> Measurement | None:
    """The task's body: measure here, in this process. Unknown ids and n/a targets return None."""
    trial, target = _trial(trial_id), HardwareTarget.objects.filter(id=target_id).first()
    if trial is None or target is None or not target_applies(target, trial.search.space.kind):
        return None
    if _measure(trial, target):
        events.trial_changed(trial)
    return Measurement.objects.filter(trial=trial, target=target).first()


def request_measurement(trial: Trial, target: HardwareTarget) -> Measurement:
    """Queue the trial on the target's worker. A missing or still queued job is (re)sent: the
    claim makes a duplicate message harmless; done, running and failed jobs are left alone."""
    from . import tasks

    with transaction.atomic():
        measurement, created = Measurement.objects.get_or_create(
            trial=trial, target=target, defaults={"arch": trial.arch, "space_kind": _space_kind(trial)})
        if created or measurement.state == Measurement.QUEUED:
            tasks.measure_later(trial.id, target.id, measure_queue(target))
    return measurement


def costs_for_trial(trial: Trial, targets=None) -> dict[int, Measurement | None]:
    """Compute or request a finished trial's costs on each target (default: all, defaults included).

    Analytical and benchmark costs are computed now, in this process; measured targets get a task on
    their worker's queue (not in embedded mode, which has no such workers). Costs already there are
    kept. Never raises for one target: its failure is stored on its measurement.
    Returns target id -> measurement, None where the target does not apply to the trial's space.
    """
    if trial.state != Trial.COMPLETE:
        return {}
    targets = list(targets) if targets is not None else _all_targets()
    model_for = functools.cache(lambda: build_model(trial.search, trial.arch))
    computed = False
    for target in targets:
        if not target_applies(target, trial.search.space.kind):
            continue
        if not target.is_measured:
            computed |= _measure(trial, target, model_for)
        elif not settings.NASWEB_EMBEDDED_WORKER:
            request_measurement(trial, target)
    if computed:
        events.trial_changed(trial)  # one event for all targets: the comparison page refetches
    stored = {m.target_id: m for m in Measurement.objects.filter(trial=trial, target__in=targets)}
    return {t.id: stored.get(t.id) if target_applies(t, trial.search.space.kind) else None for t in targets}


def _all_targets() -> list[HardwareTarget]:
    ensure_default_targets()
    return list(HardwareTarget.objects.all())


def costs_for_search(search_id: int) -> int:
    """costs_for_trial for every complete trial of a search; returns how many trials were looked at."""
    trials = list(Trial.objects.select_related("search__space", "search__project__dataset")
                  .filter(search_id=search_id, state=Trial.COMPLETE))
    targets = _all_targets() if trials else []
    for trial in trials:
        costs_for_trial(trial, targets)
    return len(trials)


def request_search_costs(search: Search) -> None:
    """Compute the missing costs of a search's finished trials in the background."""
    from . import tasks

    ensure_default_targets()
    tasks.costs_for_search_later(search.id)


# --- reading: the comparison page's data -----------------------------------------------------------
TOP_TRIALS = 5


def _objective(search: Search) -> dict:
    return search.objectives[0] if search.objectives else {"metric": "val_accuracy", "direction": "max"}


def ranked_trials(search: Search) -> list[Trial]:
    """Complete trials with a value of the search's first objective, best first."""
    objective = _objective(search)
    trials = [t for t in search.trials.filter(state=Trial.COMPLETE)
              if isinstance((t.metrics or {}).get(objective["metric"]), (int, float))]
    best_first = objective["direction"] == "max"
    return sorted(trials, key=lambda t: (-t.metrics[objective["metric"]] if best_first
                                         else t.metrics[objective["metric"]], t.number))


def _cell(target: HardwareTarget, measurement: Measurement | None, space_kind: str) -> dict:
    """One trial's cost on one target: state done/n/a/missing/pending/failed, value, text and note."""
    if not target_applies(target, space_kind):
        return {"state": "n/a", "value": None, "text": "n/a", "note": not_applicable_reason(target, space_kind)}
    if measurement is None:
        return {"state": "missing", "value": None, "text": "–", "note": "not computed yet"}
    if measurement.state == Measurement.FAILED:
        return {"state": "failed", "value": None, "text": "failed", "note": measurement.error}
    if measurement.state != Measurement.DONE:
        return {"state": "pending", "value": None, "text": "pending", "note": f"{measurement.state} on its worker"}
    key = cost_metric(target)[0]
    value = measurement.metrics.get(key)
    return {"state": "done", "value": value, "text": format_cost(value, key), "note": ""}


def comparison(search: Search, chosen_ids: list[int] | None = None, highlight_id: int | None = None) -> dict:
    """Plain data for the device comparison page: every target, every ranked trial with its cost on
    each target, which trials are chosen (default: the best TOP_TRIALS) and which is highlighted."""
    trials = ranked_trials(search)
    targets = sorted(HardwareTarget.objects.all(), key=lambda t: (t.is_measured, t.kind, t.name))
    stored = {(m.trial_id, m.target_id): m for m in Measurement.objects.filter(trial__search=search)}
    chosen = set(chosen_ids) if chosen_ids is not None else {t.id for t in trials[:TOP_TRIALS]}
    ids = [t.id for t in trials]
    if highlight_id not in ids:
        highlight_id = next((i for i in ids if i in chosen), ids[0] if ids else None)
    space_kind = search.space.kind
    objective = _objective(search)
    return {
        "objective": objective,
        "targets": [{"id": t.id, "name": t.name, "kind": t.kind, "cost": cost_metric(t)[0],
                     "cost_label": cost_metric(t)[1], "applies": target_applies(t, space_kind),
                     "note": not_applicable_reason(t, space_kind)} for t in targets],
        "trials": [{"id": t.id, "number": t.number, "description": t.description,
                    "value": t.metrics[objective["metric"]], "chosen": t.id in chosen,
                    "costs": [_cell(target, stored.get((t.id, target.id)), space_kind) for target in targets]}
                   for t in trials],
        "highlight": highlight_id,
    }
