"""Device pages: access (an outsider gets 404), the target form, the comparison page and its data."""

import pytest
from django.urls import reverse

from devices import services
from devices.costs.hwnasbench import DEVICE_LABELS
from devices.models import HardwareTarget
from searches import services as search_services

pytestmark = pytest.mark.django_db


def finished_trials(search, accuracies):
    ids = search_services.advance_search(search.id)
    for trial_id, accuracy in zip(ids, accuracies, strict=True):
        search_services.claim_trial(trial_id, "test-worker", "cpu")
        search_services.complete_trial(trial_id, {"val_accuracy": accuracy})
    return [search.trials.get(id=i) for i in ids]


@pytest.fixture
def search(start_search):
    return start_search()


def search_pages(search):
    return [reverse("devices:search_devices", args=[search.id]),
            reverse("devices:search_devices_data", args=[search.id])]


def test_pages_need_a_login(client, search):
    for url in [reverse("devices:target_list"), reverse("devices:target_create"), *search_pages(search)]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_owner_and_member_see_the_comparison_outsider_gets_404(client, search, owner, member, outsider):
    for user, status in ((owner, 200), (member, 200), (outsider, 404)):
        client.force_login(user)
        assert [client.get(url).status_code for url in search_pages(search)] == [status, status]


def test_outsider_cannot_start_computing_costs(client, search, outsider, monkeypatch):
    requested = []
    monkeypatch.setattr(services, "request_search_costs", requested.append)
    client.force_login(outsider)
    assert client.post(reverse("devices:search_devices_compute", args=[search.id])).status_code == 404
    assert requested == [] and not HardwareTarget.objects.exists()


def test_unknown_searches_are_404(client, owner):
    client.force_login(owner)
    assert client.get(reverse("devices:search_devices", args=[987654])).status_code == 404


def test_a_member_starts_computing_the_missing_costs(client, search, member, settings, monkeypatch,
                                                     django_capture_on_commit_callbacks):
    settings.NASWEB_EMBEDDED_WORKER = False
    sent = []
    monkeypatch.setattr("searches.dispatch.celery_app.send_task", lambda name, args, queue: sent.append(args))
    client.force_login(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("devices:search_devices_compute", args=[search.id]))
    assert response["Location"] == reverse("devices:search_devices", args=[search.id])
    assert sent == [[search.id]] and HardwareTarget.objects.count() == 5


def test_the_comparison_shows_costs_and_na_for_other_spaces(client, start_search, owner):
    search = start_search(max_trials=6, parallelism=6)
    trials = finished_trials(search, (0.1, 0.6, 0.2, 0.5, 0.3, 0.4))
    services.costs_for_trial(trials[1])
    client.force_login(owner)
    data = client.get(reverse("devices:search_devices_data", args=[search.id])).json()
    names = [t["name"] for t in data["targets"]]
    best = data["trials"][0]
    assert best["id"] == trials[1].id and [t["chosen"] for t in data["trials"]] == [True] * 5 + [False]
    cells = dict(zip(names, best["costs"], strict=True))
    assert cells[DEVICE_LABELS["raspi4"]]["text"] == "n/a" and cells[services.ANALYTICAL_TARGET_NAME]["state"] == "done"
    assert list(data["charts"]["fronts"]) == [str(HardwareTarget.objects.get(name=services.ANALYTICAL_TARGET_NAME).id)]
    assert len(data["charts"]["bars"]["data"]) == 5 and data["socket"] == f"/ws/searches/{search.id}/"
    page = client.get(reverse("devices:search_devices", args=[search.id]))
    assert page.status_code == 200 and b"devices-state-data" in page.content


def test_the_query_chooses_trials_and_the_highlight(client, start_search, owner):
    search = start_search(max_trials=3, parallelism=3)
    trials = finished_trials(search, (0.1, 0.6, 0.2))
    client.force_login(owner)
    url = reverse("devices:search_devices_data", args=[search.id])
    data = client.get(url, {"trials": f"{trials[0].id},x,987654", "highlight": trials[2].id}).json()
    assert [t["id"] for t in data["trials"] if t["chosen"]] == [trials[0].id]
    assert data["highlight"] == trials[2].id
    assert [t["chosen"] for t in client.get(url, {"trials": ""}).json()["trials"]] == [False] * 3


