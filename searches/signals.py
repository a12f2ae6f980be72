"""A Celery worker that starts again under the same node name (a supervisor restarted it after its
main process died) puts the trials its dead processes held back in the queue at once."""

from __future__ import annotations

import logging

from celery.signals import worker_ready

from . import runner

log = logging.getLogger(__name__)


@worker_ready.connect(dispatch_uid="searches.requeue_trials_of_dead_processes")
def requeue_trials_of_dead_processes(sender, **kwargs) -> int:
    """`sender` is the worker's consumer. A failure is logged: the sweep requeues them later anyway."""
    try:
        count = runner.recover_trials_of_dead_processes(sender.hostname)
    except Exception:
        log.exception("could not requeue the trials of this worker's dead processes")
        return 0
    if count:
        log.warning("requeued %s trial(s) held by dead processes of %s", count, sender.hostname)
    return count
