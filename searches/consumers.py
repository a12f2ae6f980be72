"""Websocket consumer: pushes a search's numbered events to the browser in frames.

Events arrive from this process's feed of the search (searches/live_hub.py reads the search's log,
searches/event_log.py, and hands new events to every socket of the search); the consumer sends them in
frames, at most FRAMES_PER_SECOND a second: the first event after a quiet spell goes at once, the
ones that follow within the interval wait for the next frame. A frame carries the deltas since the
last one: the newest state of each trial (a trial that changed three times in the interval is sent
once), the newest epoch per trial, the search's newest state, and the numbers of every event it
covers, so the page can tell a gap from an event folded into a newer one.

Beside the frames it sends the search's status (progress, ETA, why trials wait; searches/search_status.py)
as a "status" message: at most once a second after a trial or search event, and every
STATUS_REFRESH_SECONDS while the search is active, so a time budget's bar and the ETA move between
events too. Status messages are not numbered: each one replaces the last.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import redis.exceptions
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import InterfaceError, OperationalError

from . import embedded, live_hub, search_status
from .access import user_can_view_search

log = logging.getLogger(__name__)
FORBIDDEN = 4403
#: "Try again later" (RFC 6455): the channel layer (Redis) or the database is away. The page's
#: live_socket.js reconnects with backoff and refetches the whole state once the socket opens.
TRY_AGAIN_LATER = 1013
#: What Redis or PostgreSQL being away looks like from here (channels_redis raises redis' own errors).
OUTAGES = (OSError, asyncio.TimeoutError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
           OperationalError, InterfaceError)
FRAMES_PER_SECOND = 10
STATUS_PER_SECOND = 1
STATUS_REFRESH_SECONDS = 5.0


def current_status(search_id: int) -> dict | None:
    return search_status.status_of(search_id, embedded.trial_lines())


#: Sockets of one search in one process that ask for its status within this many seconds share one read.
STATUS_SHARED_SECONDS = 0.3
#: (event loop, search id) -> (when the read began, the read): 100 sockets of an active search would
#: otherwise each read the status from the database every STATUS_REFRESH_SECONDS (20 queries a second).
_status_reads: dict[tuple[int, int], tuple[float, asyncio.Future]] = {}


async def shared_status(search_id: int) -> dict | None:
    """The search's status, read once for every socket of this process that asks at about the same time."""
    key = (id(asyncio.get_running_loop()), search_id)
    began, read = _status_reads.get(key, (0.0, None))
    if read is None or time.monotonic() - began > STATUS_SHARED_SECONDS:
        read = asyncio.ensure_future(database_sync_to_async(current_status)(search_id))
        _status_reads[key] = (time.monotonic(), read)
        read.add_done_callback(lambda done: _forget_status_read(key, done))
    return await asyncio.shield(read)


def _forget_status_read(key: tuple[int, int], read: asyncio.Future) -> None:
    """A failed read is not shared with later askers; a finished one is kept only for its short while."""
    began, current = _status_reads.get(key, (0.0, None))
    if current is read and (read.cancelled() or read.exception() is not None):
        del _status_reads[key]
    elif current is read:
        asyncio.get_running_loop().call_later(STATUS_SHARED_SECONDS, _drop_if_same, key, read)


def _drop_if_same(key: tuple[int, int], read: asyncio.Future) -> None:
    if _status_reads.get(key, (0.0, None))[1] is read:
        del _status_reads[key]


def coalesce(events: list[dict]) -> list[dict]:
    """The deltas of a frame: per trial its newest state and newest epoch, the newest search state
    and one-shot epoch; in the order of their numbers."""
    newest: dict[tuple, dict] = {}
    for event in events:
        kind = event["type"]
        if kind == "trial":
            key = ("trial", event["trial"]["id"])
        elif kind == "metric":
            key = ("metric", event["trial_id"])
        else:
            key = (kind,)
        if key not in newest or newest[key]["seq"] < event["seq"]:
            newest[key] = event
    return sorted(newest.values(), key=lambda e: e["seq"])


def frame_text(events: list[dict]) -> str:
    """The frame of these events as sent. The sockets of a search in this process get the same event
    objects from the hub's feed at the same ticks, so most of them send the same frames: the text is
    made once and reused (a frame is known by its first and last event objects and their count,
    since a feed hands out each event once and in order)."""
    key = (id(events[0]), id(events[-1]), len(events))
    cached = _recent_frames.get(key)
    if cached is not None and cached[0] is events[0] and cached[1] is events[-1]:
        return cached[2]
    text = json.dumps({"type": "batch", "log": events[-1].get("log", ""),
                       "seqs": sorted(e["seq"] for e in events), "events": coalesce(events)})
    _recent_frames[key] = (events[0], events[-1], text)  # the events kept alive: their ids stay theirs
    while len(_recent_frames) > RECENT_FRAMES:
        del _recent_frames[next(iter(_recent_frames))]
    return text


