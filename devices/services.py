"""The only functions that write hardware targets and measurements.

A target is one of four kinds; devices/costs/targets.py computes the costs of each. Benchmark targets
(HW-NAS-Bench's edge devices) answer NAS-Bench-201 cells by exact table lookup; the analytical target
counts MACs, FLOPs, memory, size and energy of the built model; both are computed in whatever process
asks. Measured targets time the model on a real worker: each registers itself when it starts and
consumes its own queue, `measure.<target id>`.

Costs are off the trial path. When a trial completes, the runner asks schedule_trial_costs whether it
matters (the search's top NASWEB_MEASURE_TOP_K by its first objective, or on the Pareto front of its
first two): a trial that does not costs two queries and no task; one that does gets its costs on
every target, reused where a done measurement of the same architecture exists (cost_key: space,
settings, dataset and architecture key, in any search), and the rest is sent to the measuring
workers (`make measure-worker`): one costs_for_trial task on the `measure` queue for the analytical
and edge targets, and measured targets' jobs on their own `measure.<id>` queues. The device page
asks for any other trial on request.

A trial's cost on a target is a Measurement row that is also its job: queued -> running -> done or
failed, claimed with a conditional update so a redelivered task never measures twice. Writes the
browser should see schedule the search's "trial.update" event on commit, which makes the device
comparison page refetch. Errors a user can cause are raised as ValidationError keyed by field.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, FloatField, Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from searches import dispatch, events
from searches.engine_data import build_model
from searches.models import Search, Trial

from .access import targets_for_search
from .costs import hwnasbench
from .costs.targets import TargetError, normalise_target_specs
from .models import HardwareTarget, Measurement
from .target_costs import DEFAULT_METRICS, arch_costs, ranking_metrics, target_applies

log = logging.getLogger(__name__)

KIND_LABELS = dict(HardwareTarget.KINDS)
ANALYTICAL_TARGET_NAME = "Analytical"


# --- targets ------------------------------------------------------------------------------
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


def create_target(name: str, kind: str, specs: dict | None = None, metric: str | None = None, *,
                  owner=None, project=None) -> HardwareTarget:
    """Validate everything first; a bad name, kind, setting or metric creates nothing.

    `owner` made it (and alone may change it); with `project`, that project's members may use it too.
    Without an owner the target is shared (built-in ones; the admin). Measured targets are not made
    here: a worker registers its own (register_worker_target), since only that worker consumes the
    target's queue.
    """
    name, clean, metric = _validate_target(name, kind, specs, metric, owner)
    if project is not None and owner is not None and not _may_use_project(owner, project):
        raise ValidationError({"project": "you are not a member of that project"})
    try:
        with transaction.atomic():
            return HardwareTarget.objects.create(name=name, kind=kind, specs=clean, metric=metric, owner=owner,
                                                 project=project)
    except IntegrityError:  # created by someone else between the check and the insert
        raise _name_taken(name) from None


def update_target(target: HardwareTarget, name: str, kind: str, specs: dict | None = None,
                  metric: str | None = None, *, project=None) -> HardwareTarget:
    """Change a user's own target (the caller checked ownership: devices/access.own_target). Its stored
    costs were computed with the old settings, so they are dropped and computed again on request."""
    if target.is_shared or target.is_measured:
        raise ValidationError({"name": "shared targets are changed in the admin"})
    name, clean, metric = _validate_target(name, kind, specs, metric, target.owner, exclude_id=target.id)
    if project is not None and not _may_use_project(target.owner, project):
        raise ValidationError({"project": "you are not a member of that project"})
    changed_costs = (kind, clean, metric) != (target.kind, target.specs, target.metric)
    with transaction.atomic():
        target.name, target.kind, target.specs, target.metric, target.project = name, kind, clean, metric, project
        target.save(update_fields=["name", "kind", "specs", "metric", "project"])
        if changed_costs:
            target.measurements.all().delete()
    return target


def delete_target(target: HardwareTarget) -> None:
    """Delete a user's own target with its measurements (the caller checked ownership)."""
    if target.is_shared:
        raise ValidationError({"name": "shared targets are changed in the admin"})
    target.delete()


def _may_use_project(user, project) -> bool:
    return project.owner_id == user.id or project.members.filter(id=user.id).exists()


def _validate_target(name, kind, specs, metric, owner, exclude_id=None) -> tuple[str, dict, str]:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "a target needs a name"})
    if len(name) > 120:
        raise ValidationError({"name": "at most 120 characters"})
    if kind in HardwareTarget.MEASURED_KINDS:
        raise ValidationError({"kind": "measured targets register themselves when their worker starts"})
    clean, metric = validate_specs(kind, specs), validate_metric(kind, metric)
    same_name = HardwareTarget.objects.filter(Q(owner__isnull=True) | Q(owner=owner), name=name)
    if same_name.exclude(id=exclude_id).exists():
        raise _name_taken(name)
    return name, clean, metric


