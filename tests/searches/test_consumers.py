"""The websocket drives the real nasweb.asgi.application with the configured channel layer."""

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import OperationalError
from django.test import Client

from nasweb.asgi import application
from searches import consumers, live_hub, services
from searches.consumers import TRY_AGAIN_LATER, coalesce, frame_text
from searches.event_log import RedisEventLog
from searches.events import send_many_now, send_now

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


async def test_owner_receives_numbered_frames_of_trial_and_metric_updates(start_search, owner, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = await new_search(start_search)
    communicator, connected, _ = await connect(search.id, await headers_for(owner))
    assert connected
    trial_id = await advance_and_train_one_epoch(search.id)
    frames, events = [], []
    while not any(e["type"] == "metric" for e in events):
        frame = await communicator.receive_json_from(timeout=10)
        if frame["type"] == "batch":  # status messages come beside the frames, unnumbered
            frames.append(frame)
            events += frame["events"]
    seqs = [n for f in frames for n in f["seqs"]]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # numbered without gaps, none lost
    assert {e["type"] for e in events} >= {"trial", "metric"}
    states = [e["trial"]["state"] for e in events if e["type"] == "trial"]
    assert states[-1] == "running" and set(states) <= {"queued", "running"}
    metric = events[-1]
    assert (metric["trial_id"], metric["epoch"], metric["metrics"]["val_accuracy"]) == (trial_id, 1, 0.42)
    await communicator.disconnect()


@database_sync_to_async
def finish_trials(search_id, n):
    for _ in range(n):
        (trial_id,) = services.advance_search(search_id)
        services.claim_trial(trial_id, "w", "cpu")
        services.complete_trial(trial_id, {"val_accuracy": 0.5, "params": 10})


async def test_status_follows_trial_events_at_most_once_a_second(start_search, owner, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = await new_search(start_search)  # a budget of 3 trials
    communicator, connected, _ = await connect(search.id, await headers_for(owner))
    assert connected
    await finish_trials(search.id, 2)
    statuses, stamps = [], []
    while not statuses or statuses[-1]["progress"]["done"] < 2:
        frame = await communicator.receive_json_from(timeout=10)
        if frame["type"] == "status":
            statuses.append(frame["status"])
            stamps.append(time.monotonic())
    progress = statuses[-1]["progress"]
    assert (progress["bound"], progress["max_trials"], progress["active"]) == ("trials", 3, True)
    assert progress["rate_per_minute"] > 0 and " trials/min" in progress["eta_text"]
    assert all(b - a > 0.9 for a, b in zip(stamps, stamps[1:], strict=False)), stamps
    await communicator.disconnect()


def test_a_frame_keeps_each_trials_newest_state_and_every_number():
    events = [{"type": "trial", "seq": 1, "trial": {"id": 7, "state": "queued"}},
              {"type": "search", "seq": 2, "search": {"state": "running"}},
              {"type": "trial", "seq": 3, "trial": {"id": 7, "state": "running"}},
              {"type": "metric", "seq": 4, "trial_id": 7, "epoch": 1},
              {"type": "trial", "seq": 5, "trial": {"id": 8, "state": "queued"}},
              {"type": "metric", "seq": 6, "trial_id": 7, "epoch": 2}]
    assert [e["seq"] for e in coalesce(events)] == [2, 3, 5, 6]


def test_sockets_handed_the_same_events_share_one_frame_text():
    batch = [{"type": "metric", "seq": n, "trial_id": 7, "epoch": n, "log": "L"} for n in (1, 2, 3)]
    one, other = list(batch), list(batch)  # two consumers' pending lists: the feed's very objects
    assert frame_text(one) is frame_text(other)
    assert json.loads(frame_text(one)) == {"type": "batch", "log": "L", "seqs": [1, 2, 3], "events": [batch[2]]}
    equal_but_not_the_same = [dict(e) for e in batch]
    assert frame_text(equal_but_not_the_same) is not frame_text(one)
    assert frame_text(batch[:2]) != frame_text(one)


async def test_frames_come_at_most_ten_a_second(start_search, owner, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)  # no worker adds events of its own
    search = await new_search(start_search)
    communicator, connected, _ = await connect(search.id, await headers_for(owner))
    assert connected
    stamps, seqs = [], []

    async def collect():
        while len(seqs) < 30:
            frame = await communicator.receive_json_from(timeout=5)
            if frame["type"] != "batch":
                continue  # a status message: not a frame of events
            stamps.append(time.monotonic())
            seqs.extend(frame["seqs"])

    collector = asyncio.ensure_future(collect())
    for _ in range(30):
        await database_sync_to_async(send_now)(search.id, {"type": "oneshot.update", "epoch": 1})
        await asyncio.sleep(0.02)
    await asyncio.wait_for(collector, 10)
    assert len(seqs) == 30 and len(set(seqs)) == 30 and len(stamps) < 15
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(gap > 0.09 for gap in gaps), gaps
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


async def messages_for(communicator, seconds: float) -> list[dict]:
    """Everything the socket sends in the next `seconds`. (A receive that times out cancels the
    application, so the wait is receive_nothing's, which raises if the consumer crashed.)"""
    messages, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not await communicator.receive_nothing(timeout=1, interval=0.1):
            messages.append(await communicator.receive_json_from(timeout=5))
    return messages


async def next_batch(communicator, timeout: float) -> dict:
    """The next frame of events, past any status messages."""
    while (message := await communicator.receive_json_from(timeout=timeout))["type"] != "batch":
        pass
    return message


@pytest.mark.integration
@pytest.mark.timeout(120)
async def test_an_idle_socket_stays_open_for_a_minute_on_the_redis_layer(start_search, owner, settings):
    """redis-py 8 reads with a 5 s socket timeout by default, as long as channels-redis's blocking
    read: the consumer used to die (1011) after 5 s without an event. 60 s idle, then one event."""
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    search = await new_search(start_search)
    communicator, connected, _ = await connect(search.id, await headers_for(owner))
    assert connected
    # No event for 60 s: only the consumer's own status messages (sent from its timer, not read from
    # Redis) may arrive; a crash of the layer's blocking read would end the socket.
    assert {message["type"] for message in await messages_for(communicator, seconds=60)} <= {"status"}
    await database_sync_to_async(services.pause_search)(search)
    message = await next_batch(communicator, timeout=10)
    assert message["events"][-1]["search"]["state"] == "paused"
    await communicator.disconnect()


async def test_a_batched_push_arrives_as_its_numbered_events(start_search, owner, monkeypatch):
    """events.send_many_now: several events numbered in one atomic call, read by the feed at once, one frame."""
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)  # no worker adds events of its own
    search = await new_search(start_search)
    communicator, connected, _ = await connect(search.id, await headers_for(owner))
    assert connected
    trials = [{"type": "trial.update", "trial": {"id": 900 + i, "state": "complete"}} for i in range(5)]
    numbers = await database_sync_to_async(send_many_now)(search.id, trials)
    frame = await communicator.receive_json_from(timeout=10)
    assert frame["seqs"] == numbers and numbers == list(range(numbers[0], numbers[0] + 5))
    assert [e["trial"]["id"] for e in frame["events"]] == [900, 901, 902, 903, 904]
    await communicator.disconnect()


def dead_redis_url() -> str:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    return f"redis://127.0.0.1:{port}/0"


async def test_with_redis_away_the_handshake_is_a_clean_try_again_later(start_search, owner, settings):
    """The channel layer and the event log on a port where no Redis listens (a stopped one): no HTTP
    500 on the handshake, but an accepted socket closed with 1013, which live_socket.js retries with backoff."""
    url = dead_redis_url()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {
        "hosts": [{"address": url, "socket_connect_timeout": 1}]}}}
    live_hub.hub().reader = RedisEventLog(url, "gone").async_reader()
    search = await new_search(start_search)
    communicator, connected, _ = await connect(search.id, await headers_for(owner))
    assert connected
    closed = await communicator.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
    await communicator.disconnect()