def test_the_target_list_and_its_default_targets(client, owner):
    client.force_login(owner)
    assert b"Add the default targets" in client.get(reverse("devices:target_list")).content
    assert client.post(reverse("devices:target_defaults")).status_code == 302
    page = client.get(reverse("devices:target_list")).content.decode()
    assert DEVICE_LABELS["eyeriss"] in page and "Add the default targets" not in page


def test_the_target_form_creates_a_target(client, owner):
    client.force_login(owner)
    response = client.post(reverse("devices:target_create"),
                           {"name": "Phone", "kind": "benchmark", "device": "pixel3", "arithmetic": "int8",
                            "metric": "energy_mj"})
    assert response["Location"] == reverse("devices:target_list")
    target = HardwareTarget.objects.get()  # the analytical fields are not the phone's
    assert (target.name, target.kind, target.specs, target.metric) == ("Phone", "benchmark", {"device": "pixel3"},
                                                                       "latency_ms")
    client.post(reverse("devices:target_create"),
                {"name": "Size", "kind": "analytical", "arithmetic": "int8", "metric": "size_int8_bytes"})
    size = HardwareTarget.objects.get(name="Size")
    assert (size.specs, size.metric) == ({"arithmetic": "int8"}, "size_int8_bytes")


def test_an_empty_post_says_what_is_required_and_changes_nothing(client, owner):
    mine = services.create_target("Mine", "analytical", {"arithmetic": "fp32"}, "macs", owner=owner)
    client.force_login(owner)
    for url in (reverse("devices:target_create"), reverse("devices:target_edit", args=[mine.id])):
        response = client.post(url, {})
        assert response.status_code == 200 and "required" in str(response.context["form"].errors["name"])
    assert list(HardwareTarget.objects.values_list("name", flat=True)) == ["Mine"]


@pytest.mark.parametrize("data, field, text", [
    ({"kind": "benchmark", "device": ""}, "device", "choose a device: raspi4, pixel3, eyeriss or fpga"),
    ({"kind": "benchmark", "device": "jetson"}, "device", "not one of the available choices"),
    ({"kind": "analytical", "arithmetic": "fp7"}, "arithmetic", "not one of the available choices"),
    ({"kind": "measured_cpu"}, "kind", "not one of the available choices"),
    ({"kind": "analytical", "name": ""}, "name", "required"),
    ({"kind": "analytical", "name": "Taken"}, "name", "exists already"),
])
def test_the_target_form_shows_field_errors_and_creates_nothing(client, owner, data, field, text):
    services.create_target("Taken", "analytical", {})
    client.force_login(owner)
    response = client.post(reverse("devices:target_create"), {"name": "New", **data})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and text in " ".join(errors[field]), errors
    assert f'data-field="{field}"' in response.content.decode()
    assert list(HardwareTarget.objects.values_list("name", flat=True)) == ["Taken"]


def test_the_search_page_links_to_the_comparison(client, search, owner):
    client.force_login(owner)
    page = client.get(reverse("searches:search_detail", args=[search.id])).content.decode()
    assert reverse("devices:search_devices", args=[search.id]) in page
    assert reverse("devices:target_list") in page  # the nav link


def test_any_trial_is_measured_on_request(client, search, owner, outsider, settings, monkeypatch,
                                          django_capture_on_commit_callbacks):
    settings.NASWEB_EMBEDDED_WORKER, settings.NASWEB_QUEUE_PREFIX = False, ""
    sent = []
    monkeypatch.setattr("searches.dispatch.celery_app.send_task", lambda name, args, queue: sent.append((name, args)))
    trial = finished_trials(search, [0.5])[0]
    url = reverse("devices:search_devices_measure", args=[search.id])
    client.force_login(outsider)
    assert client.post(url, {"number": trial.number}).status_code == 404
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"number": trial.number}, follow=True)
    assert sent == [("devices.costs_for_trial", [trial.id])] and "Measuring trial" in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"number": "999"}, follow=True)
    assert "is not a complete trial" in response.content.decode() and len(sent) == 1
