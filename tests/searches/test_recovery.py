"""The recovery sweep on the real PostgreSQL: stale trials back to the queue, bounded retries that say
why, lost messages sent again, searches with a free slot advanced, and lost trials outside the budget."""

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import OperationalError
from django.utils import timezone

from searches import services, tasks
from searches.engine_data import checkpoint_path, checkpoints_of
from searches.models import Search, Trial

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Work the writers send (on commit), as (task name, args)."""
    messages = []
    monkeypatch.setattr("searches.dispatch.send_on_commit", lambda name, args, queue: messages.append((name, args)))
    monkeypatch.setattr("searches.dispatch.messages_waiting", lambda queue: 0)  # nothing reaches the broker
    return messages


def go_stale(trial_id: int) -> None:
    Trial.objects.filter(id=trial_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))


def test_a_stale_trial_goes_back_to_the_queue_and_is_sent_again(start_search, sent):
    search = start_search(max_trials=2)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "dead@host", "cpu", pid=99)
    services.sweep()
    assert Trial.objects.get(id=trial_id).state == Trial.RUNNING  # fresh heartbeat: left alone
    go_stale(trial_id)
    sent.clear()
    report = services.sweep()
    trial = Trial.objects.get(id=trial_id)
    assert (trial.state, trial.worker, trial.worker_pid, trial.attempt) == (Trial.QUEUED, "", None, 1)
    assert ("searches.run_trial", (trial_id,)) in sent
    assert (report.requeued, report.failed) == (1, 0)
    assert services.claim_trial(trial_id, "w2", "cpu").attempt == 2


def test_after_the_last_attempt_a_lost_trial_fails_saying_why_and_is_not_counted(start_search, sent, settings):
    settings.NASWEB_TRIAL_MAX_ATTEMPTS = 2
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    for _ in range(2):
        attempt = services.claim_trial(trial_id, "w@lost-host", "cpu").attempt
        checkpoint_path(trial_id, attempt).write_bytes(b"epoch")
        go_stale(trial_id)
        services.sweep()
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.FAILED and trial.lost
    assert checkpoints_of(trial_id) == {}  # a failed trial never resumes: its files go
    assert "worker lost 2 times" in trial.error and "NASWEB_TRIAL_MAX_ATTEMPTS=2" in trial.error
    assert "w@lost-host" in trial.error and "not counted in the trial budget" in trial.error
    # the budget of one trial is still there: a new trial takes the lost one's place
    (replacement,) = services.advance_search(search.id)
    assert Trial.objects.get(id=replacement).number == 2
    services.claim_trial(replacement, "w", "cpu")
    services.complete_trial(replacement, {"val_accuracy": 0.5})
    assert services.advance_search(search.id) == []
    assert Search.objects.get(id=search.id).state == Search.DONE


def test_a_trial_that_failed_for_real_uses_up_the_budget(start_search, sent):
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "w", "cpu")
    services.fail_trial(trial_id, "RuntimeError: out of memory", attempt=1)
    assert services.advance_search(search.id) == []
    assert Search.objects.get(id=search.id).state == Search.DONE


def test_a_queued_trial_whose_message_was_lost_is_sent_again(start_search, sent, settings):
    settings.NASWEB_TRIAL_RESEND_SECONDS = 60
    search = start_search(max_trials=2)
    (trial_id,) = services.advance_search(search.id)
    sent.clear()
    assert services.sweep().resent == 0  # just queued
    Trial.objects.filter(id=trial_id).update(queued_at=timezone.now() - timedelta(minutes=5))
    assert services.sweep().resent == 1
    assert ("searches.run_trial", (trial_id,)) in sent
    sent.clear()
    assert services.sweep().resent == 0  # sent again once per period, not at every sweep


def test_with_fair_queues_only_the_trials_beyond_the_waiting_messages_are_sent_again(
        start_search, sent, settings, monkeypatch):
    """A message is a slot for whichever search's turn it is: trials that wait behind busy workers have
    not lost their messages, so the sweep sends only the shortfall, counted over one sweep's searches."""
    settings.NASWEB_TRIAL_RESEND_SECONDS, settings.NASWEB_FAIR_QUEUES = 60, True
    asked = []
    monkeypatch.setattr("searches.dispatch.messages_waiting", lambda queue: asked.append(queue) or 3)
    first, second = start_search(max_trials=4, parallelism=4), start_search(max_trials=2, parallelism=2)
    trial_ids = services.advance_search(first.id) + services.advance_search(second.id)
    Trial.objects.filter(id__in=trial_ids).update(queued_at=timezone.now() - timedelta(minutes=5))
    sent.clear()
    assert services.sweep().resent == 3  # 6 old queued trials, 3 messages still waiting on the queue
    assert len([name for name, _ in sent if name == "searches.run_trial"]) == 3 and len(asked) == 1
    settings.NASWEB_FAIR_QUEUES = False  # FIFO: a message serves its own trial only, so each goes again
    Trial.objects.filter(id__in=trial_ids).update(queued_at=timezone.now() - timedelta(minutes=5))
    assert services.sweep().resent == 6
    settings.NASWEB_FAIR_QUEUES = True  # two trials queued just now take two of the three waiting messages
    Trial.objects.filter(id__in=trial_ids[:4]).update(queued_at=timezone.now() - timedelta(minutes=5))
    assert services.sweep().resent == 3


