"""The recovery sweep: what a crash, a restart or a lost message leaves behind is picked up here.

Run every NASWEB_SWEEP_SECONDS by Celery beat (`make beat`, the `beat` service of docker-compose) or
by a timer thread of the embedded worker. Each pass, over every open search:

- a RUNNING trial whose heartbeat is stale (its worker died or lost the database) goes back to the
  queue and resumes from its checkpoint; after NASWEB_TRIAL_MAX_ATTEMPTS claims it fails and says
  why, and a lost trial does not use up the search's trial budget;
- a QUEUED trial nobody claimed for NASWEB_TRIAL_RESEND_SECONDS is sent again (its message was lost),
  unless, with fair queues, enough messages still wait on its queue to reach it;
- an active search with a free slot is advanced (the message that should have done it was lost);
- the supernet task of a one-shot search whose heartbeat is stale is sent again and resumes from its
  last epoch's checkpoint, or fails the search after NASWEB_TRIAL_MAX_ATTEMPTS claims.

Everything is conditional on the rows' states and attempts, so two sweeps at once, or a sweep racing
a worker, change nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from .. import dispatch
from ..models import Search, Trial
from ..oneshot.registry import ONESHOT_STRATEGIES
from ..structured_pruning.search import GATES
from .oneshot import recover_stale_oneshot
from .trials import recover_stale_trials, resend_unclaimed_trials

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    searches: int = 0
    requeued: int = 0
    failed: int = 0
    resent: int = 0
    advanced: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def sweep() -> SweepReport:
    report = SweepReport()
    open_states = (*Search.ACTIVE_STATES, Search.PAUSED)
    waiting: dict[str, int | None] = {}  # messages on each trial queue, asked of the broker once a sweep
    for search in Search.objects.filter(state__in=open_states).select_related("space"):
        report.searches += 1
        requeued, failed = recover_stale_trials(search)
        if search.strategy in ONESHOT_STRATEGIES or search.strategy == GATES:  # both are one supernet task
            supernet_requeued, supernet_failed = recover_stale_oneshot(search)
            requeued, failed = requeued + supernet_requeued, failed + supernet_failed
        report.requeued += requeued
        report.failed += failed
        report.resent += resend_unclaimed_trials(search, waiting)
        if search.state in Search.ACTIVE_STATES and (failed or _has_free_slot(search)):
            dispatch.advance_later(search.id)
            report.advanced += 1
    if report.requeued or report.failed or report.resent:
        log.warning("recovery sweep: %s", report.as_dict())
    return report


def _has_free_slot(search: Search) -> bool:
    return search.trials.filter(state__in=Trial.OPEN_STATES).count() < search.parallelism
