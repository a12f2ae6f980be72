"""Live events to this server process's websockets: one feed per search that has listeners here.

A writer's whole cost of an event is its append to the search's numbered log (searches/event_log.py);
it sends nothing towards the sockets. Each server process (daphne: one asyncio loop) keeps a hub, and
for every search with at least one open socket in this process the hub runs one feed: every
TICK_SECONDS it reads the log for what came after the last number it handed out, and hands the new
events to each of its sockets' consumers (searches/consumers.py), which batch them into frames.

So the Redis work per event does not grow with the listeners (the channel layer used to push one copy
of every event into every socket's channel), and per process it is one read per watched search per
tick, whatever the event rate. Polling rather than a nudge per event: a nudge would be per-event work
again for writers and for every process, while a tick adds at most TICK_SECONDS to an event's way
(the consumer holds events up to 100 ms anyway to batch them), and the tick's read doubles as the
check that Redis is there: a read that fails ends the feed and every socket on it closes with 1013
("try again later"); the page reconnects and catches up from its last number (views.search_events).

Without Redis (the embedded default) the log is this process's memory and a tick's read is a call.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

import redis.exceptions

from .event_log import event_log

log = logging.getLogger(__name__)
TICK_SECONDS = 0.05
#: What Redis being away looks like to a read of the log.
OUTAGES = (OSError, asyncio.TimeoutError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


class Listener(Protocol):
    def feed_events(self, events: list[dict]) -> None:
        """New events of the search, in order (shared with the feed's other listeners: read, not change)."""

    async def feed_lost(self, error: BaseException) -> None:
        """The log could not be read: no more events will come on this feed."""


class Reader(Protocol):
    async def since(self, search_id: int, after: int) -> tuple[str, int, list[dict] | None]: ...

    async def position(self, search_id: int) -> tuple[str, int]: ...


class Feed:
    """One search's events for the listeners of this process, read from its log once per tick."""

    def __init__(self, hub: Hub, search_id: int, cursor: int):
        self.hub, self.search_id, self.cursor = hub, search_id, cursor
        self.listeners: set[Listener] = set()
        self.reads = 0
        self.skips = 0  # reads that found the log restarted or short of our number (the pages catch up)
        self.task: asyncio.Task | None = None
        #: Done once the feed knows where the log stands (its number to read after) or failed to.
        self.started: asyncio.Future = asyncio.get_running_loop().create_future()

    async def run(self) -> None:
        try:
            _, self.cursor = await self.hub.reader.position(self.search_id)
        except Exception as exc:  # the sockets waiting in Hub.listen are refused
            self.hub.drop(self)
            self.started.set_exception(exc)
            return
        self.started.set_result(None)
        try:
            while True:
                await asyncio.sleep(TICK_SECONDS)  # the sockets that waited for the start join meanwhile
                if not self.listeners:  # every socket left (or gave up while it waited)
                    self.hub.drop(self)
                    return
                await self.read()
        except Exception as exc:
            if isinstance(exc, OUTAGES):
                log.warning("events of search %s not read, Redis is away: %s", self.search_id, exc)
            else:
                log.exception("events of search %s not read", self.search_id)
            self.hub.drop(self)
            for listener in list(self.listeners):
                await listener.feed_lost(exc)

    async def read(self) -> None:
        incarnation, last, events = await self.hub.reader.since(self.search_id, self.cursor)
        self.reads += 1
        if events is None:
            # The log restarted below our number (read the new one from its start) or dropped events
            # we had not read yet (skip to its end): the pages see the gap or the new log and catch up.
            log.warning("events of search %s: the log no longer holds what came after %s (it holds up to %s); "
                        "the pages catch up", self.search_id, self.cursor, last)
            self.skips += 1
            self.cursor = 0 if last < self.cursor else last
            return
        if not events:
            return
        events = [{**event, "log": incarnation} for event in events]  # the memory log's own dicts stay as kept
        self.cursor = events[-1]["seq"]
        for listener in list(self.listeners):
            listener.feed_events(events)


class Hub:
    """The feeds of one event loop, by search id."""

    def __init__(self, reader: Reader):
        self.reader = reader
        self.feeds: dict[int, Feed] = {}

    async def listen(self, search_id: int, listener: Listener) -> None:
        """Hand `listener` the search's events numbered after now. Raises what a read raises when Redis
        is away (the caller refuses the socket)."""
        feed = self.feeds.get(search_id)
        if feed is None:
            feed = self.feeds[search_id] = Feed(self, search_id, cursor=0)
            feed.task = asyncio.ensure_future(feed.run())
        await asyncio.shield(feed.started)  # sockets opening together wait for one first read
        feed.listeners.add(listener)

    def leave(self, search_id: int, listener: Listener) -> None:
        feed = self.feeds.get(search_id)
        if feed is None or listener not in feed.listeners:
            return
        feed.listeners.discard(listener)
        if not feed.listeners:
            self.drop(feed)
            feed.task.cancel()

    def drop(self, feed: Feed) -> None:
        if self.feeds.get(feed.search_id) is feed:
            del self.feeds[feed.search_id]


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """The running loop's hub (one per server process; tests run a loop each)."""
    loop = asyncio.get_running_loop()
    if loop not in _hubs:
        _hubs[loop] = Hub(event_log().async_reader())
    return _hubs[loop]
