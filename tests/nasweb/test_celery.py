"""Celery's configuration: the recovery sweep is on beat's schedule, and connections are retried."""

from pathlib import Path

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


def test_supernets_go_to_their_own_queues_and_trials_keep_their_device_queues(monkeypatch, settings):
    settings.NASWEB_EMBEDDED_WORKER = False
    sent = []
    monkeypatch.setattr(dispatch.celery_app, "send_task", lambda name, args, queue: sent.append((name, queue)))
    for device in ("cpu", "gpu"):
        dispatch.send_now(dispatch.RUN_ONESHOT, (1,), dispatch.oneshot_queue(device))
        dispatch.send_now(dispatch.RUN_TRIAL, (1,), dispatch.training_queue(device))
    assert sent == [(dispatch.RUN_ONESHOT, dispatch.queue_name("oneshot")),
                    (dispatch.RUN_TRIAL, dispatch.queue_name("cpu")),
                    (dispatch.RUN_ONESHOT, dispatch.queue_name("gpu.oneshot")),
                    (dispatch.RUN_TRIAL, dispatch.queue_name("gpu"))]


def test_make_worker_and_compose_start_a_worker_for_the_supernet_queues():
    root = Path(__file__).resolve().parents[2]
    makefile, compose = (root / "Makefile").read_text(), (root / "docker-compose.yml").read_text()
    worker_recipe = makefile.split("\nworker:", 1)[1].split("\n\n", 1)[0]
    assert "-Q oneshot " in worker_recipe and "-Q default,cpu " in worker_recipe
    assert "-Q gpu.oneshot " in makefile.split("\ngpu-worker:", 1)[1].split("\n\n", 1)[0]
    assert "-Q oneshot " in compose and "-Q gpu.oneshot " in compose
    assert "-Q default,cpu,oneshot" not in compose + makefile  # never on the trial worker's slots
