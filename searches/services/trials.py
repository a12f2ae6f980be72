"""Writers of one trial's life: created -> claimed by one worker -> epochs -> complete / pruned / failed."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import dispatch, events
from ..engine_setup import build_search_pruner, history_for
from ..models import Search, Trial, TrialMetric
from ..pruners import PRUNERS


def create_trial(search: Search, number: int, arch: dict, space) -> Trial:
    """A new queued trial, pushed and sent to the search's workers on commit (an external search's
    trials wait for a script to ask for them: services/external.py)."""
    trial = Trial.objects.create(search=search, number=number, arch=arch, arch_key=space.key(arch),
                                 description=space.describe(arch)[:300])
    events.trial_changed(trial)
    if search.evaluator == Search.WORKERS:
        dispatch.run_trial_later(trial.id, search.device)
    return trial


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
    return build_search_pruner(search)(trial.number, epoch, metrics[metric], history_for(search))


def complete_trial(trial_id: int, metrics: dict) -> bool:
    return finish_trial(trial_id, Trial.COMPLETE, metrics=metrics)


def fail_trial(trial_id: int, error: str) -> bool:
    return finish_trial(trial_id, Trial.FAILED, error=error)


def prune_trial(trial_id: int, reason: str = "", metrics: dict | None = None) -> bool:
    return finish_trial(trial_id, Trial.PRUNED, metrics=metrics, error=reason)


def cancel_trial(trial_id: int, reason: str) -> bool:
    return finish_trial(trial_id, Trial.CANCELLED, error=reason)


def finish_trial(trial_id: int, state: str, metrics: dict | None = None, error: str = "") -> bool:
    """Move an open trial to a final state (conditional: a finished trial stays as it is), then
    let the search fill the freed slot."""
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


def reap_stale_trials(search: Search) -> int:
    """Running trials whose worker stopped sending heartbeats are failed, freeing their slot."""
    cutoff = timezone.now() - timedelta(seconds=settings.NASWEB_TRIAL_STALE_SECONDS)
    stale = search.trials.filter(state=Trial.RUNNING, heartbeat_at__lt=cutoff)
    count = 0
    for trial in stale:
        count += fail_trial(trial.id, "worker lost: no heartbeat for "
                            f"{settings.NASWEB_TRIAL_STALE_SECONDS} s")
    return count


def requeue_orphaned_trials(search: Search, orphaned_worker_prefix: str) -> None:
    """Trials a dead process held go back to the queue, and every queued trial is sent again."""
    Trial.objects.filter(search=search, state=Trial.RUNNING,
                         worker__startswith=orphaned_worker_prefix).update(state=Trial.QUEUED, worker="")
    if search.evaluator != Search.WORKERS:
        return  # external trials are asked for by the user's script, never sent to our workers
    for trial_id in search.trials.filter(state=Trial.QUEUED).values_list("id", flat=True):
        dispatch.run_trial_later(trial_id, search.device)
