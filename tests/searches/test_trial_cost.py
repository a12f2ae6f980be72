"""What a lookup trial costs: SQL queries and Celery tasks, on the real PostgreSQL.

A NAS-Bench-201 lookup is the fastest trial there is, so everything else it does is overhead:
claim, the epoch, the result, the cost bookkeeping (decide whether it matters, send it to the
measuring workers if so) and the advance that follows.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.models import Measurement
from searches import dispatch, runner, services
from searches.models import Trial

pytestmark = pytest.mark.django_db(transaction=True)  # no test savepoints: the queries production runs


@pytest.fixture
def tasks(monkeypatch, settings):
    settings.NASWEB_EMBEDDED_WORKER = False
    sent = []
    monkeypatch.setattr("searches.dispatch.celery_app.send_task",
                        lambda name, args, queue: sent.append((name, tuple(args), queue)))
    return sent


@pytest.fixture
def lookup_search(owner, settings):
    settings.NASWEB_LOOKUPS_IN_ADVANCE = False  # one trial through the workers; the batched path: test_lookups.py
    project = services.create_project(owner, "NB201", services.benchmark_dataset("nb201_cifar10"))
    return services.start_search(project, owner, name="lookups", space_kind="nb201", space_spec=None,
                                 strategy="random", max_trials=40, parallelism=1, seed=4)


def queued(search_id: int) -> int:
    return Trial.objects.filter(search_id=search_id, state="queued").values_list("id", flat=True).get()


def run_one(trial_id: int, search_id: int) -> int:
    """The work of one trial: its task as Celery runs it (a slot that picks the trial in turn, in the
    same query that reads the message's row), then the advance its result sends (which creates the next)."""
    runner.run_trial(trial_id, worker="w", fair=True)
    services.advance_search(search_id)
    return trial_id


def statements(queries) -> list[str]:
    """The SQL statements sent, without the BEGIN/COMMIT around each transaction."""
    return [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]


def test_a_lookup_trial_costs_at_most_15_queries_and_2_tasks(lookup_search, tasks, settings):
    settings.NASWEB_MEASURE_TOP_K = 3
    services.advance_search(lookup_search.id)
    for _ in range(12):  # past the first few, which all enter the top 3
        run_one(queued(lookup_search.id), lookup_search.id)
    counted = []
    for _ in range(8):
        tasks.clear()
        trial_id = queued(lookup_search.id)
        with CaptureQueriesContext(connection) as queries:
            run_one(trial_id, lookup_search.id)
        trial = Trial.objects.get(id=trial_id)
        assert trial.state == "complete"
        names = [name for name, _, _ in tasks]
        counted.append((len(statements(queries)), names, trial.val_accuracy))
        assert names.count(dispatch.RUN_TRIAL) == 1 and names.count(dispatch.ADVANCE_SEARCH) == 1
        if dispatch.COSTS_FOR_TRIAL not in names:  # an ordinary trial: the goal's budget
            assert len(statements(queries)) <= 15, "\n".join(q[:110] for q in statements(queries))
            assert len(names) == 2
    print("queries, tasks per trial:", [(n, len(t)) for n, t, _ in counted])
    assert any(dispatch.COSTS_FOR_TRIAL not in names for _, names, _ in counted), counted
    assert not Measurement.objects.exists()  # nothing measured on the trial path


def test_only_the_trials_that_matter_are_sent_to_the_measuring_workers(lookup_search, tasks, settings):
    settings.NASWEB_MEASURE_TOP_K = 2
    services.advance_search(lookup_search.id)
    sent_for = []
    for _ in range(10):
        tasks.clear()
        trial_id = run_one(queued(lookup_search.id), lookup_search.id)
        if any(name == dispatch.COSTS_FOR_TRIAL for name, _, _ in tasks):
            sent_for.append(trial_id)
            assert (dispatch.COSTS_FOR_TRIAL, (trial_id,), "measure") in tasks
    values = dict(Trial.objects.filter(search=lookup_search, state="complete").values_list("id", "val_accuracy"))
    order = sorted(values)  # completion order = id order here
    for index, trial_id in enumerate(order):
        better_before = sum(values[o] > values[trial_id] for o in order[:index])
        assert (trial_id in sent_for) == (better_before < 2)  # in the top 2 when it finished
