"""The embedded worker: runs the work of both apps on threads inside the server process.

Used when no Redis is configured (the `make run` default), so nasweb works on a laptop with nothing
else installed. It is the one in-process executor: dispatch hands it work by task name (the names
Celery knows too) and it calls the same functions the Celery tasks call. One thread advances
searches, `NASWEB_EMBEDDED_THREADS` threads train trials, one trains one-shot supernets (a supernet
is one long task: on its own slot it never holds up other searches' trials), one computes device
costs in the background, so a long cost job never holds up training, and a timer runs the recovery
sweep every `NASWEB_SWEEP_SECONDS` (what Celery beat does for Celery workers).

Trials wait in a fair queue: one line per search, served round robin, so a search with many queued
trials (or long ones) takes one slot in turn with every other search instead of all of them.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections import deque
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

from devices import services as device_services

from . import dispatch, runner, services
from .models import Trial

log = logging.getLogger(__name__)
_lock = threading.Lock()
_worker: EmbeddedWorker | None = None
CONTROL, TRIALS, ONESHOT, BACKGROUND = "control", "trials", "oneshot", "background"


class FairQueue:
    """queue.Queue's put/get/task_done, served round robin over keys (a search each): get takes the
    oldest item of the next key in turn."""

    def __init__(self):
        self._lines: dict[object, deque] = {}
        self._turns: deque = deque()
        self._ready = threading.Condition()
        self._unfinished = 0

    def put(self, item, key=None) -> None:
        with self._ready:
            if key not in self._lines:
                self._lines[key] = deque()
                self._turns.append(key)
            self._lines[key].append(item)
            self._unfinished += 1
            self._ready.notify()

    def get(self):
        with self._ready:
            while not self._turns:
                self._ready.wait()
            key = self._turns.popleft()
            line = self._lines[key]
            item = line.popleft()
            if line:
                self._turns.append(key)  # back of the round
            else:
                del self._lines[key]
            return item

    def task_done(self) -> None:
        with self._ready:
            self._unfinished -= 1
            self._ready.notify_all()

    def join(self) -> None:
        with self._ready:
            while self._unfinished:
                self._ready.wait()

    def waiting(self) -> dict:
        """key -> items waiting, for the page that explains a queue."""
        with self._ready:
            return {key: len(line) for key, line in self._lines.items()}

    def lines(self) -> list[tuple[object, list]]:
        """[(key, [items oldest first])] in the order get will serve the keys: the page's why-waiting."""
        with self._ready:
            return [(key, list(self._lines[key])) for key in self._turns]


def _search_of_trial(trial_id: int):
    return Trial.objects.filter(id=trial_id).values_list("search_id", flat=True).first()


class EmbeddedWorker:
    def __init__(self, trial_threads: int):
        self.name = f"embedded@{socket.gethostname()}"
        self.queues = {lane: queue.Queue() for lane in (CONTROL, ONESHOT, BACKGROUND)}
        self.queues[TRIALS] = FairQueue()
        self.work: dict[str, tuple[str, Callable]] = {
            dispatch.ADVANCE_SEARCH: (CONTROL, services.advance_search),
            dispatch.RUN_TRIAL: (TRIALS, lambda trial_id: runner.run_trial(trial_id, worker=self.name)),
            dispatch.RUN_ONESHOT: (ONESHOT, lambda search_id: runner.run_oneshot_search(search_id, worker=self.name)),
            dispatch.COSTS_FOR_SEARCH: (BACKGROUND, device_services.costs_for_search),
            dispatch.COSTS_FOR_TRIAL: (BACKGROUND, device_services.costs_for_trial_id),
            dispatch.MEASURE_TRIAL_ON_TARGET: (BACKGROUND, device_services.measure_trial_on_target),
        }
        self._start(CONTROL, "nasweb-advance")
        for i in range(trial_threads):
            self._start(TRIALS, f"nasweb-trial-{i}")
        self._start(ONESHOT, "nasweb-oneshot")
        self._start(BACKGROUND, "nasweb-devices")
        self._stop = threading.Event()
        self._start_timer(self._sweep_loop, "nasweb-sweep")

    def _start_timer(self, loop: Callable, name: str) -> None:
        threading.Thread(target=loop, name=name, daemon=True).start()

    def _start(self, lane: str, name: str) -> None:
        threading.Thread(target=self._loop, args=(self.queues[lane],), name=name, daemon=True).start()

    def submit(self, task_name: str, args: tuple) -> None:
        lane, function = self.work[task_name]
        if lane == TRIALS:  # one line per search
            self.queues[lane].put((task_name, function, tuple(args)), key=_search_of_trial(args[0]))
        else:
            self.queues[lane].put((task_name, function, tuple(args)))

    def trial_lines(self) -> list[tuple[int, list[int]]]:
        """[(search id, [trial ids])] in the order the trial threads will serve them."""
        return [(key, [args[0] for _, _, args in items]) for key, items in self.queues[TRIALS].lines()]

    def _loop(self, q) -> None:
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


def trial_lines() -> list[tuple[int, list[int]]] | None:
    """The embedded worker's queued trials in serving order, or None when trials go to Celery (the
    pages then approximate the queue from the database). Does not start the worker."""
    if not settings.NASWEB_EMBEDDED_WORKER:
        return None
    worker = _worker
    return worker.trial_lines() if worker is not None else []


def start_and_recover() -> EmbeddedWorker:
    """Start the worker and pick up searches a previous process left unfinished."""
    worker = embedded_worker()
    services.recover_active_searches(orphaned_worker_prefix="embedded@")
    return worker
