"""Realtime events: one Channels group per search, sent after the write commits."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

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


def send_now(search_id: int, message: dict) -> None:
    """Send to the search's group; a broken channel layer must not undo the write."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(search_id), message)
    except Exception:  # the data is saved; a missed push is recovered by the page's reload
        log.exception("could not push %s for search %s", message.get("type"), search_id)


def send_on_commit(search_id: int, message: dict) -> None:
    transaction.on_commit(lambda: send_now(search_id, message))


def trial_changed(trial) -> None:
    send_on_commit(trial.search_id, {"type": "trial.update", "trial": trial_payload(trial)})


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
