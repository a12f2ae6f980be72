"""Websocket consumer: pushes a search's trial and metric updates to the browser."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .access import user_can_view_search
from .events import group_name

FORBIDDEN = 4403


class SearchConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.search_id = int(self.scope["url_route"]["kwargs"]["search_id"])
        user = self.scope.get("user")
        if not await database_sync_to_async(user_can_view_search)(user, self.search_id):
            await self.close(code=FORBIDDEN)
            return
        self.group = group_name(self.search_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # the socket is push-only; commands go through the HTTP views

    async def trial_update(self, event):
        await self.send_json({"type": "trial", "trial": event["trial"]})

    async def metric_update(self, event):
        await self.send_json({k: event[k] for k in ("trial_id", "number", "epoch", "metrics")} | {"type": "metric"})

    async def search_update(self, event):
        await self.send_json({"type": "search", "search": event["search"]})

    async def oneshot_update(self, event):
        await self.send_json({"type": "oneshot", "epoch": event["epoch"]})
