"""Celery tasks: thin wrappers that take ids and call the services and the runner.

A database or broker outage is not the work's fault: the tasks retry it with backoff (and the
recovery sweep, run by Celery beat, picks up whatever a retry could not send).
"""

from __future__ import annotations

import logging
import socket

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from devices import services as device_services

from . import dispatch, runner, services
from .dispatch import RETRY, TRANSIENT_ERRORS

log = logging.getLogger(__name__)
#: advance_search tries again after its soft time limit this many times, then fails the search.
SLOW_ADVANCE_RETRIES = 3
ADVANCE_SOFT_LIMIT = 120


@shared_task(bind=True, name=dispatch.ADVANCE_SEARCH, acks_late=True, max_retries=20,
             soft_time_limit=ADVANCE_SOFT_LIMIT, time_limit=ADVANCE_SOFT_LIMIT + 60, **RETRY)
def advance_search(self, search_id: int) -> None:
    try:
        services.advance_search(search_id)
    except SoftTimeLimitExceeded:
        if self.request.retries >= SLOW_ADVANCE_RETRIES:
            services.abort_search(search_id, f"the strategy took more than {ADVANCE_SOFT_LIMIT} s to propose "
                                  f"trials, {SLOW_ADVANCE_RETRIES + 1} times in a row")
            return
        log.warning("advancing search %s hit the soft time limit; trying again", search_id)
        raise self.retry(countdown=5) from None


@shared_task(bind=True, name=dispatch.RUN_TRIAL, acks_late=True, max_retries=20, time_limit=6 * 3600, **RETRY)
def run_trial(self, trial_id: int) -> None:
    """A free slot of the trial's device queue: it runs the queued trial whose search's turn it is
    (round robin across searches, runner.run_trial), so a search that queued many trials does not
    hold up the next search behind all of them (NASWEB_FAIR_QUEUES off: the message's own trial)."""
    hostname = self.request.hostname or socket.gethostname()
    if self.request.retries or (self.request.delivery_info or {}).get("redelivered"):
        # The attempt this message ran (maybe another search's trial) was interrupted: requeue what a
        # dead process of this worker holds now, rather than wait until the sweep finds it stale.
        runner.recover_trials_of_dead_processes(hostname)
    runner.run_trial(trial_id, worker=hostname, fair=settings.NASWEB_FAIR_QUEUES)


@shared_task(bind=True, name=dispatch.RUN_ONESHOT, acks_late=True, max_retries=20, time_limit=24 * 3600, **RETRY)
def run_oneshot(self, search_id: int) -> None:
    """Retried like run_trial: an interrupted supernet is taken over at once by this worker (its holder
    is gone) and resumes from its last epoch's checkpoint."""
    hostname = self.request.hostname or socket.gethostname()
    runner.run_oneshot_search(search_id, worker=hostname)


@shared_task(name=dispatch.SWEEP, acks_late=True, max_retries=0, soft_time_limit=60, time_limit=90)
def sweep() -> dict:
    """Celery beat sends this every NASWEB_SWEEP_SECONDS (nasweb/celery.py); during an outage the next
    one tries again, so a failed sweep is one line in the log, not a retry."""
    try:
        return services.sweep().as_dict() | {"measurements_resent": device_services.resend_stalled_measurements()}
    except TRANSIENT_ERRORS as exc:
        log.warning("recovery sweep skipped, the database or the broker is away: %s", str(exc).strip()[:200])
        return {}
