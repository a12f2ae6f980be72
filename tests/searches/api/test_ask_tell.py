"""Ask/tell: an external search runs on the same loop as a worker search. The same strategy proposes
the same architectures, the same pruner stops the same trials, a silent script's trial is reaped and
its slot reused, nothing is sent to our workers, and every step is pushed to the search page."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from searches import dispatch, events, services
from searches.models import Search, Trial
from searches.pruners import PRUNERS
from searches.strategies.registry import STRATEGIES

pytestmark = pytest.mark.django_db
EPOCHS = 3


def quality(arch: dict) -> float:
    """A made-up but fixed accuracy per architecture, so two searches can be fed the same results."""
    digest = hashlib.sha1(repr(sorted(arch.items())).encode()).digest()
    return 0.3 + 0.6 * digest[0] / 255


def curve(arch: dict, epoch: int) -> float:
    return quality(arch) * (0.6 + 0.4 * epoch / EPOCHS)


def drive_like_a_worker(search: Search) -> list[tuple]:
    """What runner.run_trial does, with `curve` instead of training."""
    seen = []
    while True:
        services.advance_search(search.id)
        search.refresh_from_db()
        trial = search.trials.filter(state=Trial.QUEUED).order_by("number").first()
        if trial is None:
            return seen
        attempt = services.claim_trial(trial.id, worker="worker@test", device="cpu").attempt
        stopped = False
        for epoch in range(1, EPOCHS + 1):
            if not services.record_epoch(trial.id, epoch, {"val_accuracy": curve(trial.arch, epoch)}, attempt=attempt):
                stopped = True
                break
        if not stopped:
            services.complete_trial(trial.id, {"val_accuracy": curve(trial.arch, EPOCHS), "params": 1000},
                                    attempt=attempt)
        trial.refresh_from_db()
        seen.append((trial.number, trial.arch, trial.state, trial.epochs_done))


def drive_over_the_api(api, search: Search) -> list[tuple]:
    seen = []
    while True:
        answer = api.post(f"/api/searches/{search.id}/ask/", {"worker": "test"}, format="json").json()
        if answer["trial"] is None:
            assert answer["finished"], answer
            return seen
        trial = answer["trial"]
        for epoch in range(1, EPOCHS + 1):
            progress = api.post(f"/api/trials/{trial['id']}/report/", {
                "epoch": epoch, "metrics": {"val_accuracy": curve(trial["arch"], epoch)}}, format="json").json()
            if not progress["keep_going"]:
                break
        else:
            told = api.post(f"/api/trials/{trial['id']}/tell/", {
                "metrics": {"val_accuracy": curve(trial["arch"], EPOCHS), "params": 1000}}, format="json")
            assert told.json()["accepted"], told.content
        row = Trial.objects.get(id=trial["id"])
        seen.append((row.number, row.arch, row.state, row.epochs_done))


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_proposes_the_same_over_ask_tell(api, start_search, strategy):
    common = dict(strategy=strategy, max_trials=4, training={"epochs": EPOCHS}, seed=3)
    if strategy == "nsga2":  # it needs two objectives to trade off
        common["objectives"] = [{"metric": "val_accuracy", "direction": "max"},
                                {"metric": "params", "direction": "min"}]
    by_workers = drive_like_a_worker(start_search(name="w", **common))
    external = start_search(name="e", evaluator="external", **common)
    assert drive_over_the_api(api, external) == by_workers
    external.refresh_from_db()
    assert external.state == Search.DONE and len(by_workers) == 4


@pytest.mark.parametrize("pruner", sorted(PRUNERS))
def test_every_pruner_stops_the_same_trials(api, start_search, pruner):
    common = dict(strategy="random", max_trials=8, training={"epochs": EPOCHS}, seed=1, pruner=pruner)
    by_workers = drive_like_a_worker(start_search(name="w", **common))
    assert drive_over_the_api(api, start_search(name="e", evaluator="external", **common)) == by_workers
    if pruner != "learning_curve":  # it needs a longer history than 8 short trials to dare a stop
        assert any(state == Trial.PRUNED for _, _, state, _ in by_workers), by_workers


def test_a_silent_script_loses_its_trial_and_the_slot_is_reused(api, external_search, settings):
    settings.NASWEB_TRIAL_STALE_SECONDS = 30
    first = api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()
    assert first["heartbeat_seconds"] == 7
    busy = api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()
    assert busy["trial"] is None and not busy["finished"] and busy["retry_after"] >= 1  # parallelism 1
    trial_id = first["trial"]["id"]
    assert api.post(f"/api/trials/{trial_id}/heartbeat/").json()["keep_going"]
    Trial.objects.filter(id=trial_id).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    second = api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()
    # The silent script's trial went back to the queue and the slot went to the next ask: a new claim.
    assert second["trial"]["id"] == trial_id and second["trial"]["attempt"] == first["trial"]["attempt"] + 1
    old = {"attempt": first["trial"]["attempt"]}
    late = api.post(f"/api/trials/{trial_id}/report/", {"epoch": 1, "metrics": {"val_accuracy": 0.9}, **old},
                    format="json").json()
    assert late["keep_going"] is False  # the old claim may no longer write
    assert api.post(f"/api/trials/{trial_id}/tell/", {"metrics": {"val_accuracy": 0.9}, **old},
                    format="json").json()["accepted"] is False
    assert api.post(f"/api/trials/{trial_id}/heartbeat/", old, format="json").json()["keep_going"] is False
    assert not Trial.objects.get(id=trial_id).epoch_metrics.exists()
    new = {"attempt": second["trial"]["attempt"]}
    assert api.post(f"/api/trials/{trial_id}/report/", {"epoch": 1, "metrics": {"val_accuracy": 0.5}, **new},
                    format="json").json()["keep_going"] is True


def test_external_trials_are_never_sent_to_workers_and_every_step_is_pushed(api, external_search, monkeypatch):
    sent, pushed = [], []
    monkeypatch.setattr(dispatch, "send_on_commit", lambda name, args, queue: sent.append(name))
    monkeypatch.setattr(events, "send_on_commit", lambda search_id, message: pushed.append(message))
    trial = api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()["trial"]
    api.post(f"/api/trials/{trial['id']}/report/", {"epoch": 1, "metrics": {"val_accuracy": 0.4}}, format="json")
    api.post(f"/api/trials/{trial['id']}/tell/", {"metrics": {"val_accuracy": 0.5}}, format="json")
    assert dispatch.RUN_TRIAL not in sent and dispatch.ADVANCE_SEARCH in sent
    kinds = [(m["type"], m.get("trial", {}).get("state")) for m in pushed]
    assert ("trial.update", "running") in kinds and ("metric.update", None) in kinds
    assert kinds[-1] == ("trial.update", "complete")
    row = Trial.objects.get(id=trial["id"])
    assert row.params and row.params > 0  # counted by the server when the script does not say


def test_the_asked_trial_says_how_to_build_its_module(api, external_search):
    import torch

    trial = api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()["trial"]
    scope = {}
    exec(trial["build"], scope)  # the snippet the answer carries builds the same module as the client
    from searches.client import AskedTrial

    built = AskedTrial.from_json(trial).build_module()
    assert isinstance(scope["model"], torch.nn.Module)
    assert sum(p.numel() for p in built.parameters()) == sum(p.numel() for p in scope["model"].parameters())
    assert built(torch.rand(2, *trial["model_inputs"]["input_shape"])).shape == (2, 10)


@pytest.mark.parametrize("body,field", [
    ({"epoch": 0, "metrics": {"val_accuracy": 1}}, "epoch"),
    ({"epoch": True, "metrics": {"val_accuracy": 1}}, "epoch"),
    ({"epoch": 1, "metrics": {}}, "metrics"),
    ({"epoch": 1, "metrics": [1]}, "metrics"),
    ({"epoch": 1, "metrics": {"val_accuracy": "high"}}, "metrics.val_accuracy"),
    ({"epoch": 1, "metrics": {"val_accuracy": 1e300}}, "metrics.val_accuracy"),
    ({"epoch": 1, "metrics": {"x" * 41: 1}}, "metrics"),
    ({"metrics": {"val_accuracy": 1}}, "epoch"),
])
def test_bad_reports_are_400_naming_the_field(api, external_search, body, field):
    trial = api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()["trial"]
    response = api.post(f"/api/trials/{trial['id']}/report/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()


@pytest.mark.parametrize("body,field", [
    ({}, "metrics"), ({"metrics": {"val_accuracy": 1}, "error": "x"}, "metrics"),
    ({"metrics": {"train_loss": 1}}, "metrics.val_accuracy"), ({"metrics": {"val_accuracy": 1, "params": 1.5}},
                                                                "metrics.params"),
    ({"error": "  "}, "error"),
])
def test_bad_tells_are_400_naming_the_field(api, external_search, body, field):
    trial = api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()["trial"]
    response = api.post(f"/api/trials/{trial['id']}/tell/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()
    assert Trial.objects.get(id=trial["id"]).state == Trial.RUNNING


def test_asking_a_worker_search_is_refused(api, start_search):
    search = start_search(name="w")
    response = api.post(f"/api/searches/{search.id}/ask/", {}, format="json")
    assert response.status_code == 400 and "external" in response.json()["errors"]["search"][0]


def test_a_paused_search_hands_out_nothing_until_resumed(api, external_search):
    api.post(f"/api/searches/{external_search.id}/pause/")
    answer = api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()
    assert answer["trial"] is None and answer["search_state"] == "paused" and not answer["finished"]
    api.post(f"/api/searches/{external_search.id}/resume/")
    assert api.post(f"/api/searches/{external_search.id}/ask/", {}, format="json").json()["trial"]["number"] == 1


@pytest.mark.parametrize("fields,message", [
    ({"strategy": "darts"}, "one-shot"),
    ({"evaluator": "elsewhere"}, "must be one of"),
])
def test_the_evaluator_is_checked_when_the_search_starts(start_search, fields, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as info:
        start_search(name="x", **{"evaluator": "external", **fields})
    assert message in info.value.message_dict["evaluator"][0]
