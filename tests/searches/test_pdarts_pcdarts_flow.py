"""P-DARTS and PC-DARTS through the web side, as DARTS goes: one supernet task, the live heat map of
weights per epoch, the retrain button and the Kendall tau rank check, all unchanged."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from searches import dispatch, runner, services
from searches.models import OneShotEpoch, Search, Trial

pytestmark = pytest.mark.django_db

STRATEGIES = {
    "pdarts": {"stages": 2, "ops_kept": [2], "skip_dropout": [0.0, 0.4]},
    "pcdarts": {"partial_channels": 2},
}


@pytest.fixture(autouse=True)
def quiet_heartbeat(settings):
    """The supernet's heartbeat thread has its own connection, which would wait on this test's open
    transaction (and its stop on that wait): no beat within these short runs."""
    settings.NASWEB_TRIAL_HEARTBEAT_SECONDS = 3600


@pytest.fixture(autouse=True)
def one_thread(settings):
    settings.NASWEB_TORCH_THREADS = 1  # two threads on a loaded 2-core machine run several times slower


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr("searches.dispatch.send_now", lambda name, args, queue: calls.append((name, *args)))
    return calls


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_search_heat_map_retrain_and_rank_check(strategy, start_search, sent, django_capture_on_commit_callbacks,
                                                 client, owner):
    with django_capture_on_commit_callbacks(execute=True):
        search = start_search(space_kind="nb201", space_spec={"C": 4, "N": 1}, strategy=strategy,
                              strategy_settings={"epochs": 2, "batch_size": 256, "rank_check_archs": 2,
                                                 **STRATEGIES[strategy]},
                              training={"epochs": 1})
        services.advance_search(search.id)
    assert (dispatch.RUN_ONESHOT, search.id) in sent
    runner.run_oneshot_search(search.id, worker="w")
    search.refresh_from_db()
    assert search.state == Search.RUNNING, search.error
    assert list(OneShotEpoch.objects.filter(search=search).values_list("epoch", flat=True)) == [1, 2]
    result = search.oneshot_result
    derived = result["arch"]
    search.space.build().validate_arch(derived)
    assert len(result["ranking"]["archs"]) == 2 and -1 <= result["ranking"]["tau"] <= 1

    client.force_login(owner)
    data = client.get(reverse("searches:search_data", args=[search.id])).json()["oneshot"]
    assert data["finished"] and data["epochs"] == 2
    heat = data["charts"]["weights"]["data"][0]
    assert len(heat["y"]) == 6 and all(abs(sum(v for v in row if v) - 1) < 1e-6 for row in heat["z"])

    client.post(reverse("searches:search_retrain", args=[search.id]))
    trial = Trial.objects.get(search=search)
    assert trial.arch == derived
    runner.run_trial(trial.id, worker="w")
    services.advance_search(search.id)
    search.refresh_from_db()
    assert Trial.objects.get(id=trial.id).state == "complete" and search.state == Search.DONE


def test_pdarts_stages_are_recorded_per_epoch(start_search, sent):
    search = start_search(space_kind="nb201", space_spec={"C": 4, "N": 2}, strategy="pdarts",
                          strategy_settings={"epochs": 2, "batch_size": 256, **STRATEGIES["pdarts"]},
                          training={"epochs": 1})
    services.advance_search(search.id)
    runner.run_oneshot_search(search.id, worker="w")
    infos = [e.info for e in OneShotEpoch.objects.filter(search=search).order_by("epoch")]
    assert [info["stage"] for info in infos] == [1, 2] and [info["cells"] for info in infos] == [1, 2]
    assert all(len(kept) == 2 for kept in infos[1]["kept_choices"].values())


@pytest.mark.parametrize("options, field", [
    ({"space_kind": "chain_mlp", "strategy": "pcdarts"}, "space_kind"),
    ({"space_kind": "nb201", "space_spec": {"C": 4, "N": 1}, "strategy": "pcdarts",
      "strategy_settings": {"partial_channels": 3}}, "strategy_settings.partial_channels"),
    ({"space_kind": "nb201", "space_spec": {"C": 4, "N": 1}, "strategy": "pdarts",
      "strategy_settings": {"stages": 2, "ops_kept": [2]}}, "strategy_settings.skip_dropout"),
])
def test_bad_searches_are_refused_naming_the_field(start_search, options, field):
    with pytest.raises(ValidationError) as exc:
        start_search(**options)
    assert field in exc.value.message_dict
    assert not Search.objects.exists()
