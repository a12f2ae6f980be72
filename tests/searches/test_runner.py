"""The trial runner trains a real PyTorch model on digits and records it."""

import pytest

from searches import runner, services
from searches.engine_data import checkpoint_path
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

    def cancel_after_first_epoch(trial_id, epoch, metrics):
        keep_going = real_record(trial_id, epoch, metrics)
        services.cancel_search(Search.objects.get(id=search.id))
        return keep_going

    monkeypatch.setattr("searches.services.record_epoch", cancel_after_first_epoch)
    runner.run_trial(trial_id, worker="w")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.CANCELLED and trial.epochs_done <= 2
    assert not checkpoint_path(trial_id).exists()  # a final trial never resumes: nothing left behind


def test_a_trial_claimed_elsewhere_is_left_alone(start_search, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "other", "cpu")
    runner.run_trial(trial_id, worker="me")
    assert Trial.objects.get(id=trial_id).worker == "other"
    runner.run_trial(987654, worker="me")  # a deleted trial is a quiet no-op


def test_a_redelivered_trial_resumes_from_its_checkpoint(start_search, monkeypatch, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1, training={"epochs": 4})
    (trial_id,) = services.advance_search(search.id)
    real_record = services.record_epoch

    def worker_dies_after_two_epochs(trial_id, epoch, metrics):
        real_record(trial_id, epoch, metrics)
        if epoch == 2:
            raise SystemExit("worker killed")  # not an Exception: the trial stays running, as after a crash

    monkeypatch.setattr("searches.services.record_epoch", worker_dies_after_two_epochs)
    with pytest.raises(SystemExit):
        runner.run_trial(trial_id, worker="w1")
    assert checkpoint_path(trial_id).exists()
    monkeypatch.setattr("searches.services.record_epoch", real_record)
    Trial.objects.filter(id=trial_id).update(heartbeat_at=None, state=Trial.QUEUED)  # the broker redelivers
    trained_epochs = []
    monkeypatch.setattr("searches.services.record_epoch",
                        lambda t, e, m: trained_epochs.append(e) or real_record(t, e, m))
    runner.run_trial(trial_id, worker="w2")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.COMPLETE and trained_epochs == [3, 4]
    assert sorted(set(trial.epoch_metrics.values_list("epoch", flat=True))) == [1, 2, 3, 4]
    assert not checkpoint_path(trial_id).exists()