def _name_taken(name: str) -> ValidationError:
    return ValidationError({"name": f"a target named {name!r} exists already"})


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
            name=worker_target_name(host, device), owner=None,
            defaults={"kind": kind, "specs": validate_specs(kind, {}), "metric": validate_metric(kind, None),
                      "host": host, "last_seen_at": timezone.now()})
        if not created:
            target.kind, target.host, target.last_seen_at = kind, host, timezone.now()
            target.save(update_fields=["kind", "host", "last_seen_at"])
    return target


def worker_measure_queue(host: dict, device: str = "cpu") -> str:
    """Register the worker's target and name the queue it must consume (devices/signals.py does both)."""
    return dispatch.measure_queue(register_worker_target(host, device).id)


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
        targets.append(HardwareTarget.objects.get_or_create(name=name, owner=None, defaults=defaults)[0])
    return targets


def missing_default_targets() -> list[str]:
    names = list(default_target_specs())
    existing = set(HardwareTarget.objects.filter(name__in=names, owner=None).values_list("name", flat=True))
    return [n for n in names if n not in existing]


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
            trial=trial, target=target, defaults={**fields, **_job_defaults(trial)})
        events.trial_changed(trial)
    return measurement


def _space_kind(trial: Trial) -> str:
    return trial.search.space.kind


def cost_key(trial: Trial) -> str:
    """What an architecture's costs depend on, hashed: the space (kind and settings), the dataset (its
    input shape and classes) and the architecture's canonical key. Equal keys, equal costs."""
    search = trial.search
    facts = [search.space.kind, search.space.spec, search.project.dataset_id, trial.arch_key]
    return hashlib.sha1(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()


def _job_defaults(trial: Trial) -> dict:
    return {"arch": trial.arch, "space_kind": _space_kind(trial), "cost_key": cost_key(trial)}


def _claim(trial: Trial, target: HardwareTarget) -> Measurement | None:
    """Queued (or stale running) -> running for exactly one caller; None when done or taken."""
    measurement, _ = Measurement.objects.get_or_create(trial=trial, target=target, defaults=_job_defaults(trial))
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.NASWEB_MEASUREMENT_STALE_SECONDS)
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
    earlier = _done_elsewhere([target], measurement.cost_key or cost_key(trial), trial).get(target.id)
    if earlier is not None:  # the same architecture was measured on this target already
        _finish(measurement, Measurement.DONE, metrics=earlier)
        return True
    try:
        metrics = arch_costs(trial.search, trial.arch, target, model_for)
    except Exception as exc:  # stored on the measurement: one bad model must not stop the others
        log.warning("costs of trial %s on %s failed: %s", trial.id, target, exc)
        _finish(measurement, Measurement.FAILED, error=f"{type(exc).__name__}: {exc}")
    else:
        _finish(measurement, Measurement.DONE, metrics=metrics)
    return True


def _done_elsewhere(targets, key: str, trial: Trial) -> dict[int, dict]:
    """target id -> metrics of a done measurement with this cost key (another trial's), one query."""
    rows = (Measurement.objects.filter(target__in=targets, cost_key=key, state=Measurement.DONE)
            .exclude(trial=trial).order_by("target_id", "-finished_at").values_list("target_id", "metrics"))
    found: dict[int, dict] = {}
    for target_id, metrics in rows:
        found.setdefault(target_id, metrics)
    return found


def _trial(trial_id: int) -> Trial | None:
    return Trial.objects.select_related("search__space", "search__project__dataset").filter(id=trial_id).first()



def measure_trial_on_target(trial_id: int, target_id: int) -> Measurement | None:
    """The task's body: measure here, in this process. Unknown ids and n/a targets return None."""
    trial, target = _trial(trial_id), HardwareTarget.objects.filter(id=target_id).first()
    if trial is None or target is None or not target_applies(target, trial.search.space.kind):
        return None
    if not targets_for_search(trial.search).filter(id=target.id).exists():
        return None  # someone else's target: never measured on this search's trials
    if _measure(trial, target):
        events.trial_changed(trial)
    return Measurement.objects.filter(trial=trial, target=target).first()


