"""Trial page, compare, exports, CSV, share links: owner/member/outsider access and what the pages say."""

import pytest
from django.urls import reverse

from searches import runner, services
from searches.models import ShareLink, Trial

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quiet(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    settings.VAR_DIR = tmp_path


@pytest.fixture
def done(start_search):
    search = start_search(max_trials=2, parallelism=2, training={"epochs": 2})
    for trial_id in services.advance_search(search.id):
        runner.run_trial(trial_id, worker="w")
    return search


def urls(search):
    a, b = search.trials.order_by("number")
    return [reverse("searches:trial_detail", args=[a.id]),
            reverse("searches:trial_export", args=[a.id, "onnx"]),
            reverse("searches:trial_export", args=[a.id, "spec"]),
            reverse("searches:search_trials_csv", args=[search.id]),
            reverse("searches:trial_compare", args=[search.id]) + f"?trials={a.number},{b.number}"]


def test_owner_and_member_read_every_report_outsider_gets_404(client, done, owner, member, outsider):
    for user, status in ((owner, 200), (member, 200), (outsider, 404)):
        client.force_login(user)
        for url in urls(done):
            assert client.get(url).status_code == status, (user.username, url)


def test_trial_page_rounds_names_and_explains(client, done, owner):
    client.force_login(owner)
    trial = done.trials.order_by("number").first()
    html = client.get(reverse("searches:trial_detail", args=[trial.id])).content.decode()
    assert "<svg" in html and "layer 1" in html
    assert "validation accuracy" in html and f"{100 * trial.val_accuracy:.2f} %" in html
    assert "Wall time" in html and "train_seconds" in html
    visible = html.split('<script id="curve-data"')[0]  # the chart's data may carry full floats
    assert str(trial.val_accuracy) not in visible and "{&#x27;" not in visible and "@" not in visible.split("<main>")[1]


def test_a_cancelled_trial_says_so(client, start_search, owner):
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    services.cancel_search(search)
    Trial.objects.filter(id=trial_id).update(state=Trial.CANCELLED)
    client.force_login(owner)
    html = client.get(reverse("searches:trial_detail", args=[trial_id])).content.decode()
    assert "Cancelled before it finished" in html and "Not finished yet" not in html


def test_compare_marks_the_best_and_refuses_bad_choices(client, done, owner):
    client.force_login(owner)
    a, b = done.trials.order_by("number")
    url = reverse("searches:trial_compare", args=[done.id])
    html = client.get(url + f"?trials={a.number}&trials={b.number}").content.decode()
    assert html.count("<svg") >= 2 and "★" in html
    for query in (f"?trials={a.number}", "?trials=x,1", f"?trials={a.number},999"):
        response = client.get(url + query, follow=True)
        assert response.redirect_chain and ("choose 2 to 4" in response.content.decode()
                                            or "not a trial number" in response.content.decode()
                                            or "no trial 999" in response.content.decode())


def test_export_without_weights_explains_and_bad_format_is_404(client, done, owner, settings):
    client.force_login(owner)
    failed = done.trials.first()
    Trial.objects.filter(id=failed.id).update(state=Trial.FAILED)
    response = client.get(reverse("searches:trial_export", args=[failed.id, "onnx"]), follow=True)
    assert "this one is failed" in response.content.decode()
    assert client.get(reverse("searches:trial_export", args=[failed.id, "exe"])).status_code == 404


def test_share_link_life(client, done, owner, member, outsider):
    create = reverse("searches:share_create", args=[done.id])
    client.force_login(outsider)
    assert client.post(create, {"label": "x"}).status_code == 404
    client.force_login(member)
    assert client.post(create, {"label": "x"}).status_code == 403
    assert not ShareLink.objects.exists()
    client.force_login(owner)
    client.post(create, {"label": "board"})
    client.post(create, {"label": "team"})
    first, second = ShareLink.objects.order_by("id")
    assert first.token != second.token and len(first.token) >= 40
    client.logout()
    page = client.get(reverse("share_page", args=[first.token]))
    html = page.content.decode()
    assert page.status_code == 200 and "The best model found" in html and "median" in html and "Glossary" in html
    assert client.get(reverse("share_page", args=["not-a-token"])).status_code == 404
    client.force_login(member)
    assert client.post(reverse("searches:share_revoke", args=[done.id, first.id])).status_code == 403
    client.force_login(owner)
    client.post(reverse("searches:share_revoke", args=[done.id, first.id]))
    client.logout()
    assert client.get(reverse("share_page", args=[first.token])).status_code == 404
    assert client.get(reverse("share_page", args=[second.token])).status_code == 200


def test_search_page_offers_csv_compare_and_sharing_to_the_owner_only(client, done, owner, member):
    url = reverse("searches:search_detail", args=[done.id])
    client.force_login(owner)
    html = client.get(url).content.decode()
    assert "Trials as CSV" in html and "Create share link" in html and "Compare" in html
    client.force_login(member)
    html = client.get(url).content.decode()
    assert "Trials as CSV" in html and "Create share link" not in html


def test_configuration_panel_and_clone_prefill_the_form(client, start_search, owner, outsider, project):
    source = start_search(name="base", max_trials=7, seed=5, training={"epochs": 3, "lr": 0.02},
                          constraints=[{"metric": "params", "max": 5000}],
                          space_spec={"min_depth": 1, "max_depth": 2, "widths": [16, 48]})
    client.force_login(owner)
    html = client.get(reverse("searches:search_detail", args=[source.id])).content.decode()
    assert "params at most 5000" in html and "epochs = 3" in html and "?clone=" in html
    form = client.get(reverse("searches:search_create", args=[project.id]) + f"?clone={source.id}").context["form"]
    assert form["name"].value() == "copy of base" and form["max_trials"].value() == 7
    assert form["seed"].value() == 5 and form["epochs"].value() == 3 and form["max_params"].value() == 5000
    assert form["spec__chain_mlp__widths"].value() == "16, 48"
    client.force_login(outsider)
    assert client.get(reverse("searches:search_create", args=[project.id]) + f"?clone={source.id}").status_code == 404


def test_analysis_and_project_compare_pages(client, done, project, owner, member, outsider):
    analysis = reverse("searches:search_analysis", args=[done.id])
    compare = reverse("searches:project_compare", args=[project.id])
    for user, status in ((owner, 200), (member, 200), (outsider, 404)):
        client.force_login(user)
        assert client.get(analysis).status_code == status and client.get(compare).status_code == status
    client.force_login(owner)
    html = client.get(analysis + "?partial=1").content.decode()
    assert "appear once 8 trials have completed" in html and "2 have so far" in html and "<html" not in html
    figure = client.get(compare).context["by_trials"]
    assert [t["name"] for t in figure["data"]] == ["s"] and len(figure["data"][0]["x"]) == 2


def test_analysis_with_enough_trials_names_decisions(client, start_search, owner):
    search = start_search(max_trials=8, parallelism=8, training={"epochs": 1})
    for trial_id in services.advance_search(search.id):
        runner.run_trial(trial_id, worker="w")
    client.force_login(owner)
    response = client.get(reverse("searches:search_analysis", args=[search.id]))
    assert "Which decisions matter" in response.content.decode()
    dims = [d["label"] for d in response.context["parcoords"]["data"][0]["dimensions"]]
    assert dims[0] == "depth" and dims[-1] == "validation accuracy"
    assert response.context["analysis"]["importance"] and response.context["analysis"]["sentences"]
