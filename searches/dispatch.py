"""Hands work to Celery, or to the embedded worker when no broker is configured.

Callers schedule with transaction.on_commit, so a worker never sees an id whose
row is not committed yet.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction


def queue_name(base: str) -> str:
    return f"{settings.NASWEB_QUEUE_PREFIX}{base}"


def advance_later(search_id: int) -> None:
    transaction.on_commit(lambda: _send("advance", search_id, queue_name("default")))


def run_trial_later(trial_id: int, device: str) -> None:
    queue = queue_name("gpu" if device == "gpu" else "cpu")
    transaction.on_commit(lambda: _send("trial", trial_id, queue))


def run_oneshot_later(search_id: int, device: str) -> None:
    queue = queue_name("gpu" if device == "gpu" else "cpu")
    transaction.on_commit(lambda: _send("oneshot", search_id, queue))


def _send(kind: str, object_id: int, queue: str) -> None:
    if settings.NASWEB_EMBEDDED_WORKER:
        from .embedded import embedded_worker

        embedded_worker().submit(kind, object_id)
        return
    from . import tasks

    task = {"advance": tasks.advance_search, "trial": tasks.run_trial, "oneshot": tasks.run_oneshot}[kind]
    task.apply_async(args=[object_id], queue=queue)
