"""The embedded worker: runs tasks on threads inside the server process.

Used when no Redis is configured (the `make run` default), so nasweb works on a
laptop with nothing else installed. One thread advances searches, the others
train trials; both call the same functions the Celery tasks call.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading

from django.conf import settings
from django.db import close_old_connections

log = logging.getLogger(__name__)
_lock = threading.Lock()
_worker: EmbeddedWorker | None = None


class EmbeddedWorker:
    def __init__(self, trial_threads: int):
        self.control: queue.Queue = queue.Queue()
        self.trials: queue.Queue = queue.Queue()
        self.name = f"embedded@{socket.gethostname()}"
        self._start(self.control, "nasweb-advance")
        for i in range(trial_threads):
            self._start(self.trials, f"nasweb-trial-{i}")

    def _start(self, q: queue.Queue, name: str) -> None:
        threading.Thread(target=self._loop, args=(q,), name=name, daemon=True).start()

    def submit(self, kind: str, object_id: int) -> None:
        (self.control if kind == "advance" else self.trials).put((kind, object_id))

    def _loop(self, q: queue.Queue) -> None:
        from . import runner, services

        while True:
            kind, object_id = q.get()
            close_old_connections()
            try:
                if kind == "advance":
                    services.advance_search(object_id)
                elif kind == "oneshot":
                    runner.run_oneshot_search(object_id, worker=self.name)
                else:
                    runner.run_trial(object_id, worker=self.name)
            except Exception:
                log.exception("embedded worker: %s %s failed", kind, object_id)
            finally:
                close_old_connections()
                q.task_done()


def embedded_worker() -> EmbeddedWorker:
    global _worker
    with _lock:
        if _worker is None:
            _worker = EmbeddedWorker(settings.NASWEB_EMBEDDED_THREADS)
        return _worker


def start_and_recover() -> EmbeddedWorker:
    """Start the worker and pick up searches a previous process left unfinished."""
    from . import services

    worker = embedded_worker()
    services.recover_active_searches(orphaned_worker_prefix="embedded@")
    return worker
