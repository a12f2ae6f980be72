"""A measuring worker (`make measure-worker`: a Celery worker on the `measure` queue) registers its
machine as a measured target when it starts, then consumes that target's queue, `measure.<target id>`,
besides the queues it was started with. Trial workers (`make worker`, not on `measure`) register
nothing and measure nothing: their slots train."""

from __future__ import annotations

import logging

import torch
from celery.signals import worker_ready

from searches.dispatch import MEASURE_QUEUE, queue_name

from . import services
from .costs import measure

log = logging.getLogger(__name__)


def worker_device(queue_names) -> str:
    """A worker that takes the gpu queue and has a CUDA device is a GPU target; any other, a CPU one."""
    return "gpu" if queue_name("gpu") in set(queue_names) and torch.cuda.is_available() else "cpu"


def consumed_queue_names(consumer) -> list[str]:
    return [queue.name for queue in consumer.task_consumer.queues]


@worker_ready.connect(dispatch_uid="devices.consume_own_measure_queue")
def consume_own_measure_queue(sender, **kwargs) -> str | None:
    """`sender` is the worker's consumer. A failed registration is logged: the worker still starts."""
    queues = consumed_queue_names(sender)
    if queue_name(MEASURE_QUEUE) not in queues:
        return None  # a trial worker
    try:
        queue = services.worker_measure_queue(measure.host_specs(), worker_device(queues))
    except Exception:
        log.exception("could not register this worker as a hardware target")
        return None
    sender.add_task_queue(queue)
    return queue