def request_measurement(trial: Trial, target: HardwareTarget) -> Measurement:
    """Queue the trial on the target's worker. A missing or still queued job is (re)sent: the
    claim makes a duplicate message harmless; done, running and failed jobs are left alone."""
    with transaction.atomic():
        measurement, created = Measurement.objects.get_or_create(trial=trial, target=target,
                                                                 defaults=_job_defaults(trial))
        if created or measurement.state == Measurement.QUEUED:
            dispatch.measure_later(trial.id, target.id)
    return measurement


#: At most this many stalled measurements are sent again per sweep (the rest in the next ones).
RESEND_BATCH = 200


def resend_stalled_measurements() -> int:
    """Measurements RUNNING for longer than NASWEB_MEASUREMENT_STALE_SECONDS go back to QUEUED and
    their job is sent again; how many. Called by the recovery sweep (searches/tasks.py).

    A measurement has no heartbeat: a measuring worker that died, or lost the database between its
    claim and its result, leaves the row RUNNING, and nothing else would ever send its job again. The
    conditional update makes two sweeps at once send each job once; a slow holder that is still
    measuring finishes its row all the same (both write the same costs)."""
    if settings.NASWEB_EMBEDDED_WORKER:
        return 0  # no measuring workers: measured targets are not queued in embedded mode
    cutoff = timezone.now() - timedelta(seconds=settings.NASWEB_MEASUREMENT_STALE_SECONDS)
    stalled = list(Measurement.objects.filter(state=Measurement.RUNNING, started_at__lt=cutoff, trial__isnull=False)
                   .order_by("started_at").values_list("id", "trial_id", "target_id")[:RESEND_BATCH])
    resent = 0
    for measurement_id, trial_id, target_id in stalled:
        with transaction.atomic():
            if Measurement.objects.filter(id=measurement_id, state=Measurement.RUNNING,
                                          started_at__lt=cutoff).update(state=Measurement.QUEUED):
                dispatch.measure_later(trial_id, target_id)
                resent += 1
    if resent:
        log.warning("sent %s stalled device measurements again", resent)
    return resent


def costs_for_trial(trial: Trial, targets=None) -> dict[int, Measurement | None]:
    """Compute or request a finished trial's costs on each target (default: every target its search may
    use, devices/access.py, the default ones included).

    Analytical and benchmark costs are computed now, in this process; measured targets get a task on
    their worker's queue (not in embedded mode, which has no such workers). Costs already there are
    kept. Never raises for one target: its failure is stored on its measurement.
    Returns target id -> measurement, None where the target does not apply to the trial's space.
    """
    if trial.state != Trial.COMPLETE:
        return {}
    targets = list(targets) if targets is not None else _targets_for(trial.search)
    model_for = functools.cache(lambda: build_model(trial.search, trial.arch))
    applicable = [t for t in targets if target_applies(t, trial.search.space.kind)]
    have = set(Measurement.objects.filter(trial=trial, target__in=applicable).values_list("target_id", flat=True))
    computed = _reuse(trial, [t for t in applicable if t.id not in have]) > 0
    for target in applicable:
        if not target.is_measured:
            computed |= _measure(trial, target, model_for)
        elif not settings.NASWEB_EMBEDDED_WORKER:
            request_measurement(trial, target)
    if computed:
        events.trial_changed(trial)  # one event for all targets: the comparison page refetches
    stored = {m.target_id: m for m in Measurement.objects.filter(trial=trial, target__in=targets)}
    return {t.id: stored.get(t.id) if target_applies(t, trial.search.space.kind) else None for t in targets}


def _targets_for(search: Search) -> list[HardwareTarget]:
    if missing_default_targets():  # one query on the trial path; the five inserts happen once
        ensure_default_targets()
    return list(targets_for_search(search))


def _reuse(trial: Trial, targets) -> int:
    """Copy done measurements of the same architecture (any search) for this trial; how many."""
    if not targets:
        return 0
    key = cost_key(trial)
    found = _done_elsewhere(targets, key, trial)
    now = timezone.now()
    rows = [Measurement(trial=trial, target_id=target_id, arch=trial.arch, space_kind=_space_kind(trial),
                        cost_key=key, state=Measurement.DONE, metrics=metrics, finished_at=now)
            for target_id, metrics in found.items()]
    Measurement.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# --- which trials are measured -----------------------------------------------------------------
def _value(metric: str):
    if metric in ("val_accuracy", "params"):
        return F(metric)
    return Cast(KeyTextTransform(metric, "metrics"), FloatField())


def _as_good(alias: str, direction: str, value, strictly: bool = False) -> Q:
    """alias's value is at least as good as `value` (strictly better when asked), in SQL."""
    op = ("gt" if strictly else "gte") if direction == "max" else ("lt" if strictly else "lte")
    return Q(**{f"{alias}__{op}": value})


