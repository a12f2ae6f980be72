"""Celery tasks: thin wrappers that take ids and call the services and the runner."""

from __future__ import annotations

import socket

from celery import shared_task

from . import dispatch, runner, services


@shared_task(name=dispatch.ADVANCE_SEARCH, acks_late=True, max_retries=3, soft_time_limit=120, time_limit=180,
             autoretry_for=(ConnectionError,), retry_backoff=True)
def advance_search(search_id: int) -> None:
    services.advance_search(search_id)


@shared_task(bind=True, name=dispatch.RUN_TRIAL, acks_late=True, max_retries=0, time_limit=6 * 3600)
def run_trial(self, trial_id: int) -> None:
    hostname = self.request.hostname or socket.gethostname()
    runner.run_trial(trial_id, worker=hostname)


@shared_task(bind=True, name=dispatch.RUN_ONESHOT, acks_late=True, max_retries=0, time_limit=24 * 3600)
def run_oneshot(self, search_id: int) -> None:
    hostname = self.request.hostname or socket.gethostname()
    runner.run_oneshot_search(search_id, worker=hostname)
