"""Lookup trials answered in batches inside the advance step (searches/services/lookups.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from searches import dispatch, events, services
from searches.benchmarks.nb201 import Nb201Table
from searches.models import Search, Trial, TrialMetric
from searches.services import lookups
from searches.spaces.nb201_cell import arch_to_string

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs: the pushes and the tasks are real


@pytest.fixture
def sent(monkeypatch, settings):
    settings.NASWEB_EMBEDDED_WORKER = False
    tasks = []
    monkeypatch.setattr("searches.dispatch.celery_app.send_task",
                        lambda name, args, queue: tasks.append((name, tuple(args), queue)))
    return tasks


@pytest.fixture
def pushes(monkeypatch):
    batches = []
    real = events.send_many_now
    monkeypatch.setattr(events, "send_many_now", lambda search_id, messages: batches.append(messages)
                        or real(search_id, messages))
    return batches


def lookup_search(owner, **fields):
    project = services.create_project(owner, "NB201", services.benchmark_dataset("nb201_cifar10"))
    return services.start_search(project, owner, **{"name": "lookups", "space_kind": "nb201", "space_spec": None,
                                                    "strategy": "random", "max_trials": 60, "parallelism": 4,
                                                    "seed": 3, **fields})


def test_one_advance_answers_the_whole_budget_in_batches_and_finishes(owner, sent, pushes, settings):
    settings.NASWEB_MEASURE_TOP_K = 3
    search = lookup_search(owner)
    sent.clear()
    with CaptureQueriesContext(connection) as queries:
        services.advance_search(search.id)
    search.refresh_from_db()
    assert search.state == Search.DONE and not search.error
    trials = list(Trial.objects.filter(search=search).order_by("number"))
    assert [t.number for t in trials] == list(range(1, 61)) and len({t.arch_key for t in trials}) == 60
    table = Nb201Table.load()
    for trial in trials:
        assert trial.state == Trial.COMPLETE and trial.epochs_done == 1
        assert trial.val_accuracy == pytest.approx(table.lookup(arch_to_string(trial.arch)).valid_acc / 100)
    assert TrialMetric.objects.filter(trial__search=search, epoch=1, name="val_accuracy").count() == 60
    names = [name for name, _, _ in sent]
    assert dispatch.RUN_TRIAL not in names and dispatch.ADVANCE_SEARCH not in names  # nothing sent per trial
    # the cost bookkeeping on the values in hand: only trials in the top 3 when they were answered
    assert 3 <= names.count(dispatch.COSTS_FOR_TRIAL) < 20
    assert len(queries.captured_queries) < 40, "\n".join(q["sql"][:100] for q in queries.captured_queries)
    assert len(pushes) == 1 and len(pushes[0]) == 60  # one batched push of every trial


def test_an_advance_hands_the_search_back_after_its_slice(owner, sent, monkeypatch):
    monkeypatch.setattr(lookups, "LOOKUP_SLICE_SECONDS", 0.0)  # one round a step
    search = lookup_search(owner, max_trials=10, parallelism=4)
    for expected in (4, 8):
        sent.clear()
        services.advance_search(search.id)
        assert Trial.objects.filter(search=search, state=Trial.COMPLETE).count() == expected
        assert [name for name, _, _ in sent].count(dispatch.ADVANCE_SEARCH) == 1  # the next step continues
    services.advance_search(search.id)
    search.refresh_from_db()
    assert search.state == Search.DONE and search.trials.count() == 10


def test_a_redelivered_advance_creates_no_duplicates(owner, sent):
    search = lookup_search(owner, max_trials=12)
    services.advance_search(search.id)
    services.advance_search(search.id)  # the same message again, after the first committed
    assert Trial.objects.filter(search=search).count() == 12
    Search.objects.filter(id=search.id).update(state=Search.RUNNING)  # even reopened, the budget is spent
    services.advance_search(search.id)
    assert Trial.objects.filter(search=search).count() == 12


def test_the_strategy_sees_every_earlier_batch(owner, sent, monkeypatch):
    seen = []
    real = lookups.LookupRounds.answer

    def answer(self, archs):
        seen.append(len(self.history))
        return real(self, archs)

    monkeypatch.setattr(lookups.LookupRounds, "answer", answer)
    lookup_search(owner, max_trials=12, parallelism=4, strategy="evolution")
    services.advance_search(Search.objects.get().id)
    assert seen == [0, 4, 8]


def test_the_asks_compute_each_key_once_however_long_the_history(owner, sent, monkeypatch):
    # Each ask reads the keys of the whole history; computed afresh every round, they made the
    # advance quadratic in the search's length (bench/throughput.py: 1,000 trials/s at 300, 300 at 2,000).
    from searches.spaces.nb201 import NB201Space

    monkeypatch.setattr(lookups, "LOOKUP_SLICE_SECONDS", 0.0)  # one round a step
    search = lookup_search(owner, max_trials=40, parallelism=4)
    for _ in range(5):
        services.advance_search(search.id)
    computed = []
    real = NB201Space.key
    monkeypatch.setattr(NB201Space, "key", lambda self, arch: computed.append(1) or real(self, arch))
    services.advance_search(search.id)  # 20 stored trials in its history, 4 new ones
    assert Trial.objects.filter(search=search).count() == 24
    assert len(computed) <= 3 * 4, "the stored trials' keys were computed again"


@pytest.mark.parametrize("setting, pruner", [(False, ""), (True, "median")])
def test_a_lookup_search_with_a_pruner_or_the_setting_off_uses_the_workers(owner, sent, settings, setting, pruner):
    settings.NASWEB_LOOKUPS_IN_ADVANCE = setting
    search = lookup_search(owner, max_trials=8, pruner=pruner)
    assert search.pruner == pruner
    sent.clear()
    services.advance_search(search.id)
    assert [name for name, _, _ in sent].count(dispatch.RUN_TRIAL) == 4
    assert Trial.objects.filter(search=search, state=Trial.QUEUED).count() == 4