async def test_with_the_database_away_the_handshake_is_a_clean_try_again_later(start_search, owner, monkeypatch):
    from django.db import OperationalError

    search = await new_search(start_search)
    headers = await headers_for(owner)

    def database_gone(*args):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("searches.consumers.user_can_view_search", database_gone)
    communicator, connected, _ = await connect(search.id, headers)
    assert connected
    assert await communicator.receive_output(timeout=10) == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
    await communicator.disconnect()


async def test_redis_going_away_under_open_sockets_closes_each_with_try_again_later(start_search, owner):
    """The feed's next read of the log fails: every socket of the search closes with 1013 (the page
    reconnects with backoff and catches up from its last number)."""
    search = await new_search(start_search)
    headers = await headers_for(owner)
    communicators = [(await connect(search.id, headers))[0] for _ in range(3)]
    live_hub.hub().reader = RedisEventLog(dead_redis_url(), "gone").async_reader()
    for communicator in communicators:
        assert await communicator.receive_output(timeout=10) == {"type": "websocket.close", "code": TRY_AGAIN_LATER}
        await communicator.disconnect()
    assert not live_hub.hub().feeds


async def test_twenty_sockets_of_a_search_share_one_feed_and_each_gets_every_number(start_search, owner,
                                                                                    monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)  # no worker adds events of its own
    search = await new_search(start_search)
    headers = await headers_for(owner)
    communicators = [(await connect(search.id, headers))[0] for _ in range(20)]
    feed = live_hub.hub().feeds[search.id]
    numbers = []
    for _ in range(10):
        numbers += await database_sync_to_async(send_many_now)(
            search.id, [{"type": "metric.update", "trial_id": n, "epoch": 1} for n in range(20)])
        numbers.append(await database_sync_to_async(send_now)(search.id, {"type": "oneshot.update", "epoch": 1}))
    assert len(numbers) == 210 and numbers == list(range(numbers[0], numbers[0] + 210))
    for communicator in communicators:
        seen = []
        while len(seen) < len(numbers):
            seen += (await next_batch(communicator, timeout=10))["seqs"]
        assert seen == numbers
    assert len(live_hub.hub().feeds) == 1 and live_hub.hub().feeds[search.id] is feed
    for communicator in communicators:
        await communicator.disconnect()
    assert not live_hub.hub().feeds  # the last socket gone, the feed stops reading


async def test_sockets_asking_for_the_status_together_share_one_read(monkeypatch):
    """100 sockets of an active search each refresh the status every few seconds: those that ask
    within consumers.STATUS_SHARED_SECONDS share one database read; a failed read is not shared."""
    reads = []

    def counted(search_id):
        reads.append(search_id)
        time.sleep(0.05)
        if len(reads) == 2:
            raise OperationalError("the database went away")
        return {"progress": None, "waiting": {"count": len(reads)}}

    monkeypatch.setattr(consumers, "current_status", counted)
    statuses = await asyncio.gather(*(consumers.shared_status(7) for _ in range(20)))
    assert reads == [7] and all(s == {"progress": None, "waiting": {"count": 1}} for s in statuses)
    await asyncio.sleep(consumers.STATUS_SHARED_SECONDS + 0.05)
    with pytest.raises(OperationalError):
        await consumers.shared_status(7)  # a new read, which fails
    assert (await consumers.shared_status(7))["waiting"]["count"] == 3  # the failure was not kept
