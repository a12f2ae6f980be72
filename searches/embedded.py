"""The embedded worker: runs the work of both apps on threads inside the server process.

Used when no Redis is configured (the `make run` default), so nasweb works on a laptop with nothing
else installed. It is the one in-process executor: dispatch hands it work by task name (the names
Celery knows too) and it calls the same functions the Celery tasks call. One thread advances
searches, `NASWEB_EMBEDDED_THREADS` threads train trials, one computes device costs in the
background, so a long cost job never holds up training, and a timer runs the recovery sweep every
`NASWEB_SWEEP_SECONDS` (what Celery beat does for Celery workers).
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

from devices import services as device_services

from . import dispatch, runner, services

log = logging.getLogger(__name__)
_lock = threading.Lock()
_worker: EmbeddedWorker | None = None
CONTROL, TRIALS, BACKGROUND = "control", "trials", "background"


class EmbeddedWorker:
    def __init__(self, trial_threads: int):
        self.name = f"embedded@{socket.gethostname()}"
        self.queues = {lane: queue.Queue() for lane in (CONTROL, TRIALS, BACKGROUND)}
        self.work: dict[str, tuple[str, Callable]] = {
            dispatch.ADVANCE_SEARCH: (CONTROL, services.advance_search),
            dispatch.RUN_TRIAL: (TRIALS, lambda trial_id: runner.run_trial(trial_id, worker=self.name)),
            dispatch.RUN_ONESHOT: (TRIALS, lambda search_id: runner.run_oneshot_search(search_id, worker=self.name)),
            dispatch.COSTS_FOR_SEARCH: (BACKGROUND, device_services.costs_for_search),
            dispatch.MEASURE_TRIAL_ON_TARGET: (BACKGROUND, device_services.measure_trial_on_target),
        }
        self._start(CONTROL, "nasweb-advance")
        for i in range(trial_threads):
            self._start(TRIALS, f"nasweb-trial-{i}")
        self._start(BACKGROUND, "nasweb-devices")
        self._stop = threading.Event()
        threading.Thread(target=self._sweep_loop, name="nasweb-sweep", daemon=True).start()

    def _start(self, lane: str, name: str) -> None:
        threading.Thread(target=self._loop, args=(self.queues[lane],), name=name, daemon=True).start()

    def submit(self, task_name: str, args: tuple) -> None:
        lane, function = self.work[task_name]
        self.queues[lane].put((task_name, function, tuple(args)))

    def _loop(self, q: queue.Queue) -> None:
        while True:
            task_name, function, args = q.get()
            close_old_connections()
            try:
                function(*args)
            except Exception:
                log.exception("embedded worker: %s%s failed", task_name, args)
            finally:
                close_old_connections()
                q.task_done()


    def _sweep_loop(self) -> None:
        while not self._stop.wait(settings.NASWEB_SWEEP_SECONDS):
            close_old_connections()
            try:
                services.sweep()
            except Exception:
                log.exception("embedded worker: the recovery sweep failed")
            finally:
                close_old_connections()


def embedded_worker() -> EmbeddedWorker:
    global _worker
    with _lock:
        if _worker is None:
            _worker = EmbeddedWorker(settings.NASWEB_EMBEDDED_THREADS)
        return _worker


def submit(task_name: str, args: tuple) -> None:
    """dispatch's local executor: the threads start with the first piece of work."""
    embedded_worker().submit(task_name, args)


def start_and_recover() -> EmbeddedWorker:
    """Start the worker and pick up searches a previous process left unfinished."""
    worker = embedded_worker()
    services.recover_active_searches(orphaned_worker_prefix="embedded@")
    return worker
