"""The trial runner trains a real PyTorch model on digits and records it."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from searches import runner, services
from searches.engine_data import checkpoints_of
from searches.models import Search, Trial

pytestmark = pytest.mark.django_db


def test_run_trial_trains_and_records_every_epoch(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1, training={"epochs": 3})
    (trial_id,) = services.advance_search(search.id)
    runner.run_trial(trial_id, worker="test-worker")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.COMPLETE, trial.error
    assert trial.val_accuracy > 0.5 and trial.params > 0 and trial.epochs_done == 3
    assert trial.metrics["test_accuracy"] > 0.5
    epochs = sorted(set(trial.epoch_metrics.values_list("epoch", flat=True)))
    assert epochs == [1, 2, 3]
    assert (trial.worker, trial.device) == ("test-worker", "cpu")


def test_a_trial_that_cannot_build_is_failed_with_the_reason(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    Trial.objects.filter(id=trial_id).update(arch={"depth": 99})
    runner.run_trial(trial_id, worker="w")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.FAILED and "SpecError" in trial.error


def test_a_cancelled_search_stops_training_between_epochs(start_search, monkeypatch, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1, training={"epochs": 50})
    (trial_id,) = services.advance_search(search.id)
    real_record = services.record_epoch

    def cancel_after_first_epoch(trial_id, epoch, metrics, attempt):
        keep_going = real_record(trial_id, epoch, metrics, attempt=attempt)
        services.cancel_search(Search.objects.get(id=search.id))
        return keep_going

    monkeypatch.setattr("searches.services.record_epoch", cancel_after_first_epoch)
    runner.run_trial(trial_id, worker="w")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.CANCELLED and trial.epochs_done <= 2
    assert not checkpoints_of(trial_id)  # a final trial never resumes: nothing left behind


def test_a_trial_claimed_elsewhere_is_left_alone(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "other", "cpu")
    runner.run_trial(trial_id, worker="me")
    assert Trial.objects.get(id=trial_id).worker == "other"
    runner.run_trial(987654, worker="me")  # a deleted trial is a quiet no-op


def test_a_requeued_trial_resumes_from_its_checkpoint(start_search, monkeypatch, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1, training={"epochs": 4})
    (trial_id,) = services.advance_search(search.id)
    real_record = services.record_epoch

    def worker_dies_after_two_epochs(trial_id, epoch, metrics, attempt):
        real_record(trial_id, epoch, metrics, attempt=attempt)
        if epoch == 2:
            raise SystemExit("worker killed")  # not an Exception: the trial stays running, as after a crash

    monkeypatch.setattr("searches.services.record_epoch", worker_dies_after_two_epochs)
    with pytest.raises(SystemExit):
        runner.run_trial(trial_id, worker="w1")
    assert list(checkpoints_of(trial_id)) == [1]
    monkeypatch.setattr("searches.services.record_epoch", real_record)
    Trial.objects.filter(id=trial_id).update(heartbeat_at=None, state=Trial.QUEUED)  # the sweep requeued it
    trained_epochs = []
    monkeypatch.setattr("searches.services.record_epoch",
                        lambda t, e, m, attempt: trained_epochs.append(e) or real_record(t, e, m, attempt=attempt))
    runner.run_trial(trial_id, worker="w2")
    trial = Trial.objects.get(id=trial_id)
    # the crash came after epoch 2 was recorded and before its checkpoint: epoch 2 runs again
    assert trial.state == Trial.COMPLETE and trained_epochs == [2, 3, 4] and trial.attempt == 2
    assert sorted(set(trial.epoch_metrics.values_list("epoch", flat=True))) == [1, 2, 3, 4]
    assert not checkpoints_of(trial_id)


def test_a_worker_that_lost_its_claim_can_no_longer_write(start_search, monkeypatch, settings, tmp_path):
    """A stale re-claim while the first worker lives: the first one's epochs, checkpoints and result
    are refused, and it stops at its next epoch; the trial is trained to the end once, by the second."""
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1, training={"epochs": 4})
    (trial_id,) = services.advance_search(search.id)
    real_record = services.record_epoch
    refused = []

    def second_worker_claims_after_epoch_one(trial_id, epoch, metrics, attempt):
        if epoch == 1 and attempt == 1:
            real_record(trial_id, epoch, metrics, attempt=attempt)
            Trial.objects.filter(id=trial_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
            assert services.claim_trial(trial_id, "w2", "cpu").attempt == 2
            return True
        written = real_record(trial_id, epoch, metrics, attempt=attempt)
        if not written:
            refused.append((attempt, epoch))
        return written

    monkeypatch.setattr("searches.services.record_epoch", second_worker_claims_after_epoch_one)
    runner.run_trial(trial_id, worker="w1")
    assert refused == [(1, 2)]  # the first worker's epoch 2 was refused, and it stopped
    trial = Trial.objects.get(id=trial_id)
    assert (trial.state, trial.worker, trial.attempt) == (Trial.RUNNING, "w2", 2)
    assert not services.complete_trial(trial_id, {"val_accuracy": 1.0}, attempt=1)
    assert not services.fail_trial(trial_id, "late", attempt=1)
    assert not services.beat_trial(trial_id, 1) and services.beat_trial(trial_id, 2)
    assert 1 not in checkpoints_of(trial_id)  # the loser leaves no checkpoint behind


def test_a_redelivery_takes_over_at_once_from_a_dead_process_of_the_same_worker(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1, training={"epochs": 1})
    (trial_id,) = services.advance_search(search.id)
    dead_pid = 2**22 + 12345  # above pid_max on this machine: no such process
    services.claim_trial(trial_id, "celery@here", "cpu", pid=dead_pid)  # heartbeat fresh, holder gone
    runner.run_trial(trial_id, worker="other@here")  # another worker cannot tell: it waits for staleness
    assert Trial.objects.get(id=trial_id).state == Trial.RUNNING
    runner.run_trial(trial_id, worker="celery@here")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.COMPLETE and trial.attempt == 2, trial.error


def test_a_live_holder_of_the_same_worker_is_left_alone(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "celery@here", "cpu", pid=1)  # pid 1 lives
    runner.run_trial(trial_id, worker="celery@here")
    assert Trial.objects.get(id=trial_id).attempt == 1


@pytest.mark.django_db(transaction=True)  # the heartbeat thread has its own connection: it sees commits only
def test_heartbeats_come_from_a_thread_while_an_epoch_runs(start_search, monkeypatch, settings):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    settings.NASWEB_TRIAL_HEARTBEAT_SECONDS = 0.05
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    trial = services.claim_trial(trial_id, "w", "cpu")
    Trial.objects.filter(id=trial_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    heartbeat = runner.Heartbeat(trial_id, trial.attempt)
    try:
        deadline = time.monotonic() + 10
        while Trial.objects.get(id=trial_id).heartbeat_at < timezone.now() - timedelta(minutes=1):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        services.claim_trial(trial_id, "w2", "cpu", take_over_attempt=1)
        deadline = time.monotonic() + 10
        while not heartbeat.lost:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        heartbeat.stop()


def test_a_database_error_mid_training_leaves_the_trial_to_be_requeued(start_search, monkeypatch):
    from django.db import OperationalError

    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1, training={"epochs": 3})
    (trial_id,) = services.advance_search(search.id)

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("searches.services.record_epoch", database_gone)
    with pytest.raises(OperationalError):
        runner.run_trial(trial_id, worker="w")  # the task retries it
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.RUNNING and not trial.error  # not failed: the sweep requeues it when stale


def test_a_restarted_worker_requeues_at_once_what_its_dead_processes_held(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=3, parallelism=3)
    dead, alive, elsewhere = services.advance_search(search.id)
    services.claim_trial(dead, "celery@here", "cpu", pid=2**22 + 12345)  # its process is gone
    services.claim_trial(alive, "celery@here", "cpu", pid=1)
    services.claim_trial(elsewhere, "celery@there", "cpu", pid=2**22 + 12345)  # another worker's: not ours to judge
    assert runner.recover_trials_of_dead_processes("celery@here") == 1
    states = dict(Trial.objects.filter(search=search).values_list("id", "state"))
    assert states == {dead: Trial.QUEUED, alive: Trial.RUNNING, elsewhere: Trial.RUNNING}
