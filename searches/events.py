"""Realtime events, sent after the write commits: numbered and kept in the search's log.

Sending an event is appending it to its search's stream (searches/event_log.py): one Redis call, the
same with one open page or a hundred. Each server process reads the log of the searches its sockets
watch (searches/live_hub.py) and hands the new events to their consumers, which batch them into frames
(searches/consumers.py); a page that reconnects asks for the events after its last number
(views.search_events).
"""

from __future__ import annotations

import logging

from django.db import transaction

from .event_log import event_log

log = logging.getLogger(__name__)


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
    """Number the event in the search's stream and keep it there, where the live pages' feeds read
    it; returns its sequence number. A broken log must not undo the write."""
    numbers = _append(search_id, [client_event(message)])
    return numbers[0] if numbers else None


def send_many_now(search_id: int, messages: list[dict]) -> list[int]:
    """send_now for several events of one search, numbered and kept in one atomic call (a batch of
    lookup trials reaches the pages in one frame, not one each)."""
    return _append(search_id, [client_event(message) for message in messages])


def _append(search_id: int, events: list[dict]) -> list[int]:
    if not events:
        return []
    try:
        numbers = event_log().append_many(search_id, events)
    except Exception:  # the data is saved; the page finds the gap and reloads its summary
        log.exception("could not number %s events for search %s", len(events), search_id)
        return []
    return [seq for seq, _ in numbers]


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
