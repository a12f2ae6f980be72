"""Writers of one-shot searches: one supernet task per search, its epochs and what it derived."""

from __future__ import annotations

from django.db import transaction

from .. import dispatch, events
from ..checks import IntRange
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
            fail_search(search, error)