def test_a_broker_that_cannot_be_asked_means_every_old_trial_is_sent_again(start_search, sent, settings, monkeypatch):
    settings.NASWEB_TRIAL_RESEND_SECONDS, settings.NASWEB_FAIR_QUEUES = 60, True
    monkeypatch.setattr("searches.dispatch.messages_waiting", lambda queue: None)
    search = start_search(max_trials=2, parallelism=2)
    trial_ids = services.advance_search(search.id)
    Trial.objects.filter(id__in=trial_ids).update(queued_at=timezone.now() - timedelta(minutes=5))
    assert services.sweep().resent == 2


def test_an_active_search_with_a_free_slot_is_advanced(start_search, sent):
    search = start_search(max_trials=3, parallelism=2)
    (first, second) = services.advance_search(search.id)
    for trial_id in (first, second):
        services.claim_trial(trial_id, "w", "cpu")
    sent.clear()
    services.sweep()
    assert ("searches.advance_search", (search.id,)) not in sent  # both slots busy
    services.complete_trial(first, {"val_accuracy": 0.5})
    sent.clear()  # the message complete_trial sent is lost
    services.sweep()
    assert ("searches.advance_search", (search.id,)) in sent


def test_a_paused_search_keeps_its_trials_alive_but_is_not_advanced(start_search, sent):
    search = start_search(max_trials=3)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "w", "cpu")
    services.pause_search(search)
    go_stale(trial_id)
    sent.clear()
    services.sweep()
    assert ("searches.run_trial", (trial_id,)) in sent
    assert ("searches.advance_search", (search.id,)) not in sent


def test_the_database_going_away_in_the_strategy_does_not_fail_the_search(start_search, monkeypatch, sent):
    search = start_search()

    def database_gone(self, history, n):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("searches.strategies.random_search.RandomSearch.ask", database_gone)
    with pytest.raises(OperationalError):
        services.advance_search(search.id)  # the task retries it
    assert Search.objects.get(id=search.id).state != Search.FAILED


def test_the_soft_time_limit_of_advance_requeues_and_then_fails_saying_why(start_search, monkeypatch, sent):
    search = start_search()

    def too_slow(search_id):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr("searches.services.advance_search", too_slow)
    retried = []
    monkeypatch.setattr(tasks.advance_search, "retry", lambda **kw: retried.append(kw) or RuntimeError("retry"))
    with pytest.raises(RuntimeError):
        tasks.advance_search.run(search.id)
    assert retried and Search.objects.get(id=search.id).state != Search.FAILED
    tasks.advance_search.push_request(retries=tasks.SLOW_ADVANCE_RETRIES)
    try:
        tasks.advance_search.run(search.id)
    finally:
        tasks.advance_search.pop_request()
    search.refresh_from_db()
    assert search.state == Search.FAILED and "took more than 120 s" in search.error


def test_run_trial_and_advance_retry_database_and_broker_outages():
    import kombu.exceptions
    import redis.exceptions

    for task in (tasks.advance_search, tasks.run_trial, tasks.run_oneshot):
        for error in (OperationalError, redis.exceptions.ConnectionError, kombu.exceptions.OperationalError):
            assert issubclass(error, task.autoretry_for)
        assert task.max_retries >= 10 and task.retry_backoff
