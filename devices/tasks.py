"""Celery tasks: thin wrappers that take ids and call devices/services.py.

All run on measuring workers (`make measure-worker`), never on a trial worker: costs_for_trial and
costs_for_search on the shared `measure` queue, measure_trial_on_target on the target's own queue,
`measure.<target id>`, which only the measuring worker that registered that target consumes
(devices/signals.py), so a measured latency is always timed on the machine it names. Analytical and
benchmark targets need no particular machine. The writers send these by name through searches/dispatch.py.

A database or broker outage is retried with backoff (dispatch.RETRY, as the search tasks do); the
services claim and write conditionally, so a retried task does its work once.
"""

from __future__ import annotations

from celery import shared_task

from searches import dispatch

from . import services


@shared_task(name=dispatch.MEASURE_TRIAL_ON_TARGET, acks_late=True, max_retries=10, soft_time_limit=600,
             time_limit=900, **dispatch.RETRY)
def measure_trial_on_target(trial_id: int, target_id: int) -> None:
    services.measure_trial_on_target(trial_id, target_id)


@shared_task(name=dispatch.COSTS_FOR_TRIAL, acks_late=True, max_retries=10, soft_time_limit=900, time_limit=1200,
             **dispatch.RETRY)
def costs_for_trial(trial_id: int) -> None:
    services.costs_for_trial_id(trial_id)


@shared_task(name=dispatch.COSTS_FOR_SEARCH, acks_late=True, max_retries=10, soft_time_limit=1800, time_limit=2400,
             **dispatch.RETRY)
def costs_for_search(search_id: int) -> None:
    services.costs_for_search(search_id)
