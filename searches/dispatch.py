"""Hands work to the workers, for both apps: Celery over Redis, or the embedded worker in this process.

The writers (searches/services/, devices/services.py) call the *_later functions inside their
transaction; the work is sent on commit, so a worker never sees an id whose row is not committed.

Work is sent by task name, so this module imports neither the Celery tasks nor the embedded worker
(both sit above the writers): Celery routes a name to the task registered under it, and the embedded
worker registers itself here as the local executor when Django starts (searches/apps.py).
"""

from __future__ import annotations

from collections.abc import Callable

import amqp.exceptions
import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from nasweb.celery import SWEEP_TASK
from nasweb.celery import app as celery_app

#: The database or the broker went away for a while: not the work's fault. The tasks of both apps
#: (searches/tasks.py, devices/tasks.py) retry these with backoff, `@shared_task(..., **RETRY)`.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                    kombu.exceptions.OperationalError, ConnectionError, TimeoutError)
RETRY = {"autoretry_for": TRANSIENT_ERRORS, "retry_backoff": 2, "retry_backoff_max": 60, "retry_jitter": True}

ADVANCE_SEARCH = "searches.advance_search"
RUN_TRIAL = "searches.run_trial"
RUN_ONESHOT = "searches.run_oneshot"
MEASURE_TRIAL_ON_TARGET = "devices.measure_trial_on_target"
COSTS_FOR_SEARCH = "devices.costs_for_search"
SWEEP = SWEEP_TASK
COSTS_FOR_TRIAL = "devices.costs_for_trial"
#: The measuring workers' shared queue (`make measure-worker`): costs of the trials that matter, of a
#: search on request; a trial worker never consumes it.
MEASURE_QUEUE = "measure"

#: (task name, args) -> None; runs the work in this process when there is no broker.
LocalExecutor = Callable[[str, tuple], None]
_local_executor: LocalExecutor | None = None


def queue_name(base: str) -> str:
    return f"{settings.NASWEB_QUEUE_PREFIX}{base}"


def training_queue(device: str) -> str:
    return queue_name("gpu" if device == "gpu" else "cpu")


def oneshot_queue(device: str) -> str:
    """One-shot supernets have queues of their own (`make oneshot-worker`, and `make worker` starts one
    beside the trial worker): a supernet trains for hours in one task and must never take the only
    slot of a trial worker, which would hold up every other search's trials meanwhile."""
    return queue_name("gpu.oneshot" if device == "gpu" else "oneshot")


def measure_queue(target_id: int) -> str:
    """Each measured target's own queue: only the worker that registered the target consumes it."""
    return queue_name(f"measure.{target_id}")


def advance_later(search_id: int) -> None:
    send_on_commit(ADVANCE_SEARCH, (search_id,), queue_name("default"))


def run_trial_later(trial_id: int, device: str) -> None:
    send_on_commit(RUN_TRIAL, (trial_id,), training_queue(device))


def run_oneshot_later(search_id: int, device: str) -> None:
    send_on_commit(RUN_ONESHOT, (search_id,), oneshot_queue(device))


def measure_later(trial_id: int, target_id: int) -> None:
    send_on_commit(MEASURE_TRIAL_ON_TARGET, (trial_id, target_id), measure_queue(target_id))


def costs_for_search_later(search_id: int) -> None:
    send_on_commit(COSTS_FOR_SEARCH, (search_id,), queue_name(MEASURE_QUEUE))


def costs_for_trial_later(trial_id: int) -> None:
    send_on_commit(COSTS_FOR_TRIAL, (trial_id,), queue_name(MEASURE_QUEUE))


def messages_waiting(queue: str) -> int | None:
    """How many messages wait on a Celery queue (not yet taken by a worker); None without a broker
    (the embedded worker) or when it cannot be asked (the caller then acts as if none waited)."""
    if settings.NASWEB_EMBEDDED_WORKER:
        return None
    try:
        with celery_app.connection_for_read() as connection:
            return connection.default_channel.queue_declare(queue=queue, passive=True).message_count
    except amqp.exceptions.ChannelError:  # 404: a queue with no message is no queue at all on Redis
        return 0
    except Exception:
        return None


def use_local_executor(executor: LocalExecutor | None) -> None:
    """The embedded worker registers itself here; None unregisters it."""
    global _local_executor
    _local_executor = executor


def send_on_commit(task_name: str, args: tuple, queue: str) -> None:
    transaction.on_commit(lambda: send_now(task_name, args, queue))


def send_now(task_name: str, args: tuple, queue: str) -> None:
    if settings.NASWEB_EMBEDDED_WORKER:
        if _local_executor is None:
            raise RuntimeError("NASWEB_EMBEDDED_WORKER is on but no embedded worker is registered")
        _local_executor(task_name, args)
        return
    celery_app.send_task(task_name, args=list(args), queue=queue)
