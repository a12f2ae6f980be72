"""Celery's fair pick: a run_trial message is a slot of its device queue, and takes the queued trial
whose search's turn it is (services.searches_in_turn), so a search that queued many trials does not hold
up the next one behind all of them."""

import os
import socket

import pytest
from django.utils import timezone

from searches import dispatch, runner, services, tasks
from searches.models import Trial

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch, settings):
    """Celery's messages, in the order a FIFO queue hands them out."""
    settings.NASWEB_EMBEDDED_WORKER = False
    settings.NASWEB_LOOKUPS_IN_ADVANCE = False
    messages = []
    monkeypatch.setattr("searches.dispatch.celery_app.send_task",
                        lambda name, args, queue: messages.append((name, tuple(args), queue)))
    return messages


@pytest.fixture
def lookup_search(owner, django_capture_on_commit_callbacks):
    project = services.create_project(owner, "NB201", services.benchmark_dataset("nb201_cifar10"))

    def start(name: str, trials: int, device: str = "cpu"):
        with django_capture_on_commit_callbacks(execute=True):
            search = services.start_search(project, owner, name=name, space_kind="nb201", space_spec=None,
                                           strategy="random", max_trials=trials, parallelism=trials, seed=1,
                                           device=device)
            services.advance_search(search.id)  # every trial queued at once
        return search
    return start


def trial_messages(sent) -> list[int]:
    return [args[0] for name, args, _ in sent if name == dispatch.RUN_TRIAL]


def claims_in_order() -> list[Trial]:
    return list(Trial.objects.exclude(started_at=None).order_by("started_at", "id"))


def test_a_small_search_queued_behind_a_large_one_is_served_within_the_first_claims(lookup_search, sent):
    large = lookup_search("large", 50)
    small = lookup_search("small", 2)
    messages = trial_messages(sent)
    assert len(messages) == 52 and set(messages[-2:]) == set(small.trials.values_list("id", flat=True))
    for trial_id in messages:  # one worker process, FIFO: the small search's messages come last
        runner.run_trial(trial_id, worker="w", fair=True)
    order = [t.search_id for t in claims_in_order()]
    assert len(order) == 52
    assert [n for n, search_id in enumerate(order) if search_id == small.id] == [1, 3]  # taking turns
    assert set(Trial.objects.values_list("state", "attempt")) == {("complete", 1)}  # each ran once
    assert large.trials.count() == 50


def test_a_message_takes_its_own_trial_when_its_search_is_in_turn(lookup_search, sent):
    first = lookup_search("first", 3)
    later = lookup_search("later", 3)
    own = later.trials.order_by("number").last()
    runner.run_trial(first.trials.order_by("number").first().id, worker="w", fair=True)  # first is served
    runner.run_trial(own.id, worker="w", fair=True)  # later's turn: this message's own trial, not its lowest
    assert claims_in_order()[-1].id == own.id


def test_the_search_with_fewest_running_trials_goes_first(lookup_search, sent):
    busy = lookup_search("busy", 4)
    idle = lookup_search("idle", 2)
    services.claim_trial(busy.trials.order_by("number").first().id, worker="other", device="cpu")
    Trial.objects.filter(search=idle).update(started_at=timezone.now())  # served more recently, yet first
    assert Trial.objects.get(id=services.next_trial_in_turn("cpu")).search_id == idle.id


def test_slots_stay_on_their_device_queue_and_ack_when_it_is_empty(lookup_search, sent):
    gpu = lookup_search("gpu", 2, device="gpu")
    cpu = lookup_search("cpu", 1)
    cpu_message = cpu.trials.get().id
    runner.run_trial(cpu_message, worker="w", fair=True)
    runner.run_trial(cpu_message, worker="w", fair=True)  # a duplicate: nothing queued on cpu, no GPU trial
    assert services.next_trial_in_turn("cpu") is None
    assert set(gpu.trials.values_list("state", flat=True)) == {"queued"}
    assert cpu.trials.get().attempt == 1


def test_a_slot_whose_pick_was_claimed_first_picks_again(lookup_search, sent, monkeypatch):
    search = lookup_search("race", 3)
    lowest, second, _ = search.trials.order_by("number")
    real_claim = services.claim_trial

    def another_worker_wins_the_first(trial_id, **kwargs):
        if trial_id == lowest.id and not Trial.objects.filter(id=lowest.id, state="running").exists():
            real_claim(trial_id, worker="faster", device="cpu")
        return real_claim(trial_id, **kwargs)

    monkeypatch.setattr("searches.runner.services.claim_trial", another_worker_wins_the_first)
    runner.run_trial(search.trials.order_by("number").last().id, worker="w", fair=False)  # the embedded way
    runner.run_trial(lowest.id, worker="w", fair=True)
    lowest.refresh_from_db()
    second.refresh_from_db()
    assert lowest.worker == "faster" and lowest.state == "running"
    assert second.state == "complete" and second.worker == "w"


def test_a_retried_slot_first_requeues_the_trial_its_interrupted_attempt_held(
        lookup_search, sent, django_capture_on_commit_callbacks):
    search = lookup_search("retried", 2)
    held, message = search.trials.order_by("number")
    # The first attempt of this message claimed `held` in this very process and was interrupted.
    services.claim_trial(held.id, worker=socket.gethostname(), device="cpu", pid=os.getpid())
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.run_trial.apply(args=[message.id], retries=1)
    held.refresh_from_db()
    assert held.state == "queued" and held.attempt == 1  # back in line at once, fenced as before
    assert (dispatch.RUN_TRIAL, (held.id,)) in [(name, args) for name, args, _ in sent]
    assert Trial.objects.get(id=message.id).state == "complete"
