"""A real Celery worker process (one slot) shares itself fairly: a search that queued 24 trials first
does not hold up a second search's trials behind all of them."""

import os
import time
import uuid

import pytest
from django.db import connection, transaction

from searches import services
from searches.models import Search, Trial
from tests.processes import celery_worker, child_env, postgres_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def queue_prefix(settings):
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    settings.NASWEB_QUEUE_PREFIX = prefix  # tasks this test sends go only to its own worker
    settings.NASWEB_EMBEDDED_WORKER = False
    settings.NASWEB_LOOKUPS_IN_ADVANCE = False
    return prefix


def start_lookups(project, owner, name: str, trials: int) -> Search:
    """A lookup search with all its trials queued at once (sent on commit)."""
    search = services.start_search(project, owner, name=name, space_kind="nb201", space_spec=None,
                                   strategy="random", max_trials=trials, parallelism=trials, seed=3)
    services.advance_search(search.id)
    return search


def wait_until_finished(search_ids: list[int], seconds: float, log) -> None:
    deadline = time.monotonic() + seconds
    while Search.objects.filter(id__in=search_ids).exclude(state__in=Search.FINAL_STATES).exists():
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.3)


def test_a_second_search_is_not_held_up_behind_the_trials_of_a_first(owner, queue_prefix, tmp_path):
    project = services.create_project(owner, "NB201", services.benchmark_dataset("nb201_cifar10"))
    with transaction.atomic():  # every message sent in one go: the long search's 24 first, then the short's 3
        long_search = start_lookups(project, owner, "long", 24)
        short_search = start_lookups(project, owner, "short", 3)
    env = child_env(DATABASE_URL=postgres_url(connection.settings_dict["NAME"]), REDIS_URL=os.environ["REDIS_URL"],
                    NASWEB_QUEUE_PREFIX=queue_prefix, NASWEB_LOOKUPS_IN_ADVANCE="false")
    log = tmp_path / "worker.log"
    with celery_worker(env, [f"{queue_prefix}default", f"{queue_prefix}cpu"], log):  # the solo pool: one slot
        wait_until_finished([long_search.id, short_search.id], 120, log)
    trials = list(Trial.objects.filter(search__in=[long_search, short_search]).order_by("finished_at"))
    assert [t.state for t in trials] == ["complete"] * 27 and {t.attempt for t in trials} == {1}
    order = [t.search_id for t in trials]
    last_short = max(n for n, search_id in enumerate(order) if search_id == short_search.id)
    long_before = order[:last_short].count(long_search.id)
    assert long_before <= 4, order  # round robin: about one long trial per short one, not all 24 first
