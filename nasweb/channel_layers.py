"""An in-process channel layer that worker threads can send to safely.

Channels' InMemoryChannelLayer keeps asyncio queues that belong to the server's
event loop. The embedded worker sends from its own threads (each with its own
loop), and asyncio queues are not thread-safe, so such sends are handed over to
the server loop with run_coroutine_threadsafe.
"""

from __future__ import annotations

import asyncio

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    _owner_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel):
        self._owner_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def _on_owner_loop(self, coro_factory):
        owner, here = self._owner_loop, asyncio.get_running_loop()
        if owner is None or owner is here or owner.is_closed():
            return await coro_factory()
        future = asyncio.run_coroutine_threadsafe(coro_factory(), owner)
        return await asyncio.wrap_future(future)

    async def send(self, channel, message):
        return await self._on_owner_loop(lambda: InMemoryChannelLayer.send(self, channel, message))

    async def group_send(self, group, message):
        return await self._on_owner_loop(lambda: InMemoryChannelLayer.group_send(self, group, message))

    async def group_add(self, group, channel):
        return await self._on_owner_loop(lambda: InMemoryChannelLayer.group_add(self, group, channel))

    async def group_discard(self, group, channel):
        return await self._on_owner_loop(lambda: InMemoryChannelLayer.group_discard(self, group, channel))
