"""The websocket drives the real nasweb.asgi.application with the configured channel layer."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from nasweb.asgi import application
from searches import services

pytestmark = [pytest.mark.django_db(transaction=True)]


def session_headers(user) -> list:
    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")]


@database_sync_to_async
def new_search(start_search):
    return start_search()


@database_sync_to_async
def headers_for(user):
    return session_headers(user)


@database_sync_to_async
def advance_and_train_one_epoch(search_id):
    (trial_id,) = services.advance_search(search_id)
    services.claim_trial(trial_id, "w", "cpu")
    services.record_epoch(trial_id, 1, {"val_accuracy": 0.42}, attempt=1)
    return trial_id


async def connect(search_id, headers):
    communicator = WebsocketCommunicator(application, f"/ws/searches/{search_id}/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def test_owner_receives_trial_and_metric_updates(start_search, owner, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = await new_search(start_search)
    communicator, connected, _ = await connect(search.id, await headers_for(owner))
    assert connected
    trial_id = await advance_and_train_one_epoch(search.id)
    seen = []
    while not any(m["type"] == "metric" for m in seen):
        seen.append(await communicator.receive_json_from(timeout=10))
    states = [m["trial"]["state"] for m in seen if m["type"] == "trial"]
    assert states == ["queued", "running"]
    metric = seen[-1]
    assert (metric["trial_id"], metric["epoch"], metric["metrics"]["val_accuracy"]) == (trial_id, 1, 0.42)
    await communicator.disconnect()


async def test_member_may_listen(start_search, member):
    search = await new_search(start_search)
    communicator, connected, _ = await connect(search.id, await headers_for(member))
    assert connected
    await communicator.disconnect()


async def test_outsider_is_refused(start_search, outsider):
    search = await new_search(start_search)
    communicator, connected, code = await connect(search.id, await headers_for(outsider))
    assert not connected and code == 4403


async def test_anonymous_is_refused(start_search):
    search = await new_search(start_search)
    communicator, connected, code = await connect(search.id, [(b"origin", b"http://localhost")])
    assert not connected and code == 4403


async def test_foreign_origin_is_refused(start_search, owner):
    search = await new_search(start_search)
    headers = [h for h in await headers_for(owner) if h[0] != b"origin"] + [(b"origin", b"http://evil.example")]
    communicator, connected, _ = await connect(search.id, headers)
    assert not connected
