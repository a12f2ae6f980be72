"""Writers of one-shot searches: one supernet task per search, its epochs and what it derived."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import dispatch, events
from ..checks import IntRange
from ..engine_data import discard_files, oneshot_checkpoints_of
from ..models import OneShotEpoch, Search
from ..strategies.settings_checks import SettingInfo
from .search_state import fail_search

#: One-shot settings the web side handles itself (the rest go to the engine).
ONESHOT_WEB_SETTINGS = {"latency_target": "", "rank_check_archs": 0}
LATENCY_TARGETS = ("raspi4", "pixel3", "eyeriss", "fpga", "cpu", "macs")
RANK_CHECK_ARCHS = IntRange(0, 200)


def oneshot_web_schema(strategy: str) -> list[SettingInfo]:
    """The settings the web side handles, described like the engine's (SettingInfo)."""
    schema = [SettingInfo("rank_check_archs", 0, "int", "train this many cells stand-alone to measure Kendall's tau "
                                                       "against the supernet (0: off)", RANK_CHECK_ARCHS)]
    if strategy == "proxyless":
        schema.insert(0, SettingInfo("latency_target", "", "choice", "the device whose latency the search lowers "
                                                                     "(empty: none)", options=("", *LATENCY_TARGETS)))
    return schema


def split_oneshot_settings(settings: dict) -> tuple[dict, dict]:
    """(engine settings, web settings) of a one-shot search."""
    web = {k: settings.get(k, default) for k, default in ONESHOT_WEB_SETTINGS.items()}
    return {k: v for k, v in settings.items() if k not in ONESHOT_WEB_SETTINGS}, web


def claim_oneshot(search_id: int, worker: str, pid: int | None = None,
                  take_over_attempt: int | None = None) -> Search | None:
    """The supernet task of a running one-shot search for exactly one worker, raising its attempt (the
    fencing token, as a trial's: services/trials.py claim_trial); None if another holds it or it is done.

    A held one may be claimed again when its heartbeat is stale, or when the caller knows that the
    holder of `take_over_attempt` is dead; the earlier holder's writes are refused from then on."""
    now = timezone.now()
    claimable = Q(oneshot_worker="") | Q(oneshot_heartbeat_at__lt=_stale_cutoff()) | Q(oneshot_heartbeat_at=None)
    if take_over_attempt is not None:
        claimable |= Q(oneshot_attempt=take_over_attempt)
    updated = Search.objects.filter(claimable, id=search_id, state=Search.RUNNING, oneshot_result={}).update(
        oneshot_worker=worker[:200], oneshot_pid=pid, oneshot_heartbeat_at=now,
        oneshot_attempt=F("oneshot_attempt") + 1)
    if not updated:
        return None
    return Search.objects.select_related("space", "project__dataset").get(id=search_id)


def holding_oneshot(search_id: int, attempt: int):
    """The search's row while `attempt` still holds its supernet task (not claimed again, no result yet)."""
    return Search.objects.filter(id=search_id, oneshot_attempt=attempt, oneshot_result={}).exclude(oneshot_worker="")


def beat_oneshot(search_id: int, attempt: int) -> bool:
    """The holder's heartbeat; False when the claim is lost (taken over, requeued, finished)."""
    return bool(holding_oneshot(search_id, attempt).update(oneshot_heartbeat_at=timezone.now()))


def record_oneshot_epoch(search_id: int, epoch: int, info: dict, attempt: int) -> bool:
    """Store one supernet epoch and push it, if `attempt` still holds the task; False tells the
    one-shot loop to stop (cancelled, or the claim was lost)."""
    with transaction.atomic():
        if not holding_oneshot(search_id, attempt).update(oneshot_heartbeat_at=timezone.now()):
            return False
        OneShotEpoch.objects.update_or_create(search_id=search_id, epoch=epoch, defaults={"info": info})
        events.send_on_commit(search_id, {"type": "oneshot.update", "epoch": epoch})
    return not Search.objects.filter(id=search_id, state=Search.CANCELLED).exists()


def finish_oneshot(search_id: int, result: dict, attempt: int) -> bool:
    with transaction.atomic():
        if not holding_oneshot(search_id, attempt).update(oneshot_result=result):
            return False
        events.send_on_commit(search_id, {"type": "oneshot.update", "epoch": result.get("epochs_run")})
        dispatch.advance_later(search_id)
    return True


def fail_oneshot(search_id: int, error: str, attempt: int | None = None) -> bool:
    """Fail the search of a broken supernet task; a worker's write names its `attempt` and is refused
    once another claim holds the task (None: the sweep's own write)."""
    with transaction.atomic():
        rows = Search.objects.select_for_update().filter(id=search_id, state=Search.RUNNING)
        if attempt is not None:
            rows = rows.filter(id__in=holding_oneshot(search_id, attempt).values("id"))
        search = rows.first()
        if search is None:
            return False
        fail_search(search, error)
    return True


def recover_stale_oneshot(search: Search) -> tuple[int, int]:
    """A supernet task whose holder stopped beating goes back to the queue and resumes from its last
    epoch's checkpoint, or fails the search, saying why, after NASWEB_TRIAL_MAX_ATTEMPTS claims.
    Returns (requeued, failed) as recover_stale_trials does."""
    cutoff = _stale_cutoff()
    stale = (Search.objects.filter(id=search.id, state=Search.RUNNING, oneshot_result={},
                                   oneshot_attempt=search.oneshot_attempt)
             .exclude(oneshot_worker="").filter(Q(oneshot_heartbeat_at__lt=cutoff) | Q(oneshot_heartbeat_at=None)))
    if not stale.exists():
        return 0, 0
    limit, stale_for = settings.NASWEB_TRIAL_MAX_ATTEMPTS, settings.NASWEB_TRIAL_STALE_SECONDS
    if search.oneshot_attempt >= limit:
        error = (f"the supernet's worker was lost {search.oneshot_attempt} times (no heartbeat for {stale_for} s; "
                 f"last on {search.oneshot_worker or 'an unknown worker'}): given up after "
                 f"NASWEB_TRIAL_MAX_ATTEMPTS={limit}")
        failed = fail_oneshot(search.id, error, attempt=search.oneshot_attempt)
        if failed:
            discard_files(oneshot_checkpoints_of(search.id))  # a failed search's supernet never resumes
        return 0, int(failed)
    with transaction.atomic():
        if not stale.update(oneshot_worker="", oneshot_pid=None):
            return 0, 0
        dispatch.run_oneshot_later(search.id, search.device)
    return 1, 0


def release_lost_oneshot(search_id: int, attempt: int) -> bool:
    """The holder of `attempt` is known to be dead (runner.py decides): back to the queue at once."""
    with transaction.atomic():
        search = holding_oneshot(search_id, attempt).filter(state=Search.RUNNING).first()
        if search is None or not holding_oneshot(search_id, attempt).update(oneshot_worker="", oneshot_pid=None):
            return False
        dispatch.run_oneshot_later(search_id, search.device)
    return True


def _stale_cutoff():
    return timezone.now() - timedelta(seconds=settings.NASWEB_TRIAL_STALE_SECONDS)
