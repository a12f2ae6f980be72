"""Pages: access rules (an outsider gets 404), forms with field errors, controls."""

import pytest
from django.urls import reverse

from searches import services
from searches.models import Project, Search, SearchSpace, Trial

pytestmark = pytest.mark.django_db


@pytest.fixture
def search(start_search):
    return start_search()


def valid_search_form(**overrides):
    data = {
        "name": "from the form", "space_kind": "chain_mlp", "strategy": "random", "strategy_settings": "",
        "max_trials": 4, "max_seconds": "", "parallelism": 1, "seed": 3, "device": "cpu",
        "epochs": 2, "batch_size": 32, "lr": 0.01, "optimizer": "adamw", "data_fraction": 1, "width_multiplier": 1,
        "prerank_proxy": "", "prerank_pool": 4, "surrogate_quantile": "",
        "spec__chain_mlp__min_depth": 1, "spec__chain_mlp__max_depth": 2,
        "spec__chain_mlp__widths": "16, 32", "spec__chain_mlp__activations": ["relu"],
        "spec__chain_mlp__dropouts": "0", "spec__chain_mlp__norms": ["none", "batch"],
    }
    data.update(overrides)
    return data


def test_pages_need_a_login(client, search):
    for url in (reverse("searches:project_list"), reverse("searches:search_detail", args=[search.id])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_signup_logs_the_new_user_in(client):
    response = client.post(reverse("signup"), {"username": "ada", "password1": "an-ok-pass-981",
                                               "password2": "an-ok-pass-981"})
    assert response.status_code == 302
    assert client.get(reverse("searches:project_list")).context["user"].username == "ada"


def test_project_create_and_list(client, owner):
    client.force_login(owner)
    response = client.post(reverse("searches:project_create"), {"name": "Mine", "dataset": "builtin:digits"})
    project = Project.objects.get(name="Mine")
    assert response["Location"] == reverse("searches:project_detail", args=[project.id])
    assert b"Mine" in client.get(reverse("searches:project_list")).content


@pytest.mark.parametrize("url_name, with_project", [
    ("signup", False), ("searches:project_create", False), ("searches:search_create", True),
    ("searches:model_upload", True)])
def test_an_empty_post_says_what_is_required_and_creates_nothing(client, owner, project, url_name, with_project):
    if url_name != "signup":
        client.force_login(owner)
    counts = (Project.objects.count(), Search.objects.count(), Trial.objects.count())
    response = client.post(reverse(url_name, args=[project.id] if with_project else []), {})
    assert response.status_code in (200, 400)
    assert "This field is required." in str(response.context["form"].errors)
    assert (Project.objects.count(), Search.objects.count(), Trial.objects.count()) == counts


def test_project_form_rejects_unknown_members(client, owner):
    client.force_login(owner)
    response = client.post(reverse("searches:project_create"),
                           {"name": "X", "dataset": "builtin:digits", "members": "ghost"})
    assert response.status_code == 200 and "no such user: ghost" in response.content.decode()
    assert not Project.objects.filter(name="X").exists()


@pytest.mark.parametrize("name", ["search_detail", "search_data", "search_leaderboard", "search_charts",
                                  "search_events"])
def test_owner_and_member_see_the_search_outsider_gets_404(client, search, owner, member, outsider, name):
    url = reverse(f"searches:{name}", args=[search.id])
    for user, status in ((owner, 200), (member, 200), (outsider, 404)):
        client.force_login(user)
        assert client.get(url).status_code == status


def test_outsider_gets_404_everywhere(client, search, project, outsider):
    services.advance_search(search.id)
    trial = search.trials.get()
    client.force_login(outsider)
    for url in (reverse("searches:project_detail", args=[project.id]),
                reverse("searches:search_create", args=[project.id]),
                reverse("searches:trial_detail", args=[trial.id])):
        assert client.get(url).status_code == 404
    assert client.post(reverse("searches:search_cancel", args=[search.id])).status_code == 404
    search.refresh_from_db()
    assert search.state == Search.RUNNING  # unchanged by the outsider's cancel


def test_unknown_ids_are_404_not_500(client, owner):
    client.force_login(owner)
    for name in ("search_detail", "search_data", "trial_detail", "project_detail"):
        kwarg = {"trial_detail": [987654], "project_detail": [987654]}.get(name, [987654])
        assert client.get(reverse(f"searches:{name}", args=kwarg)).status_code == 404


def test_search_form_starts_a_search(client, project, owner, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    client.force_login(owner)
    response = client.post(reverse("searches:search_create", args=[project.id]), valid_search_form())
    search = Search.objects.get(name="from the form")
    assert response["Location"] == reverse("searches:search_detail", args=[search.id])
    assert search.space.spec == {"min_depth": 1, "max_depth": 2, "widths": [16, 32], "activations": ["relu"],
                                 "dropouts": [0.0], "norms": ["none", "batch"]}
    assert search.training["epochs"] == 2 and search.seed == 3


@pytest.mark.parametrize("overrides, field, text", [
    ({"spec__chain_mlp__widths": "16, x"}, "spec__chain_mlp__widths", "whole numbers"),
    ({"spec__chain_mlp__widths": ""}, "spec__chain_mlp__widths", "required"),
    ({"spec__chain_mlp__max_depth": 40}, "spec__chain_mlp__max_depth", "between 1 and 12"),
    ({"spec__chain_mlp__min_depth": 3}, "spec__chain_mlp__max_depth", "at least min_depth"),
    ({"spec__chain_mlp__dropouts": "0.95"}, "spec__chain_mlp__dropouts", "between"),
    ({"strategy_settings": "{oops"}, "strategy_settings", "not valid JSON"),
    ({"strategy_settings": '{"population": 3}'}, "strategy_settings", "population"),
    ({"max_trials": "", "max_seconds": ""}, "max_trials", "budget"),
    ({"epochs": 0}, "epochs", "greater than or equal to 1"),
    ({"name": ""}, "name", "required"),
])
def test_search_form_shows_field_errors_and_creates_nothing(client, project, owner, overrides, field, text):
    client.force_login(owner)
    response = client.post(reverse("searches:search_create", args=[project.id]), valid_search_form(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert text in " ".join(errors[field])
    assert f'data-field="{field}"' in response.content.decode()
    assert Search.objects.count() == 0 and SearchSpace.objects.count() == 0


def test_controls_pause_resume_cancel(client, search, member, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    client.force_login(member)
    for action, state in (("pause", "paused"), ("resume", "running"), ("cancel", "cancelled")):
        client.post(reverse(f"searches:search_{action}", args=[search.id]))
        search.refresh_from_db()
        assert search.state == state
    response = client.post(reverse("searches:search_pause", args=[search.id]), follow=True)
    assert "nothing changed" in response.content.decode()


def test_controls_need_post(client, search, owner):
    client.force_login(owner)
    assert client.get(reverse("searches:search_cancel", args=[search.id])).status_code == 405


def test_search_data_is_a_summary_and_charts_come_apart(client, search, owner):
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "w", "cpu")
    services.complete_trial(trial_id, {"val_accuracy": 0.75, "params": 10})
    client.force_login(owner)
    data = client.get(reverse("searches:search_data", args=[search.id])).json()
    assert [t["val_accuracy"] for t in data["leaderboard"]["trials"]] == [0.75]
    assert data["counts"]["complete"] == 1 and data["counts"]["total"] == 1 and data["best"]["id"] == trial_id
    assert data["socket"] == f"/ws/searches/{search.id}/" and "trials" not in data and "charts" not in data
    charts = client.get(reverse("searches:search_charts", args=[search.id])).json()
    assert charts["best"]["data"][1]["y"] == [0.75]
    assert (charts["pareto"]["data"][1]["x"], charts["pareto"]["data"][1]["y"]) == ([10], [0.75])


def finished(search, values):
    """Complete trials with these (val_accuracy, params) pairs, made directly (the strategy is not under test)."""
    space = search.space.build()
    trials = []
    for number, (val, params) in enumerate(values, start=1):
        arch = space.sample(__import__("random").Random(number))
        trial = Trial.objects.create(search=search, number=number, arch=arch, arch_key=f"k{number}",
                                     state="complete" if val is not None else "running",
                                     val_accuracy=val, params=params,
                                     metrics={"val_accuracy": val, "params": params} if val is not None else {})
        trials.append(trial)
    return trials


def test_the_leaderboard_sorts_filters_and_pages_in_the_database(client, search, owner):
    finished(search, [(0.5, 30), (0.9, 10), (None, None), (0.7, 20), (0.6, 40)])
    client.force_login(owner)
    url = reverse("searches:search_leaderboard", args=[search.id])
    board = client.get(url, {"per_page": 2}).json()
    assert [t["number"] for t in board["trials"]] == [2, 4] and board["total"] == 5 and board["pages"] == 3
    last = client.get(url, {"per_page": 2, "page": 3}).json()
    assert [t["number"] for t in last["trials"]] == [3]  # no value: last
    by_params = client.get(url, {"sort": "params", "dir": "asc", "state": "complete"}).json()
    assert [t["number"] for t in by_params["trials"]] == [2, 4, 1, 5] and by_params["total"] == 4
    running = client.get(url, {"state": "open"}).json()
    assert [t["number"] for t in running["trials"]] == [3]


@pytest.mark.parametrize("query, text", [
    ({"sort": "arch"}, "sort by one of"), ({"dir": "up"}, "dir is asc or desc"), ({"state": "happy"}, "state is one"),
    ({"page": "x"}, "whole numbers"), ({"page": 0}, "page starts at 1"), ({"per_page": 5000}, "per_page is 1 to"),
])
def test_a_bad_leaderboard_query_is_a_400_with_the_reason(client, search, owner, query, text):
    client.force_login(owner)
    response = client.get(reverse("searches:search_leaderboard", args=[search.id]), query)
    assert response.status_code == 400 and text in response.json()["error"]


def test_the_summary_does_not_grow_with_the_search(client, search, owner):
    client.force_login(owner)
    finished(search, [(0.5 + i / 1000, i) for i in range(60)])
    small = len(client.get(reverse("searches:search_detail", args=[search.id])).content)
    finished_more = [(0.1, 1)] * 0
    Trial.objects.bulk_create([Trial(search=search, number=100 + i, arch={}, arch_key=f"m{i}", state="complete",
                                     val_accuracy=0.01, metrics={"val_accuracy": 0.01}) for i in range(2000)])
    large = len(client.get(reverse("searches:search_detail", args=[search.id])).content)
    assert not finished_more and large < small * 1.05


def test_events_after_a_number_or_a_reset(client, search, owner, django_capture_on_commit_callbacks):
    client.force_login(owner)
    url = reverse("searches:search_events", args=[search.id])
    start = client.get(reverse("searches:search_data", args=[search.id])).json()
    with django_capture_on_commit_callbacks(execute=True):
        services.pause_search(search)
        services.resume_search(search)
    answer = client.get(url, {"after": start["seq"], "log": start["log"]}).json()
    assert not answer["reset"] and [e["search"]["state"] for e in answer["events"]] == ["paused", "running"]
    assert [e["seq"] for e in answer["events"]] == [start["seq"] + 1, start["seq"] + 2] == [answer["seq"] - 1,
                                                                                          answer["seq"]]
    assert client.get(url, {"after": answer["seq"], "log": answer["log"]}).json()["events"] == []
    assert client.get(url, {"after": answer["seq"], "log": "another-stream"}).json()["reset"]
    assert client.get(url, {"after": answer["seq"] + 10}).json()["reset"]
    assert client.get(url, {"after": "-1"}).status_code == 400


def test_trial_page_shows_the_learning_curve(client, search, owner):
    (trial_id,) = services.advance_search(search.id)
    services.claim_trial(trial_id, "w", "cpu")
    services.record_epoch(trial_id, 1, {"val_accuracy": 0.4, "train_loss": 2.0}, attempt=1)
    services.record_epoch(trial_id, 2, {"val_accuracy": 0.6, "train_loss": 1.0}, attempt=1)
    client.force_login(owner)
    response = client.get(reverse("searches:trial_detail", args=[trial_id]))
    curve = {t["name"]: t["y"] for t in response.context["report"]["chart"]["data"]}
    assert curve == {"val accuracy": [0.4, 0.6], "train loss": [2.0, 1.0]}


def test_plotly_is_served_from_our_static_files(client):
    response = client.get("/static/vendor/plotly/plotly.min.js")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"plotly" in body[:2000].lower() and len(body) > 1_000_000


def test_project_on_the_benchmark_table(client, owner):
    client.force_login(owner)
    client.post(reverse("searches:project_create"), {"name": "NB201", "dataset": "benchmark:nb201_cifar10"})
    project = Project.objects.get(name="NB201")
    assert project.dataset.source == "benchmark"
    page = client.get(reverse("searches:project_create")).content.decode()
    assert "NAS-Bench-201 CIFAR-10 (table lookup, no training)" in page


def test_search_form_offers_hardware_costs_and_checks_the_limit_pair(client, project, owner):
    from devices.services import ensure_default_targets

    ensure_default_targets()
    client.force_login(owner)
    page = client.get(reverse("searches:search_create", args=[project.id])).content.decode()
    assert "lowest latency" in page and "on Analytical" in page
    response = client.post(reverse("searches:search_create", args=[project.id]), valid_search_form(cost_limit=20))
    assert "give both the cost limit" in " ".join(response.context["form"].errors["cost_limit_target"])
    assert Search.objects.count() == 0


def test_a_one_trial_budget_says_1_trial(client, owner, project, start_search):
    search = start_search(max_trials=1)
    client.force_login(owner)
    for url in (reverse("searches:project_detail", args=[project.id]),
                reverse("searches:search_detail", args=[search.id])):
        text = " ".join(client.get(url).content.decode().split())
        assert "1 trial" in text and "1 trials" not in text


def test_a_trial_lost_for_good_says_why_on_its_page(client, search, owner, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.NASWEB_TRIAL_MAX_ATTEMPTS = 2
    (trial_id,) = services.advance_search(search.id)
    for _ in range(2):
        services.claim_trial(trial_id, "w@gone", "cpu")
        Trial.objects.filter(id=trial_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
        services.sweep()
    client.force_login(owner)
    page = client.get(reverse("searches:trial_detail", args=[trial_id])).content.decode()
    assert "worker lost 2 times" in page and "not counted in the trial budget" in page
    assert "attempt 2 (resumed from its checkpoint after 1 lost worker)" in page
