"""Writers of one trial's life: created -> claimed by one worker -> epochs -> complete / pruned / failed."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .. import dispatch, events
from ..engine_data import checkpoints_of, discard_files
from ..engine_setup import build_search_pruner, history_for
from ..models import Search, Trial, TrialMetric
from ..pruners import PRUNERS

#: Searches whose queued trials a worker may claim (claim_trial's condition): a paused search's queued
#: trials still run, it only stops proposing new ones.
OPEN_FOR_CLAIMS = Search.ACTIVE_STATES + (Search.PAUSED,)


def create_trial(search: Search, number: int, arch: dict, space) -> Trial:
    """A new queued trial, pushed and sent to the search's workers on commit (an external search's
    trials wait for a script to ask for them: services/external.py)."""
    trial = Trial.objects.create(search=search, number=number, arch=arch, arch_key=space.key(arch),
                                 description=space.describe(arch)[:300], queued_at=timezone.now())
    events.trial_changed(trial)
    if search.evaluator == Search.WORKERS:
        dispatch.run_trial_later(trial.id, search.device)
    return trial


def claim_trial(trial_id: int, worker: str, device: str, pid: int | None = None,
                take_over_attempt: int | None = None) -> Trial | None:
    """QUEUED -> RUNNING for exactly one worker, raising the attempt (the fencing token); None if
    someone else has it, it is finished or gone.

    A RUNNING trial may be claimed again when its heartbeat is stale, or when the caller knows that
    the holder of `take_over_attempt` is dead (a process of this host that no longer exists). The
    earlier holder's writes are refused from then on.
    """
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.NASWEB_TRIAL_STALE_SECONDS)
    claimable = Q(state=Trial.QUEUED) | Q(state=Trial.RUNNING, heartbeat_at__lt=cutoff)
    if take_over_attempt is not None:
        claimable |= Q(state=Trial.RUNNING, attempt=take_over_attempt)
    with transaction.atomic():
        updated = (Trial.objects.filter(claimable, id=trial_id, search__state__in=OPEN_FOR_CLAIMS)
                   .update(state=Trial.RUNNING, worker=worker[:200], device=device[:60], started_at=now,
                           heartbeat_at=now, epochs_done=0, attempt=F("attempt") + 1, worker_pid=pid))
        if not updated:
            return None
        trial = Trial.objects.select_related("search", "search__space", "search__project__dataset").get(id=trial_id)
        events.trial_changed(trial)
    return trial


def searches_in_turn(device, own_trial_id: int | None = None):
    """The fair order of a device queue's free slot (Celery's run_trial message is such a slot, not a
    trial: runner.py): the searches with queued trials, the one with the fewest running trials first,
    ties by the search served least recently (its latest claim; never served first), then by age. Each
    is annotated with `next_trial`, its lowest numbered queued trial, or `own_trial_id` when that is one
    of its queued trials. `device` is "cpu"/"gpu" or an OuterRef to one."""
    trials = Trial.objects.filter(search=OuterRef("pk"))
    queued = trials.filter(state=Trial.QUEUED)
    running = (trials.filter(state=Trial.RUNNING).order_by().values("search")
               .annotate(n=Count("id")).values("n"))
    served = trials.filter(started_at__isnull=False).order_by("-started_at").values("started_at")[:1]
    lowest = queued.order_by("number").values("id")[:1]
    next_trial = Subquery(lowest)
    if own_trial_id is not None:
        next_trial = Coalesce(Subquery(queued.filter(id=own_trial_id).order_by().values("id")[:1]), next_trial)
    return (Search.objects.filter(Exists(queued), state__in=OPEN_FOR_CLAIMS, device=device,
                                  evaluator=Search.WORKERS)
            .annotate(running=Coalesce(Subquery(running, output_field=IntegerField()), Value(0)),
                      served=Subquery(served), next_trial=next_trial)
            .order_by("running", F("served").asc(nulls_first=True), "id"))


def trial_in_turn(device, own_trial_id: int | None = None) -> Subquery:
    """The trial a free slot takes (searches_in_turn's first search's next trial) as an expression:
    runner.py reads it with the message's own trial row, so the fair pick costs no query of its own."""
    return Subquery(searches_in_turn(device, own_trial_id).values("next_trial")[:1])


def next_trial_in_turn(device: str) -> int | None:
    """The queued trial a free slot of `device` takes now, or None when the queue is empty."""
    return searches_in_turn(device).values_list("next_trial", flat=True).first()


def holding(trial_id: int, attempt: int):
    """The trial's row while `attempt` still holds it (RUNNING, not claimed again since)."""
    return Trial.objects.filter(id=trial_id, state=Trial.RUNNING, attempt=attempt)


