"""A real Celery worker process on Redis runs a 3-trial search to done."""

import os
import time
import uuid

import pytest
from django.db import connection

from searches import services
from searches.models import Search, TrialMetric
from tests.processes import celery_worker, child_env, postgres_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue_prefix(settings):
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    settings.NASWEB_QUEUE_PREFIX = prefix  # tasks this test sends go only to its own worker
    return prefix


@pytest.fixture
def worker(queue_prefix, tmp_path):
    env = child_env(DATABASE_URL=postgres_url(connection.settings_dict["NAME"]), REDIS_URL=os.environ["REDIS_URL"],
                    NASWEB_QUEUE_PREFIX=queue_prefix)
    log = tmp_path / "worker.log"
    with celery_worker(env, [f"{queue_prefix}default", f"{queue_prefix}cpu"], log):
        yield log


def wait_until_finished(search_id: int, seconds: float) -> Search:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        search = Search.objects.get(id=search_id)
        if search.state in Search.FINAL_STATES:
            return search
        time.sleep(0.5)
    raise AssertionError(f"search still {search.state} after {seconds} s")


def test_worker_runs_a_three_trial_search_to_done(start_search, worker):
    search = start_search(max_trials=3, parallelism=2, training={"epochs": 2})
    try:
        search = wait_until_finished(search.id, seconds=180)
    except AssertionError as exc:
        trials = list(search.trials.order_by("number").values_list("number", "state", "worker", "attempt"))
        raise AssertionError(f"{exc}; trials {trials}; worker log:\n{worker.read_text()[-4000:]}") from None
    assert search.state == Search.DONE, (search.error, worker.read_text()[-3000:])
    trials = list(search.trials.order_by("number"))
    assert [t.number for t in trials] == [1, 2, 3]
    assert all(t.state == "complete" and t.val_accuracy > 0.2 for t in trials), [t.error for t in trials]
    assert all(t.worker.startswith("test-") for t in trials)
    assert TrialMetric.objects.filter(trial__search=search, name="val_accuracy").count() == 6
    assert len({t.arch_key for t in trials}) == 3


def test_worker_stops_a_cancelled_search(start_search, worker):
    search = start_search(max_trials=3, training={"epochs": 200})
    deadline = time.monotonic() + 60
    while not search.trials.filter(state="running", epochs_done__gte=1).exists():
        assert time.monotonic() < deadline, worker.read_text()[-3000:]
        time.sleep(0.2)
    services.cancel_search(search)
    deadline = time.monotonic() + 30
    while search.trials.filter(state__in=["queued", "running"]).exists():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    search.refresh_from_db()
    assert search.state == Search.CANCELLED
    assert search.trials.get().epochs_done < 200
