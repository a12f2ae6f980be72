"""One-shot searches through the web side: one supernet task, weights per epoch, retrain."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from searches import dispatch, runner, services
from searches.models import OneShotEpoch, Search, Trial

pytestmark = pytest.mark.django_db
TINY_NB201 = {"C": 4, "N": 1}


@pytest.fixture(autouse=True)
def quiet_heartbeat(settings):
    """The supernet's heartbeat thread has its own connection, which would wait on this test's open
    transaction (and its stop on that wait): no beat within these short runs."""
    settings.NASWEB_TRIAL_HEARTBEAT_SECONDS = 3600


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr("searches.dispatch.send_now", lambda name, args, queue: calls.append((name, *args)))
    return calls


def page(client, search) -> str:
    return client.get(reverse("searches:search_detail", args=[search.id])).content.decode()


def start_darts(start_search, **settings):
    return start_search(space_kind="nb201", space_spec=TINY_NB201, strategy="darts",
                        strategy_settings={"epochs": 2, "batch_size": 128, **settings}, training={"epochs": 1})


def test_a_darts_search_trains_one_supernet_then_retrains_its_cell(
        start_search, sent, django_capture_on_commit_callbacks, client, owner):
    with django_capture_on_commit_callbacks(execute=True):
        search = start_darts(start_search)
        services.advance_search(search.id)
    assert (dispatch.RUN_ONESHOT, search.id) in sent
    runner.run_oneshot_search(search.id, worker="w")
    runner.run_oneshot_search(search.id, worker="other")  # a second delivery finds it claimed
    search.refresh_from_db()
    assert search.oneshot_worker == "w"
    assert list(OneShotEpoch.objects.filter(search=search).values_list("epoch", flat=True)) == [1, 2]
    derived = search.oneshot_result["arch"]
    search.space.build().validate_arch(derived)
    services.advance_search(search.id)
    search.refresh_from_db()
    assert search.state == Search.DONE

    client.force_login(owner)
    data = client.get(reverse("searches:search_data", args=[search.id])).json()["oneshot"]
    assert data["finished"] and data["epochs"] == 2
    heat = data["charts"]["weights"]["data"][0]
    assert len(heat["y"]) == 6 and all(abs(sum(v for v in row if v) - 1) < 1e-6 for row in heat["z"])

    assert data["retrained_as"] is None and 'id="retrain" class="primary">' in page(client, search)
    client.post(reverse("searches:search_retrain", args=[search.id]))
    trial = Trial.objects.get(search=search)
    assert client.get(reverse("searches:search_data", args=[search.id])).json()["oneshot"]["retrained_as"] == 1
    assert 'id="retrain" class="primary" disabled>Retrained as trial 1' in page(client, search)
    assert trial.arch == derived
    search.refresh_from_db()
    assert search.state == Search.RUNNING
    runner.run_trial(trial.id, worker="w")
    services.advance_search(search.id)
    search.refresh_from_db()
    assert Trial.objects.get(id=trial.id).state == "complete" and search.state == Search.DONE
    with pytest.raises(ValidationError, match="already trial 1"):
        services.retrain_architecture(search, derived)


def test_a_cancelled_oneshot_search_stops_between_epochs(start_search, sent, monkeypatch):
    search = start_darts(start_search, epochs=20)
    services.advance_search(search.id)
    real = services.record_oneshot_epoch

    def cancel_after_first(search_id, epoch, info, attempt):
        services.cancel_search(Search.objects.get(id=search_id))
        return real(search_id, epoch, info, attempt)

    monkeypatch.setattr("searches.services.record_oneshot_epoch", cancel_after_first)
    runner.run_oneshot_search(search.id, worker="w")
    search.refresh_from_db()
    assert search.state == Search.CANCELLED and OneShotEpoch.objects.filter(search=search).count() == 1


@pytest.mark.parametrize("overrides, field", [
    ({"space_kind": "transformer", "space_spec": None}, "space_kind"),
    ({"strategy_settings": {"wobble": 1}}, "strategy_settings.wobble"),
    ({"strategy_settings": {"latency_target": "raspi4"}}, "strategy_settings"),
])
def test_bad_oneshot_searches_are_refused(start_search, overrides, field):
    options = {"space_kind": "nb201", "space_spec": TINY_NB201, "strategy": "darts", **overrides}
    with pytest.raises(ValidationError) as exc:
        start_search(**options)
    assert field in exc.value.message_dict
    assert not Search.objects.exists()


def test_oneshot_needs_data_not_a_benchmark_table(owner):
    project = services.create_project(owner, "NB201", services.benchmark_dataset("nb201_cifar10"))
    with pytest.raises(ValidationError) as exc:
        services.start_search(project, owner, name="x", space_kind="nb201", space_spec=None, strategy="enas",
                              max_trials=1)
    assert "benchmark table" in exc.value.message_dict["strategy"][0]


def test_proxyless_with_an_edge_latency_table_and_a_rank_check(start_search, sent):
    search = start_search(space_kind="nb201", space_spec=TINY_NB201, strategy="proxyless",
                          strategy_settings={"epochs": 1, "batch_size": 128, "latency_target": "pixel3",
                                             "latency_weight": 0.5, "rank_check_archs": 3},
                          training={"epochs": 1})
    services.advance_search(search.id)
    runner.run_oneshot_search(search.id, worker="w")
    search.refresh_from_db()
    assert search.state == Search.RUNNING, search.error
    ranking = search.oneshot_result["ranking"]
    assert len(ranking["archs"]) == 3 and -1 <= ranking["tau"] <= 1
    assert "expected_latency" in OneShotEpoch.objects.get(search=search).info
