"""Device tasks and the worker's start-up hook, called in-process (no broker needed)."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from kombu import Queue

from devices import services, signals, tasks
from devices.models import HardwareTarget, Measurement
from searches import services as search_services
from searches import tasks as search_tasks

pytestmark = pytest.mark.django_db


HOST = {"hostname": "lab-7", "cpu_model": "Xeon Gold 6130", "cpu_usable_cores": 16}


@pytest.fixture
def trial(start_search):
    search = start_search()
    trial_id = search_services.advance_search(search.id)[0]
    search_services.claim_trial(trial_id, "test-worker", "cpu")
    search_services.complete_trial(trial_id, {"val_accuracy": 0.8})
    return search.trials.get(id=trial_id)


@pytest.fixture
def analytical():
    return services.create_target("Analytical", "analytical", {})


def test_the_measure_task_on_the_analytical_target_stores_a_measurement(trial, analytical):
    tasks.measure_trial_on_target(trial.id, analytical.id)
    measurement = Measurement.objects.get(trial=trial, target=analytical)
    assert measurement.state == Measurement.DONE and measurement.space_kind == "chain_mlp"
    assert measurement.metrics["params"] > 0 and measurement.metrics["macs"] > 0
    assert measurement.arch == trial.arch and measurement.finished_at


def test_the_measure_task_on_a_measured_target_times_the_model_here(trial):
    target = services.register_worker_target(HOST)
    HardwareTarget.objects.filter(id=target.id).update(specs={**target.specs, "runs": 4, "warmup": 1, "rounds": 2})
    tasks.measure_trial_on_target(trial.id, target.id)
    metrics = Measurement.objects.get(trial=trial, target=target).metrics
    assert metrics["backend"] == "eager" and metrics["threads"] == 1 and metrics["batch"] == 1
    assert 0 < metrics["latency_median_ms"] <= metrics["latency_p90_ms"] and metrics["runs"] == 4
    assert metrics["params"] > 0 and metrics["macs"] > 0


def test_unknown_ids_return_quietly(trial, analytical):
    tasks.measure_trial_on_target(987654, analytical.id)
    tasks.measure_trial_on_target(trial.id, 987654)
    tasks.costs_for_search(987654)
    assert not Measurement.objects.exists()


def test_a_redelivered_task_does_not_measure_twice(trial, analytical):
    tasks.measure_trial_on_target(trial.id, analytical.id)
    first = Measurement.objects.get()
    tasks.measure_trial_on_target(trial.id, analytical.id)
    assert Measurement.objects.get().finished_at == first.finished_at


def test_costs_for_search_goes_to_the_measuring_workers_queue(trial, settings, monkeypatch,
                                                    django_capture_on_commit_callbacks):
    settings.NASWEB_EMBEDDED_WORKER, settings.NASWEB_QUEUE_PREFIX = False, "t2-"
    sent = []
    monkeypatch.setattr("searches.dispatch.celery_app.send_task", lambda name, args, queue: sent.append((args, queue)))
    with django_capture_on_commit_callbacks(execute=True):
        services.request_search_costs(trial.search)
    assert sent == [([trial.search_id], "t2-measure")]


def test_the_costs_for_search_task_costs_every_finished_trial(trial):
    tasks.costs_for_search(trial.search_id)
    analytical = HardwareTarget.objects.get(name=services.ANALYTICAL_TARGET_NAME)
    assert Measurement.objects.get(trial=trial, target=analytical).state == Measurement.DONE


def fake_consumer(queues):
    added = []
    consumer = SimpleNamespace(task_consumer=SimpleNamespace(queues=[Queue(q) for q in queues]),
                               add_task_queue=added.append)
    return consumer, added


def test_a_starting_measuring_worker_registers_its_target_and_consumes_its_queue(monkeypatch, settings):
    settings.NASWEB_QUEUE_PREFIX = ""
    monkeypatch.setattr("devices.costs.measure.host_specs", lambda: dict(HOST))
    consumer, added = fake_consumer(["measure"])
    signals.consume_own_measure_queue(sender=consumer)
    target = HardwareTarget.objects.get()
    assert target.kind == HardwareTarget.MEASURED_CPU and target.name.endswith("@ lab-7")
    assert added == [f"measure.{target.id}"]
    signals.consume_own_measure_queue(sender=consumer)  # a restart: same target, same queue
    assert HardwareTarget.objects.count() == 1 and added[-1] == f"measure.{target.id}"


def test_a_trial_worker_registers_nothing_and_measures_nothing(monkeypatch, settings):
    settings.NASWEB_QUEUE_PREFIX = ""
    monkeypatch.setattr("devices.costs.measure.host_specs", lambda: dict(HOST))
    consumer, added = fake_consumer(["default", "cpu"])
    assert signals.consume_own_measure_queue(sender=consumer) is None
    assert added == [] and not HardwareTarget.objects.exists()


def test_the_costs_for_trial_task_measures_and_reuses_across_searches(trial, start_search, analytical,
                                                                    monkeypatch):
    tasks.costs_for_trial(trial.id)
    first = Measurement.objects.get(trial=trial, target=analytical)
    assert first.state == Measurement.DONE and first.cost_key
    other = start_search(name="again")  # same space, dataset and seed: the same first architecture
    twin_id = search_services.advance_search(other.id)[0]
    search_services.claim_trial(twin_id, "w", "cpu")
    search_services.complete_trial(twin_id, {"val_accuracy": 0.5})
    twin = other.trials.get(id=twin_id)
    assert twin.arch_key == trial.arch_key

    def no_compute(*args, **kwargs):
        raise AssertionError("the same architecture was computed again")

    monkeypatch.setattr("devices.services.arch_costs", no_compute)
    tasks.costs_for_trial(twin.id)
    copy = Measurement.objects.get(trial=twin, target=analytical)
    assert copy.state == Measurement.DONE and copy.metrics == first.metrics and copy.cost_key == first.cost_key
    tasks.costs_for_trial(987654)  # unknown: quiet


def test_a_worker_that_cannot_register_still_starts(monkeypatch):
    def broken():
        raise OSError("no /proc")

    monkeypatch.setattr("devices.costs.measure.host_specs", broken)
    consumer, added = fake_consumer(["default", "cpu"])
    assert signals.consume_own_measure_queue(sender=consumer) is None and added == []


def test_only_a_gpu_queue_worker_with_cuda_is_a_gpu_target(monkeypatch, settings):
    settings.NASWEB_QUEUE_PREFIX = ""
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert signals.worker_device(["gpu"]) == "gpu"
    assert signals.worker_device(["default", "cpu"]) == "cpu"
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert signals.worker_device(["gpu"]) == "cpu"


@pytest.mark.parametrize("error", ["database", "interface", "redis", "broker"])
@pytest.mark.parametrize("task, body, args", [
    (tasks.measure_trial_on_target, "measure_trial_on_target", (1, 2)),
    (tasks.costs_for_trial, "costs_for_trial_id", (1,)),
    (tasks.costs_for_search, "costs_for_search", (1,)),
])
def test_device_tasks_retry_database_and_broker_outages(monkeypatch, task, body, args, error):
    import kombu.exceptions
    import redis.exceptions
    from django.db import InterfaceError, OperationalError

    raised = {"database": OperationalError, "interface": InterfaceError, "redis": redis.exceptions.ConnectionError,
              "broker": kombu.exceptions.OperationalError}[error]
    calls = []

    def away_once(*got):
        calls.append(got)
        if len(calls) == 1:
            raise raised("gone for a while")

    monkeypatch.setattr(f"devices.services.{body}", away_once)
    result = task.apply(args=args)  # eager: Celery runs the retry at once, without its backoff wait
    assert result.successful() and calls == [args, args]
    assert task.retry_backoff and task.max_retries >= 5


def test_a_bug_in_a_device_task_is_not_retried(monkeypatch):
    calls = []

    def broken(*got):
        calls.append(got)
        raise ValueError("a bug")

    monkeypatch.setattr("devices.services.costs_for_trial_id", broken)
    assert tasks.costs_for_trial.apply(args=(1,)).failed() and len(calls) == 1


def test_the_sweep_sends_a_stalled_measurement_again_and_a_worker_then_finishes_it(
        trial, settings, monkeypatch, django_capture_on_commit_callbacks):
    """A measuring worker that died (or lost the database) after its claim leaves the row RUNNING:
    the sweep puts it back in the queue once it is older than NASWEB_MEASUREMENT_STALE_SECONDS."""
    settings.NASWEB_EMBEDDED_WORKER, settings.NASWEB_QUEUE_PREFIX = False, "t3-"
    settings.NASWEB_MEASUREMENT_STALE_SECONDS = 60
    target = services.register_worker_target(HOST)
    now = timezone.now()
    stalled = Measurement.objects.create(trial=trial, target=target, arch=trial.arch, space_kind="chain_mlp",
                                         state=Measurement.RUNNING, started_at=now - timedelta(seconds=61))
    other = search_services.advance_search(trial.search_id)[0]
    fresh = Measurement.objects.create(trial_id=other, target=target, arch=trial.arch, space_kind="chain_mlp",
                                       state=Measurement.RUNNING, started_at=now - timedelta(seconds=30))
    sent = []
    monkeypatch.setattr("searches.dispatch.celery_app.send_task", lambda name, args, queue: sent.append((args, queue)))
    monkeypatch.setattr("searches.services.sweep", lambda: search_services.SweepReport())
    with django_capture_on_commit_callbacks(execute=True):
        report = search_tasks.sweep()
        again = search_tasks.sweep()  # a second sweep (or two at once) sends nothing twice
    assert report["measurements_resent"] == 1 and again["measurements_resent"] == 0
    assert sent == [([trial.id, target.id], f"t3-measure.{target.id}")]
    assert Measurement.objects.get(id=stalled.id).state == Measurement.QUEUED
    assert Measurement.objects.get(id=fresh.id).state == Measurement.RUNNING
    HardwareTarget.objects.filter(id=target.id).update(specs={**target.specs, "runs": 2, "warmup": 1, "rounds": 1})
    tasks.measure_trial_on_target(trial.id, target.id)  # the re-sent job, on a measuring worker
    assert Measurement.objects.get(id=stalled.id).state == Measurement.DONE


def test_the_embedded_worker_has_no_measurements_to_send_again(trial, settings):
    settings.NASWEB_EMBEDDED_WORKER = True
    target = services.register_worker_target(HOST)
    Measurement.objects.create(trial=trial, target=target, arch=trial.arch, space_kind="chain_mlp",
                               state=Measurement.RUNNING, started_at=timezone.now() - timedelta(days=1))
    assert services.resend_stalled_measurements() == 0
