"""Realtime events: one Channels group per search, sent after the write commits.

Every event is numbered in its search's stream (searches/event_log.py) before it is sent, so a page
knows what it has seen: the socket's consumer batches events into frames (searches/consumers.py) and
a page that reconnects asks for the events after its last number (views.search_events).
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .event_log import event_log

log = logging.getLogger(__name__)


def group_name(search_id: int) -> str:
    return f"search-{search_id}"


def trial_payload(trial) -> dict:
    return {
        "id": trial.id,
        "number": trial.number,
        "state": trial.state,
        "description": trial.description,
        "arch": trial.arch,
        "metrics": trial.metrics,
        "val_accuracy": trial.val_accuracy,
        "params": trial.params,
        "epochs_done": trial.epochs_done,
        "worker": trial.worker,
        "device": trial.device,
        "error": trial.error,
        "attempt": trial.attempt,
        "lost": trial.lost,
        "seconds": trial.seconds,
    }


def search_payload(search) -> dict:
    return {
        "id": search.id,
        "state": search.state,
        "error": search.error,
        "max_trials": search.max_trials,
        "started_at": search.started_at.isoformat() if search.started_at else None,
        "finished_at": search.finished_at.isoformat() if search.finished_at else None,
    }


def client_event(message: dict) -> dict:
    """What the browser gets for a message of the writers: {"type": "trial" | "metric" | "search" |
    "oneshot", ...} without the Channels handler name."""
    kind = message["type"].split(".")[0]
    return {k: v for k, v in message.items() if k != "type"} | {"type": kind}


def send_now(search_id: int, message: dict) -> int | None:
    """Number the event in the search's stream, keep it for catching up, and send it to the search's
    group; returns its sequence number. A broken layer or log must not undo the write."""
    event = client_event(message)
    try:
        event["seq"], event["log"] = event_log().append(search_id, event)
    except Exception:  # the data is saved; the page finds the gap and reloads its summary
        log.exception("could not number %s for search %s", event["type"], search_id)
        return None
    layer = get_channel_layer()
    if layer is not None:
        try:
            async_to_sync(layer.group_send)(group_name(search_id), {"type": "search.event", "event": event})
        except Exception:  # a missed push is recovered by the page asking for what came after its last number
            log.exception("could not push %s for search %s", event["type"], search_id)
    return event["seq"]


def send_many_now(search_id: int, messages: list[dict]) -> list[int]:
    """send_now for several events of one search: numbered in one round trip and sent to the group
    as one message, which the consumer unpacks (a batch of lookup trials is one push, not one each)."""
    events = [client_event(message) for message in messages]
    try:
        numbers = event_log().append_many(search_id, events)
    except Exception:
        log.exception("could not number %s events for search %s", len(events), search_id)
        return []
    for event, (seq, incarnation) in zip(events, numbers, strict=True):
        event["seq"], event["log"] = seq, incarnation
    layer = get_channel_layer()
    if layer is not None and events:
        try:
            async_to_sync(layer.group_send)(group_name(search_id), {"type": "search.events", "events": events})
        except Exception:
            log.exception("could not push %s events for search %s", len(events), search_id)
    return [event["seq"] for event in events]


def send_on_commit(search_id: int, message: dict) -> None:
    transaction.on_commit(lambda: send_now(search_id, message))


def trial_changed(trial) -> None:
    send_on_commit(trial.search_id, {"type": "trial.update", "trial": trial_payload(trial)})


def trials_answered(search_id: int, trials: list) -> None:
    """Trials created and finished in one step (table lookups): one batched push on commit."""
    messages = [{"type": "trial.update", "trial": trial_payload(trial)} for trial in trials]
    if messages:
        transaction.on_commit(lambda: send_many_now(search_id, messages))


def epoch_recorded(trial, epoch: int, metrics: dict) -> None:
    send_on_commit(trial.search_id, {
        "type": "metric.update",
        "trial_id": trial.id,
        "number": trial.number,
        "epoch": epoch,
        "metrics": metrics,
    })


def search_changed(search) -> None:
    send_on_commit(search.id, {"type": "search.update", "search": search_payload(search)})