#: Frames made lately, by (id of first event, id of last event, count); a few ticks' worth.
RECENT_FRAMES = 16
_recent_frames: dict[tuple[int, int, int], tuple[dict, dict, str]] = {}


class SearchConsumer(AsyncJsonWebsocketConsumer):
    interval = 1.0 / FRAMES_PER_SECOND
    #: Set once this consumer sent its websocket.close (so an outage later sends no second one).
    closing = False

    async def __call__(self, scope, receive, send):
        """Redis going away under an open socket (the feed's read or the channel layer's receive loop
        fails) closes it with 1013 instead of crashing the consumer; the page reconnects with backoff."""
        try:
            await super().__call__(scope, receive, send)
        except OUTAGES as exc:
            log.warning("websocket of a search closed, Redis is away: %s", exc)
            if not self.closing:
                self.closing = True
                await send({"type": "websocket.close", "code": TRY_AGAIN_LATER})

    async def close(self, code=None, reason=None):
        self.closing = True
        await super().close(code=code, reason=reason)

    async def connect(self):
        self.search_id = int(self.scope["url_route"]["kwargs"]["search_id"])
        self.pending: list[dict] = []
        self.flusher: asyncio.Task | None = None
        self.last_frame = 0.0
        self.status_timer: asyncio.Task | None = None
        self.status_due = 0.0
        self.last_status = 0.0
        self.hub = live_hub.hub()
        try:
            allowed = await database_sync_to_async(user_can_view_search)(self.scope.get("user"), self.search_id)
            if allowed:
                await self.hub.listen(self.search_id, self)
        except OUTAGES as exc:  # a clean "try again later" instead of an HTTP 500 on the handshake
            log.warning("websocket of search %s refused, Redis or the database is away: %s", self.search_id, exc)
            await self.accept()
            await self.close(code=TRY_AGAIN_LATER)
            return
        if not allowed:
            await self.close(code=FORBIDDEN)
            return
        self.listening = True
        await self.accept()
        self._status_in(STATUS_REFRESH_SECONDS)  # the page read the status with its catch-up on open

    async def disconnect(self, code):
        for task in (getattr(self, "flusher", None), getattr(self, "status_timer", None)):
            if task is not None:
                task.cancel()
        if getattr(self, "listening", False):
            self.hub.leave(self.search_id, self)

    async def receive_json(self, content, **kwargs):
        pass  # the socket is push-only; commands go through the HTTP views

    def feed_events(self, events: list[dict]) -> None:
        """New events from the hub's feed of the search (live_hub.Listener)."""
        self.pending.extend(events)
        self._schedule_flush(events)

    async def feed_lost(self, error: BaseException) -> None:
        """The feed could not read the log (Redis is away): close with 1013 so the page reconnects and
        catches up from its last number once Redis is back."""
        if not self.closing:
            await self.close(code=TRY_AGAIN_LATER)

    def _schedule_flush(self, events: list[dict]) -> None:
        if any(event["type"] in ("trial", "search") for event in events):
            self._status_in(self.last_status + 1.0 / STATUS_PER_SECOND - time.monotonic())
        if self.flusher is None:
            wait = self.last_frame + self.interval - time.monotonic()
            self.flusher = asyncio.ensure_future(self._flush_after(max(wait, 0.0)))

    async def _flush_after(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)
        events, self.pending, self.flusher = self.pending, [], None
        self.last_frame = time.monotonic()
        await self.send(text_data=frame_text(events))

    def _status_in(self, seconds: float) -> None:
        """Send the status in `seconds` (at once if <= 0), unless one is already due sooner."""
        due = time.monotonic() + max(seconds, 0.0)
        if self.status_timer is not None:
            if self.status_due <= due:
                return
            self.status_timer.cancel()
        self.status_due = due
        self.status_timer = asyncio.ensure_future(self._send_status(due))

    async def _send_status(self, due: float) -> None:
        await asyncio.sleep(max(due - time.monotonic(), 0.0))
        self.status_timer, self.last_status = None, time.monotonic()  # an event from now on asks anew
        try:
            status = await shared_status(self.search_id)
        except OUTAGES as exc:  # the database is away: the events still flow; try the status again later
            log.warning("status of search %s not read: %s", self.search_id, exc)
            self._status_in(STATUS_REFRESH_SECONDS)
            return
        if status is None:
            return
        await self.send_json({"type": "status", "status": status})
        progress = status["progress"]
        if (progress and progress["active"]) or status["waiting"]["count"]:
            self._status_in(STATUS_REFRESH_SECONDS)
