"""Celery's configuration: the recovery sweep is on beat's schedule, and connections are retried."""

from django.conf import settings

from nasweb.celery import SWEEP_TASK, app
from searches import dispatch, tasks


def test_beat_sends_the_recovery_sweep_every_period_to_the_default_queue():
    app.loader.import_default_modules()
    app.finalize()
    entries = [e for e in app.conf.beat_schedule.values() if e["task"] == SWEEP_TASK]
    assert len(entries) == 1
    (entry,) = entries
    assert entry["schedule"] == settings.NASWEB_SWEEP_SECONDS
    assert entry["options"]["queue"] == dispatch.queue_name("default")
    assert entry["options"]["expires"] == settings.NASWEB_SWEEP_SECONDS  # a late sweep is dropped, not piled up
    assert app.tasks[SWEEP_TASK].name == tasks.sweep.name == dispatch.SWEEP


def test_workers_retry_the_broker_for_ever_and_health_check_it():
    assert app.conf.broker_connection_retry and app.conf.broker_connection_max_retries is None
    assert app.conf.broker_transport_options["health_check_interval"] > 0
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
