"""Celery tasks: thin wrappers that take ids and call devices/services.py.

measure_trial_on_target goes to the target's own queue, `measure.<target id>`, which only the
worker that registered that target consumes (devices/signals.py), so a measured latency is always
timed on the machine it names. Analytical and benchmark targets need no particular machine: any
process computes them, the task included.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections, transaction

from searches.dispatch import queue_name

from . import services

log = logging.getLogger(__name__)
_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


@shared_task(name="devices.measure_trial_on_target", acks_late=True, max_retries=0, soft_time_limit=600,
             time_limit=900)
def measure_trial_on_target(trial_id: int, target_id: int) -> None:
    services.measure_trial_on_target(trial_id, target_id)


@shared_task(name="devices.costs_for_search", acks_late=True, max_retries=0, soft_time_limit=1800, time_limit=2400)
def costs_for_search(search_id: int) -> None:
    services.costs_for_search(search_id)


def measure_later(trial_id: int, target_id: int, queue: str) -> None:
    """Send on commit, so the worker never sees a measurement row that is not committed yet."""
    transaction.on_commit(lambda: measure_trial_on_target.apply_async(args=[trial_id, target_id], queue=queue))


def costs_for_search_later(search_id: int) -> None:
    if settings.NASWEB_EMBEDDED_WORKER:  # no broker: a background thread of this process does it
        transaction.on_commit(lambda: _background().submit(_run_in_thread, services.costs_for_search, search_id))
        return
    transaction.on_commit(lambda: costs_for_search.apply_async(args=[search_id], queue=queue_name("default")))


def _background() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nasweb-devices")
        return _executor


def _run_in_thread(function, *args) -> None:
    close_old_connections()
    try:
        function(*args)
    except Exception:
        log.exception("background %s%s failed", function.__name__, args)
    finally:
        close_old_connections()
