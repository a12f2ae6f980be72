"""One short case of each fault of bench/faults/ (the long runs live there): a real prefork Celery
worker with 2 children and Celery beat run a chain-MLP search on digits while

- a pool child and then the main process are SIGKILLed (on the suite's PostgreSQL and Redis);
- a private Redis (own port, no persistence) is restarted mid-search;
- a private PostgreSQL cluster (initdb in a temporary folder, own port) is restarted mid-search;

and the search must complete its whole budget, nothing lost, nothing duplicated; and the pool child
that trains a one-shot search's supernet is SIGKILLed (the bench kills the main process too) and the
search completes, every supernet epoch recorded once (bench/faults/kill_oneshot.py is the long run)."""

import os
import shutil

import pytest
from django.db import connection

from bench.faults.harness import PG_BIN, kill_scenario, oneshot_kill_scenario, restart_scenario
from tests.processes import postgres_url

pytestmark = [pytest.mark.integration]


def assert_ok(result):
    assert result.ok(), "\n".join(result.lines()) + f"\nfailed: {result.failed}"


@pytest.mark.django_db(transaction=True)
def test_two_kills_of_the_worker_lose_and_duplicate_nothing(tmp_path):
    # Long enough epochs-wise that an idle machine is still training when the second kill comes.
    result, seconds, _ = kill_scenario(kills=2, trials=4, epochs=40,
                                       database_url=postgres_url(connection.settings_dict["NAME"]),
                                       redis_url=os.environ["REDIS_URL"], folder=tmp_path)
    assert_ok(result)
    assert len(seconds) >= 2 and max(seconds) < 90, seconds
    assert max(result.attempts) >= 2  # the kills did interrupt trials, which resumed


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server for a private instance")
@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_mid_search_loses_and_duplicates_nothing(tmp_path, settings):
    result, _ = restart_scenario("redis", trials=4, epochs=8, down_seconds=4, restarts=1,
                                 database_url=postgres_url(connection.settings_dict["NAME"]), folder=tmp_path)
    assert_ok(result)


@pytest.mark.skipif(PG_BIN is None, reason="needs PostgreSQL's initdb and pg_ctl for a private cluster")
@pytest.mark.django_db(transaction=True)  # the private cluster starts as a copy of the migrated test database
def test_a_postgresql_restart_mid_search_loses_and_duplicates_nothing(tmp_path):
    result, _ = restart_scenario("postgres", trials=4, epochs=8, down_seconds=4, restarts=1,
                                 redis_url=os.environ["REDIS_URL"], folder=tmp_path,
                                 clone_from=postgres_url(connection.settings_dict["NAME"]))
    assert_ok(result)


@pytest.mark.django_db(transaction=True)
def test_a_killed_supernet_worker_is_taken_over_and_the_oneshot_search_completes(tmp_path):
    # One pool-child kill (the main process kill, which costs a worker restart, is in the bench).
    result, seconds, _ = oneshot_kill_scenario(kills=1, epochs=12,
                                               database_url=postgres_url(connection.settings_dict["NAME"]),
                                               redis_url=os.environ["REDIS_URL"], folder=tmp_path)
    assert result.ok(), "\n".join(result.lines())
    assert len(seconds) >= 1 and result.attempts >= 2  # a kill did interrupt the supernet, which resumed
