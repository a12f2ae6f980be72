"""Every endpoint for every kind of caller: the owner and a member may, an outsider gets 404 on what
belongs to the project (and sees none of it in lists), and no token, a bad one or a revoked one is 401."""

import pytest

from searches.models import Search, Trial

pytestmark = pytest.mark.django_db

CALLERS = ["owner", "member", "outsider", "anonymous", "bad token", "revoked token"]


@pytest.fixture
def objects(project, external_search, start_search, owner):
    """A project with an external search that has one running trial with an epoch, and a worker search."""
    from searches import services

    trial = services.ask_trial(external_search, worker="tests")
    services.report_epoch(trial, 1, {"val_accuracy": 0.5})
    workers = start_search(name="workers", max_trials=2)
    return {"project": project.id, "search": external_search.id, "trial": trial.id, "workers": workers.id}


def project_scoped():
    """(method, url, body, owner's status); outsiders get 404 on all of them."""
    return [
        ("get", "/api/projects/{project}/", None, 200),
        ("get", "/api/projects/{project}/searches/", None, 200),
        ("post", "/api/projects/{project}/searches/", {"name": "n", "space_kind": "chain_mlp", "strategy": "random",
                                                       "training": {"epochs": 1}, "max_trials": 2}, 201),
        ("get", "/api/searches/{search}/", None, 200),
        ("get", "/api/searches/{search}/spec/", None, 200),
        ("post", "/api/searches/{workers}/pause/", None, 200),
        ("post", "/api/searches/{search}/clone/", {"overrides": {"seed": 5}}, 201),
        ("post", "/api/searches/{workers}/cancel/", None, 200),
        ("post", "/api/searches/{search}/resume/", None, 409),
        ("get", "/api/searches/{search}/trials/", None, 200),
        ("get", "/api/searches/{search}/trials.csv", None, 200),
        ("post", "/api/searches/{search}/ask/", {"worker": "w"}, 200),
        ("get", "/api/trials/{trial}/", None, 200),
        ("get", "/api/trials/{trial}/metrics/", None, 200),
        ("get", "/api/trials/{trial}/export/spec/", None, 200),
        ("post", "/api/trials/{trial}/prune/", {"budget_kind": "params", "budget_value": 100}, 400),  # running
        ("post", "/api/trials/{trial}/report/", {"epoch": 2, "metrics": {"val_accuracy": 0.6}}, 200),
        ("post", "/api/trials/{trial}/heartbeat/", None, 200),
        ("post", "/api/trials/{trial}/tell/", {"metrics": {"val_accuracy": 0.7, "params": 10}}, 200),
    ]


def global_endpoints():
    return [
        ("get", "/api/", None, 200),
        ("get", "/api/projects/", None, 200),
        ("post", "/api/projects/", {"name": "p", "dataset": "builtin:wine"}, 201),
        ("get", "/api/datasets/", None, 200),
        ("get", "/api/spaces/", None, 200),
        ("post", "/api/spaces/size/", {"kind": "nb201", "spec": {}}, 200),
        ("get", "/api/searches/", None, 200),
        ("get", "/api/targets/", None, 200),
        ("post", "/api/targets/", {"name": "an analytical one", "kind": "analytical"}, 201),
        ("get", "/api/tokens/", None, 200),
        ("post", "/api/tokens/", {"name": "laptop"}, 201),
    ]


def call(client, method, url, body):
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, format="json")


@pytest.mark.parametrize("caller", CALLERS)
def test_every_endpoint(clients, objects, caller):
    """In order, on fresh objects per caller (some calls change state: pause, cancel, tell)."""
    wrong = []
    for method, url, body, expected in project_scoped() + global_endpoints():
        response = call(clients[caller], method, url.format(**objects), body)
        if caller in ("owner", "member"):
            wanted = expected
        elif caller == "outsider":
            wanted = 404 if "{" in url else expected
        else:
            wanted = 401
        if response.status_code != wanted:
            wrong.append(f"{method.upper()} {url}: {response.status_code}, wanted {wanted}: {response.content[:200]}")
        elif wanted == 401:
            assert response["WWW-Authenticate"].startswith("Bearer") and "detail" in response.json()
        elif wanted == 404:
            assert set(response.json()) == {"detail"}
    assert not wrong, "\n".join(wrong)


def test_the_schema_is_public_but_a_bad_token_is_still_refused(clients):
    assert clients["anonymous"].get("/api/schema/").status_code == 200
    assert clients["bad token"].get("/api/schema/").status_code == 401


def test_lists_show_an_outsider_nothing_of_the_project(clients, objects):
    assert [p["name"] for p in clients["owner"].get("/api/projects/").json()] == ["Digits"]
    assert {s["name"] for s in clients["owner"].get("/api/searches/").json()} == {"ext", "workers"}
    assert clients["outsider"].get("/api/projects/").json() == []
    assert clients["outsider"].get("/api/searches/").json() == []
    assert clients["member"].get("/api/searches/").json()[0]["project"] == objects["project"]


def test_a_member_steers_like_the_owner(clients, objects):
    assert clients["member"].post(f"/api/searches/{objects['workers']}/pause/").json()["search"]["state"] == "paused"
    assert Search.objects.get(id=objects["workers"]).state == Search.PAUSED
    assert clients["member"].post(f"/api/trials/{objects['trial']}/tell/", {"error": "out of memory"},
                                  format="json").json() == {"accepted": True, "keep_going": False, "state": "failed"}
    assert "out of memory" in Trial.objects.get(id=objects["trial"]).error


def test_tokens_are_stored_hashed_and_a_revoked_one_stops_working(api, owner):
    made = api.post("/api/tokens/", {"name": "gpu box"}, format="json").json()
    from searches.models import ApiToken

    row = ApiToken.objects.get(id=made["id"])
    assert made["key"].startswith("nas_") and made["key"] not in (row.digest, row.prefix) and len(row.digest) == 64
    assert "key" not in api.get("/api/tokens/").json()[0]
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {made['key']}")
    assert client.get("/api/projects/").status_code == 200
    assert api.delete(f"/api/tokens/{made['id']}/").status_code == 204
    assert client.get("/api/projects/").status_code == 401
    assert api.delete(f"/api/tokens/{made['id']}/").status_code == 204  # revoking twice changes nothing
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    assert other.get("/api/projects/").status_code == 401


def test_someone_elses_token_cannot_be_revoked(clients, owner):
    from searches.models import ApiToken

    token = ApiToken.objects.filter(user=owner, revoked_at=None).first()
    assert clients["outsider"].delete(f"/api/tokens/{token.id}/").status_code == 404
    assert ApiToken.objects.get(id=token.id).revoked_at is None


def test_the_browser_session_works_with_csrf(client, owner, project):
    client.force_login(owner)
    assert client.get("/api/projects/").json()[0]["name"] == "Digits"
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(owner)
    assert strict.post("/api/projects/", {"name": "x", "dataset": "builtin:wine"},
                       content_type="application/json").status_code == 403


def test_token_creation_is_rate_limited(api, settings):
    from rest_framework.settings import api_settings

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "tokens": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework.throttling import SimpleRateThrottle

    old = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [api.post("/api/tokens/", {"name": f"t{i}"}, format="json").status_code for i in range(3)]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = old
    assert codes == [201, 201, 429]
    assert api.get("/api/tokens/").status_code == 200  # listing is not the limited part