def beat_trial(trial_id: int, attempt: int) -> bool:
    """The holder's heartbeat; False when the claim is lost (taken over, finished, cancelled)."""
    return bool(holding(trial_id, attempt).update(heartbeat_at=timezone.now()))


def holds_trial(trial_id: int, attempt: int) -> bool:
    return holding(trial_id, attempt).exists()


def record_epoch(trial_id: int, epoch: int, metrics: dict, attempt: int) -> bool:
    """Store one epoch's metrics and beat the heart, if `attempt` still holds the trial.
    False tells the trainer to stop."""
    clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(v)}
    with transaction.atomic():
        updated = holding(trial_id, attempt).update(epochs_done=epoch, heartbeat_at=timezone.now())
        if not updated:
            return False  # cancelled, pruned, taken over or requeued meanwhile
        TrialMetric.objects.bulk_create(
            [TrialMetric(trial_id=trial_id, epoch=epoch, name=k, value=v) for k, v in clean.items()],
            update_conflicts=True, unique_fields=["trial", "epoch", "name"], update_fields=["value"],
        )
        trial = Trial.objects.select_related("search").get(id=trial_id)
        events.epoch_recorded(trial, epoch, clean)
        if _should_prune(trial, epoch, clean):
            prune_trial(trial_id, f"pruned by {PRUNERS[trial.search.pruner].label} after epoch {epoch}",
                        {**clean, "pruned_at_epoch": epoch}, attempt=attempt)
            return False
    return not Search.objects.filter(id=trial.search_id, state=Search.CANCELLED).exists()


def _should_prune(trial: Trial, epoch: int, metrics: dict) -> bool:
    search = trial.search
    metric = search.primary_metric
    if not search.pruner or metric not in metrics:
        return False
    return build_search_pruner(search)(trial.number, epoch, metrics[metric], history_for(search))


def complete_trial(trial_id: int, metrics: dict, attempt: int | None = None) -> bool:
    return finish_trial(trial_id, Trial.COMPLETE, metrics=metrics, attempt=attempt)


def fail_trial(trial_id: int, error: str, attempt: int | None = None, lost: bool = False) -> bool:
    return finish_trial(trial_id, Trial.FAILED, error=error, attempt=attempt, lost=lost)


def prune_trial(trial_id: int, reason: str = "", metrics: dict | None = None, attempt: int | None = None) -> bool:
    return finish_trial(trial_id, Trial.PRUNED, metrics=metrics, error=reason, attempt=attempt)


def cancel_trial(trial_id: int, reason: str) -> bool:
    return finish_trial(trial_id, Trial.CANCELLED, error=reason)


def finish_trial(trial_id: int, state: str, metrics: dict | None = None, error: str = "",
                 attempt: int | None = None, lost: bool = False) -> bool:
    """Move an open trial to a final state (conditional: a finished trial stays as it is), then
    let the search fill the freed slot. A worker's write names its `attempt` and is refused when
    another claim holds the trial; None is the search's own write (cancel, the sweep)."""
    fields = {"state": state, "finished_at": timezone.now(), "error": error[:5000], "lost": lost}
    if metrics is not None:
        fields.update(metrics=metrics, val_accuracy=metrics.get("val_accuracy"), params=metrics.get("params"))
    rows = Trial.objects.filter(id=trial_id, state__in=Trial.OPEN_STATES)
    if attempt is not None:
        rows = holding(trial_id, attempt)
    with transaction.atomic():
        updated = rows.update(**fields)
        if updated:
            trial = Trial.objects.get(id=trial_id)
            events.trial_changed(trial)
            dispatch.advance_later(trial.search_id)
    return bool(updated)


def recover_stale_trials(search: Search) -> tuple[int, int]:
    """Running trials whose holder stopped beating go back to the queue to resume from their
    checkpoint, or fail (not counted in the budget) after NASWEB_TRIAL_MAX_ATTEMPTS claims.
    Returns (requeued, failed)."""
    stale_for = settings.NASWEB_TRIAL_STALE_SECONDS
    cutoff = timezone.now() - timedelta(seconds=stale_for)
    requeued = failed = 0
    for trial in search.trials.filter(state=Trial.RUNNING, heartbeat_at__lt=cutoff):
        if trial.attempt >= settings.NASWEB_TRIAL_MAX_ATTEMPTS:
            failed += fail_trial(trial.id, f"worker lost {trial.attempt} times (no heartbeat for {stale_for} s; "
                                 f"last on {trial.worker or 'an unknown worker'}): given up after "
                                 f"NASWEB_TRIAL_MAX_ATTEMPTS={settings.NASWEB_TRIAL_MAX_ATTEMPTS}; "
                                 "not counted in the trial budget", lost=True)
            discard_files(checkpoints_of(trial.id))  # a failed trial never resumes
        else:
            requeued += requeue_trial(trial, heartbeat_before=cutoff)
    return requeued, failed


