"""Every method on every API detail endpoint (project, search, trial, token, share link, target), with
generated bodies, by every kind of caller, on ids that exist, belong to someone else, or cannot exist:
each answer is a 2xx or a 4xx with a message, never a 500. Only a successful DELETE changes anything, and
it changes only its own row. NASWEB_FUZZ_EXAMPLES requests (500 with -m fuzz, 50 in the suite)."""

import itertools

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from devices import services as device_services
from devices.models import HardwareTarget
from searches import services
from searches.models import ApiToken, Project, Search, ShareLink, Trial
from tests.form_fuzz import fuzz_settings
from tests.searches.api.test_generated_bodies import anything, search_body

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz, pytest.mark.timeout(1800)]
METHODS = ["get", "patch", "put", "delete", "post", "head", "options"]
#: Ids that name no row: zero, beyond 32 and 64 bits (the path converter takes any digits).
FOREIGN_IDS = [0, 987654, 2**31, 2**63, 10**30]
serial = itertools.count()


@pytest.fixture
def world(owner, outsider, external_search, monkeypatch):
    """The rows the requests aim at; tokens, links and targets are made fresh per request (a DELETE ends them)."""
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    trial = services.ask_trial(Search.objects.get(id=external_search.id), worker="script")
    stranger = services.create_project(outsider, "theirs", services.builtin_dataset("digits"))
    return {"owner": owner, "search": external_search, "trial": trial, "stranger": stranger}


def fresh_rows(world) -> dict:
    """One token, share link and own target of the owner's, made for this request."""
    n = next(serial)
    token, _ = services.create_token(world["owner"], f"fuzz {n}")
    link = services.create_share_link(world["search"], world["owner"], f"fuzz {n}")
    target = device_services.create_target(f"fuzz {n}", HardwareTarget.ANALYTICAL, {"arithmetic": "fp32"}, "macs",
                                           owner=world["owner"])
    return {"token": token, "link": link, "target": target}


def url(endpoint: str, world: dict, rows: dict, foreign: int | None) -> str:
    """The endpoint's URL for its own row, or for `foreign` (an id that is not the owner's)."""
    search, trial = world["search"], world["trial"]
    ids = {"project": search.project_id, "search": search.id, "trial": trial.id, "token": rows["token"].id,
           "share link": rows["link"].id, "target": rows["target"].id}
    own = ids[endpoint] if foreign is None else foreign
    if endpoint == "share link":
        return f"/api/searches/{search.id}/share-links/{own}/"
    path = {"project": "projects", "search": "searches", "trial": "trials", "token": "tokens",
            "target": "targets"}[endpoint]
    return f"/api/{path}/{own}/"


def snapshot() -> tuple:
    """Row counts and the live tokens and links: what a request could half-write."""
    return (Project.objects.count(), Search.objects.count(), Trial.objects.count(), HardwareTarget.objects.count(),
            ShareLink.objects.count(), ApiToken.objects.count(),
            sorted(ApiToken.objects.filter(revoked_at=None).values_list("id", flat=True)),
            sorted(ShareLink.objects.filter(revoked_at=None).values_list("id", flat=True)),
            list(Search.objects.values_list("id", "state", "name")))


def revoked(rows: dict, endpoint: str) -> bool:
    row = {"token": rows["token"], "share link": rows["link"]}[endpoint]
    row.refresh_from_db()
    return row.revoked_at is not None


@fuzz_settings()
@given(endpoint=st.sampled_from(["project", "search", "trial", "token", "share link", "target"]),
       method=st.sampled_from(METHODS),
       caller=st.just("owner") | st.sampled_from(["member", "outsider", "anonymous", "bad token", "revoked token"]),
       foreign=st.none() | st.sampled_from([*FOREIGN_IDS, "stranger"]), body=anything | search_body)
@example(endpoint="token", method="delete", caller="owner", foreign=None, body=None)  # the DELETEs that succeed
@example(endpoint="share link", method="delete", caller="owner", foreign=None, body=None)
def test_detail_endpoints_answer_every_method(clients, world, endpoint, method, caller, foreign, body):
    rows = fresh_rows(world)
    try:
        answers_without_a_500(clients[caller], world, rows, endpoint, method, caller, foreign, body)
    finally:  # the search takes 20 active links at most: each request's rows go with it
        for row in rows.values():
            row.delete()


def answers_without_a_500(client, world, rows, endpoint, method, caller, foreign, body):
    if foreign == "stranger":
        foreign = world["stranger"].id if endpoint == "project" else 987654
    target = url(endpoint, world, rows, foreign)
    before = snapshot()
    call = getattr(client, method)
    response = call(target, body, format="json") if method in ("patch", "put", "post") else call(target)
    assert 200 <= response.status_code < 500, (method, target, body, response.status_code, response.content[:500])
    if response.status_code >= 400 and method != "head":
        answer = response.json()  # DRF's own errors say "detail", the views' validation "errors"
        assert answer.get("errors") or answer.get("detail"), (method, target, response.status_code, answer)
    revokes = method == "delete" and endpoint in ("token", "share link") and caller == "owner" and foreign is None
    assert (response.status_code == 204) == revokes, (method, target, response.status_code)
    if revokes:
        assert revoked(rows, endpoint)
        return
    assert snapshot() == before, (method, target, body)