def trial_matters(trial: Trial, top_k: int | None = None) -> bool:
    """In the search's top k by its first objective, or not beaten on both of its first two objectives
    (the Pareto front as it stands); one or two queries, on the trials' values only."""
    top_k = settings.NASWEB_MEASURE_TOP_K if top_k is None else top_k
    objectives = trial.search.objectives or [trial.search.primary_objective]
    first, metrics = objectives[0], trial.metrics or {}
    value = metrics.get(first["metric"])
    if not isinstance(value, (int, float)):
        return False
    peers = (Trial.objects.filter(search_id=trial.search_id, state=Trial.COMPLETE).exclude(id=trial.id)
             .annotate(a=_value(first["metric"])))
    if top_k and peers.filter(_as_good("a", first["direction"], value, strictly=True)).count() < top_k:
        return True
    if len(objectives) < 2 or not isinstance(metrics.get(objectives[1]["metric"]), (int, float)):
        return False
    second = objectives[1]
    other = metrics[second["metric"]]
    beaten = peers.annotate(b=_value(second["metric"])).filter(
        (_as_good("a", first["direction"], value) & _as_good("b", second["direction"], other, strictly=True))
        | (_as_good("a", first["direction"], value, strictly=True) & _as_good("b", second["direction"], other)))
    return not beaten.exists()


def schedule_trial_costs(trial: Trial) -> bool:
    """The trial path's cost bookkeeping: a trial that matters gets its costs from the measuring
    workers (one task; the measured targets' jobs follow from it); True when it was sent."""
    if trial.state != Trial.COMPLETE or not trial_matters(trial):
        return False
    dispatch.costs_for_trial_later(trial.id)
    return True


def schedule_answered_costs(search: Search, earlier: list[Trial], answered: list[Trial]) -> list[int]:
    """schedule_trial_costs for trials answered together (table lookups in the advance step), decided
    on the values in hand, without a query: trial_matters's rule against the search's complete trials,
    the batch included. Returns the ids sent."""
    top_k = settings.NASWEB_MEASURE_TOP_K
    objectives = search.objectives or [search.primary_objective]
    complete = [t for t in earlier if t.state == Trial.COMPLETE] + answered
    first = objectives[0]
    sign = 1 if first["direction"] == "max" else -1
    firsts = sorted(sign * v for t in complete if (v := _number(t, first["metric"])) is not None)
    sent = []
    for trial in answered:
        value = _number(trial, first["metric"])
        if value is None:
            continue
        better = len(firsts) - bisect.bisect_right(firsts, sign * value)
        if (top_k and better < top_k) or (len(objectives) > 1 and _on_front(trial, complete, objectives)):
            dispatch.costs_for_trial_later(trial.id)
            sent.append(trial.id)
    return sent


def _number(trial: Trial, metric: str) -> float | None:
    value = (trial.metrics or {}).get(metric)
    return float(value) if isinstance(value, (int, float)) else None


def _on_front(trial: Trial, complete: list[Trial], objectives: list[dict]) -> bool:
    """Not beaten on both of the first two objectives by another complete trial."""
    (m1, d1), (m2, d2) = [(o["metric"], 1 if o["direction"] == "max" else -1) for o in objectives[:2]]
    a, b = _number(trial, m1), _number(trial, m2)
    if a is None or b is None:
        return False
    for other in complete:
        x, y = _number(other, m1), _number(other, m2)
        if other is trial or x is None or y is None:
            continue
        if (d1 * x >= d1 * a and d2 * y > d2 * b) or (d1 * x > d1 * a and d2 * y >= d2 * b):
            return False
    return True


def request_trial_costs(trial: Trial) -> None:
    """Any trial on request (the device page): its costs on every target, from the measuring workers."""
    if trial.state == Trial.COMPLETE:
        dispatch.costs_for_trial_later(trial.id)


def costs_for_trial_id(trial_id: int) -> dict[int, Measurement | None]:
    """The costs_for_trial task's body: unknown ids return quietly."""
    trial = _trial(trial_id)
    return costs_for_trial(trial) if trial is not None else {}


def costs_for_search(search_id: int) -> int:
    """costs_for_trial for every complete trial of a search; returns how many trials were looked at."""
    trials = list(Trial.objects.select_related("search__space", "search__project__dataset")
                  .filter(search_id=search_id, state=Trial.COMPLETE))
    targets = _targets_for(trials[0].search) if trials else []
    for trial in trials:
        costs_for_trial(trial, targets)
    return len(trials)


def request_search_costs(search: Search) -> None:
    """Compute the missing costs of a search's finished trials in the background."""
    ensure_default_targets()
    dispatch.costs_for_search_later(search.id)