def requeue_trial(trial: Trial, heartbeat_before=None) -> bool:
    """RUNNING -> QUEUED (conditional on the attempt, so a live re-claim is never undone), sent again on commit."""
    rows = Trial.objects.filter(id=trial.id, state=Trial.RUNNING, attempt=trial.attempt)
    if heartbeat_before is not None:
        rows = rows.filter(heartbeat_at__lt=heartbeat_before)
    with transaction.atomic():
        if not rows.update(state=Trial.QUEUED, worker="", worker_pid=None, queued_at=timezone.now()):
            return False
        trial.refresh_from_db()
        events.trial_changed(trial)
        dispatch.run_trial_later(trial.id, trial.search.device)
    return True


def requeue_lost_trial(trial_id: int, attempt: int) -> bool:
    """RUNNING -> QUEUED for a trial whose holder of `attempt` is known to be dead (runner.py decides)."""
    trial = Trial.objects.select_related("search").filter(id=trial_id, state=Trial.RUNNING, attempt=attempt).first()
    return trial is not None and requeue_trial(trial)


def resend_unclaimed_trials(search: Search, waiting: dict[str, int | None] | None = None) -> int:
    """QUEUED trials nobody claimed for NASWEB_TRIAL_RESEND_SECONDS: their message was lost (a broker
    without persistence restarted, a worker died before taking it). A duplicate is harmless: the
    claim is conditional.

    With fair queues a message is a slot that serves whichever search's turn it is on its queue, so
    a trial that waits behind busy workers has not lost its message: only the shortfall is sent,
    the old trials beyond the messages still waiting on the queue. `waiting` (queue -> messages not
    yet counted against a trial, shared by one sweep's searches) is filled from the broker as needed.
    Without it, or without fair queues, each old trial gets a message again."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.NASWEB_TRIAL_RESEND_SECONDS)
    ids = list(search.trials.filter(Q(queued_at__lt=cutoff) | Q(queued_at__isnull=True), state=Trial.QUEUED)
               .order_by("number").values_list("id", flat=True))
    covered = _covered_by_waiting_messages(search, cutoff, len(ids), waiting) if ids else 0
    with transaction.atomic():
        Trial.objects.filter(id__in=ids, state=Trial.QUEUED).update(queued_at=now)
        for trial_id in ids[covered:]:
            dispatch.run_trial_later(trial_id, search.device)
    return len(ids) - covered


def _covered_by_waiting_messages(search: Search, cutoff, old: int, waiting: dict[str, int | None] | None) -> int:
    """How many of the search's `old` unclaimed trials the messages waiting on its queue will reach:
    the recently queued trials on that queue (whose own messages are among them) take their share first."""
    if waiting is None or not settings.NASWEB_FAIR_QUEUES:
        return 0
    queue = dispatch.training_queue(search.device)
    if queue not in waiting:
        messages = dispatch.messages_waiting(queue)
        waiting[queue] = None if messages is None else max(messages - _recently_queued_on(queue, cutoff), 0)
    covered = min(waiting[queue] or 0, old)
    if waiting[queue] is not None:
        waiting[queue] -= covered
    return covered


def _recently_queued_on(queue: str, cutoff) -> int:
    trials = Trial.objects.filter(state=Trial.QUEUED, queued_at__gte=cutoff)
    on_gpu = queue == dispatch.training_queue("gpu")
    return (trials.filter(search__device="gpu") if on_gpu else trials.exclude(search__device="gpu")).count()


def requeue_orphaned_trials(search: Search, orphaned_worker_prefix: str) -> None:
    """Trials a dead process held go back to the queue, and every queued trial is sent again."""
    Trial.objects.filter(search=search, state=Trial.RUNNING, worker__startswith=orphaned_worker_prefix).update(
        state=Trial.QUEUED, worker="", worker_pid=None, queued_at=timezone.now())
    if search.evaluator != Search.WORKERS:
        return  # external trials are asked for by the user's script, never sent to our workers
    for trial_id in search.trials.filter(state=Trial.QUEUED).values_list("id", flat=True):
        dispatch.run_trial_later(trial_id, search.device)


def record_imported_trial(search: Search, arch: dict, space, metrics: dict, worker: str = "upload") -> Trial:
    """A completed trial whose model was trained elsewhere and uploaded (services/imported_models.py):
    trial 1 of its search, with the metrics measured on the project's data, and no epochs."""
    now = timezone.now()
    trial = Trial.objects.create(search=search, number=1, arch=arch, arch_key=space.key(arch),
                                 description=space.describe(arch)[:300], state=Trial.COMPLETE, metrics=metrics,
                                 val_accuracy=metrics.get("val_accuracy"), params=metrics.get("params"),
                                 worker=worker, device="cpu", queued_at=now, started_at=now, finished_at=now)
    events.trial_changed(trial)
    return trial
