"""One-shot searches after a crash: the sweep re-queues a supernet task whose heartbeat is stale, with
bounded retries that then fail the search saying why; a holder that lost its claim can no longer write;
a killed run resumes after its last epoch from the supernet checkpoint."""

from datetime import timedelta

import pytest
from django.utils import timezone

from searches import runner, services
from searches.engine_data import oneshot_checkpoint_path, oneshot_checkpoints_of
from searches.models import OneShotEpoch, Search

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    messages = []
    monkeypatch.setattr("searches.dispatch.send_on_commit", lambda name, args, queue: messages.append((name, args)))
    monkeypatch.setattr("searches.dispatch.messages_waiting", lambda queue: 0)  # nothing reaches the broker
    return messages


def start_oneshot(start_search, epochs=2):
    search = start_search(space_kind="chain_mlp", space_spec=None, strategy="random_oneshot",
                          strategy_settings={"epochs": epochs, "batch_size": 128, "derive_samples": 2},
                          training={"epochs": 1})
    services.advance_search(search.id)
    return Search.objects.get(id=search.id)


def go_stale(search_id: int) -> None:
    Search.objects.filter(id=search_id).update(oneshot_heartbeat_at=timezone.now() - timedelta(hours=1))


def test_the_sweep_requeues_a_supernet_whose_heartbeat_is_stale(start_search, sent):
    search = start_oneshot(start_search)
    assert services.claim_oneshot(search.id, "dead@host", pid=99).oneshot_attempt == 1
    services.sweep()
    assert Search.objects.get(id=search.id).oneshot_worker == "dead@host"  # fresh heartbeat: left alone
    go_stale(search.id)
    sent.clear()
    report = services.sweep()
    search.refresh_from_db()
    assert (search.state, search.oneshot_worker, search.oneshot_pid) == (Search.RUNNING, "", None)
    assert ("searches.run_oneshot", (search.id,)) in sent and report.requeued == 1
    assert services.claim_oneshot(search.id, "w2").oneshot_attempt == 2


def test_after_the_last_attempt_a_lost_supernet_fails_the_search_saying_why(start_search, sent, settings):
    settings.NASWEB_TRIAL_MAX_ATTEMPTS = 2
    search = start_oneshot(start_search)
    for _ in range(2):
        attempt = services.claim_oneshot(search.id, "w@lost-host").oneshot_attempt
        runner.resume_from(search.id, attempt, oneshot_checkpoints_of, oneshot_checkpoint_path).write_bytes(b"epoch")
        go_stale(search.id)
        report = services.sweep()
    search.refresh_from_db()
    assert search.state == Search.FAILED and report.failed == 1
    assert oneshot_checkpoints_of(search.id) == {}  # a failed search never resumes: its files go
    assert "lost 2 times" in search.error and "w@lost-host" in search.error
    assert "NASWEB_TRIAL_MAX_ATTEMPTS" in search.error


def test_a_holder_that_lost_its_claim_writes_nothing(start_search, sent):
    search = start_oneshot(start_search)
    services.claim_oneshot(search.id, "slow@host")
    assert services.claim_oneshot(search.id, "w2") is None  # fresh heartbeat: not taken
    go_stale(search.id)
    assert services.claim_oneshot(search.id, "w2").oneshot_attempt == 2
    assert not services.beat_oneshot(search.id, 1)
    assert services.record_oneshot_epoch(search.id, 1, {"epoch": 1}, attempt=1) is False
    assert not services.finish_oneshot(search.id, {"arch": {}}, attempt=1)
    assert not services.fail_oneshot(search.id, "stale", attempt=1)
    search.refresh_from_db()
    assert not OneShotEpoch.objects.filter(search=search).exists()
    assert search.state == Search.RUNNING and search.oneshot_result == {}
    assert services.record_oneshot_epoch(search.id, 1, {"epoch": 1}, attempt=2) is True


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the runner catches it, nothing is cleaned up."""


def test_a_killed_supernet_is_taken_over_and_resumes_after_its_last_epoch(start_search, sent, monkeypatch, settings):
    # The heartbeat thread's own connection would wait on this test's open transaction.
    settings.NASWEB_TRIAL_HEARTBEAT_SECONDS = 3600
    search = start_oneshot(start_search, epochs=3)
    real, recorded = services.record_oneshot_epoch, []

    def record(search_id, epoch, info, attempt):
        recorded.append((attempt, epoch))
        if (attempt, epoch) == (1, 3):
            raise Killed  # epochs 1 and 2 are checkpointed
        return real(search_id, epoch, info, attempt)

    monkeypatch.setattr("searches.services.record_oneshot_epoch", record)
    with pytest.raises(Killed):
        runner.run_oneshot_search(search.id, worker="w")
    assert set(oneshot_checkpoints_of(search.id)) == {1}
    runner.run_oneshot_search(search.id, worker="w")  # redelivered to the same worker: its holder is gone
    search.refresh_from_db()
    assert recorded == [(1, 1), (1, 2), (1, 3), (2, 3)]
    assert search.oneshot_attempt == 2 and search.oneshot_result["epochs_run"] == 3
    assert list(OneShotEpoch.objects.filter(search=search).values_list("epoch", flat=True)) == [1, 2, 3]
    assert oneshot_checkpoints_of(search.id) == {}  # a finished search keeps no checkpoint
