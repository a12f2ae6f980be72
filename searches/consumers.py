"""Websocket consumer: pushes a search's numbered events to the browser in frames.

Events arrive from the search's group one by one (searches/events.py); the consumer sends them in
frames, at most FRAMES_PER_SECOND a second: the first event after a quiet spell goes at once, the
ones that follow within the interval wait for the next frame. A frame carries the deltas since the
last one: the newest state of each trial (a trial that changed three times in the interval is sent
once), the newest epoch per trial, the search's newest state, and the numbers of every event it
covers, so the page can tell a gap from an event folded into a newer one.
"""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .access import user_can_view_search
from .events import group_name

FORBIDDEN = 4403
FRAMES_PER_SECOND = 10


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


class SearchConsumer(AsyncJsonWebsocketConsumer):
    interval = 1.0 / FRAMES_PER_SECOND

    async def connect(self):
        self.search_id = int(self.scope["url_route"]["kwargs"]["search_id"])
        user = self.scope.get("user")
        if not await database_sync_to_async(user_can_view_search)(user, self.search_id):
            await self.close(code=FORBIDDEN)
            return
        self.pending: list[dict] = []
        self.flusher: asyncio.Task | None = None
        self.last_frame = 0.0
        self.group = group_name(self.search_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "flusher", None) is not None:
            self.flusher.cancel()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # the socket is push-only; commands go through the HTTP views

    async def search_event(self, message):
        self.pending.append(message["event"])
        self._schedule_flush()

    async def search_events(self, message):
        """Several events sent as one group message (events.send_many_now)."""
        self.pending.extend(message["events"])
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self.flusher is None:
            wait = self.last_frame + self.interval - time.monotonic()
            self.flusher = asyncio.ensure_future(self._flush_after(max(wait, 0.0)))

    async def _flush_after(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)
        events, self.pending, self.flusher = self.pending, [], None
        self.last_frame = time.monotonic()
        await self.send_json({
            "type": "batch", "log": events[-1].get("log", ""),
            "seqs": sorted(e["seq"] for e in events), "events": coalesce(events),
        })
