"""Each search's numbered event stream: sequence numbers 1, 2, 3 ... and the recent events kept for
pages that reconnect and ask for what came after their last number.

With Redis (REDIS_URL) the numbers and the log live there, shared by the server and every worker: one
Lua call numbers a batch of events and appends it (INCRBY + ZADD + trim), so numbering costs no SQL
query. Without Redis (the embedded default, one process) they live in this process's memory.

The log is also how events reach the live pages: each server process's live hub reads it
(searches/live_hub.py), so a writer's whole cost of an event is its append.

A log has an incarnation (a random token made when its counter starts): a page that asks with another
incarnation, or for numbers older than the log keeps, is told to reset (reload its summary) instead of
being handed an incomplete list.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import deque
from functools import cache

import redis
import redis.asyncio
from django.conf import settings

#: Events kept per search for catching up; older ones are answered with a reset.
KEEP = 5000
EXPIRE_SECONDS = 7 * 24 * 3600
#: A Redis that went away answers within these (a live socket is then closed with 1013).
TIMEOUTS = {"socket_timeout": 10, "socket_connect_timeout": 5}

#: Numbers and keeps a batch of events in one atomic call: KEYS = seq, log, incarnation; ARGV = a new
#: incarnation token (kept only if the log has none), how many to keep, expiry, then the payloads.
_APPEND = """
local count = #ARGV - 3
local last = redis.call('INCRBY', KEYS[1], count)
redis.call('SETNX', KEYS[3], ARGV[1])
for i = 1, count do
  local seq = last - count + i
  redis.call('ZADD', KEYS[2], seq, seq .. ' ' .. ARGV[i + 3])
end
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return {last, redis.call('GET', KEYS[3])}
"""


class RedisEventLog:
    def __init__(self, url: str, prefix: str):
        self.url = url
        self.client = redis.Redis.from_url(url, **TIMEOUTS)
        self.prefix = prefix
        self._append = self.client.register_script(_APPEND)

    def _keys(self, search_id: int) -> list[str]:
        base = f"{self.prefix}:events:{search_id}"
        return [f"{base}:seq", f"{base}:log", f"{base}:incarnation"]

    def append(self, search_id: int, event: dict) -> tuple[int, str]:
        """Number the event and keep it; (sequence number, incarnation)."""
        return self.append_many(search_id, [event])[0]

    def append_many(self, search_id: int, events: list[dict]) -> list[tuple[int, str]]:
        """Number and keep several events in one atomic call: a reader sees all of them or none."""
        if not events:
            return []
        last, incarnation = self._append(keys=self._keys(search_id), args=[
            uuid.uuid4().hex, KEEP, EXPIRE_SECONDS, *(json.dumps(event) for event in events)])
        first, incarnation = int(last) - len(events) + 1, incarnation.decode()
        return [(first + i, incarnation) for i in range(len(events))]

    def position(self, search_id: int) -> tuple[str, int]:
        """(incarnation, last number): where a page that reads the rows now starts listening."""
        incarnation, last = self.client.mget(self._keys(search_id)[2], self._keys(search_id)[0])
        return (incarnation or b"").decode(), int(last or 0)

    def since(self, search_id: int, after: int) -> tuple[str, int, list[dict] | None]:
        """(incarnation, last number, events numbered above `after` or None when the log lacks some)."""
        return _answer(after, *self._since_pipeline(self.client.pipeline(), search_id, after).execute())

    def _since_pipeline(self, pipe, search_id: int, after: int):
        seq_key, log_key, inc_key = self._keys(search_id)
        pipe.get(inc_key)
        pipe.get(seq_key)
        pipe.zrange(log_key, 0, 0, withscores=True)
        pipe.zrangebyscore(log_key, f"({after}", "+inf")
        return pipe

    def async_reader(self) -> AsyncRedisReader:
        """A reader for one event loop (the live hub's, searches/live_hub.py), on its own connections."""
        return AsyncRedisReader(self)


class AsyncRedisReader:
    """RedisEventLog.since for asyncio, on a redis.asyncio client (bound to the loop that first uses it)."""

    def __init__(self, log: RedisEventLog):
        self.log = log
        self.client = redis.asyncio.Redis.from_url(log.url, **TIMEOUTS)

    async def since(self, search_id: int, after: int) -> tuple[str, int, list[dict] | None]:
        pipe = self.log._since_pipeline(self.client.pipeline(), search_id, after)
        return _answer(after, *await pipe.execute())

    async def position(self, search_id: int) -> tuple[str, int]:
        seq_key, _, inc_key = self.log._keys(search_id)
        incarnation, last = await self.client.mget(inc_key, seq_key)
        return (incarnation or b"").decode(), int(last or 0)

    async def close(self) -> None:
        await self.client.aclose()


def _answer(after: int, incarnation, last, oldest, rows) -> tuple[str, int, list[dict] | None]:
    last = int(last or 0)
    events = [_decode(row) for row in rows]
    oldest_kept = int(oldest[0][1]) if oldest else last + 1
    complete = after >= oldest_kept - 1 and after <= last
    return (incarnation or b"").decode(), last, events if complete else None


class MemoryEventLog:
    """One process's log (the embedded worker and the server share it)."""

    def __init__(self):
        self.incarnation = uuid.uuid4().hex
        self._lock = threading.Lock()
        self._last: dict[int, int] = {}
        self._events: dict[int, deque] = {}

    def append(self, search_id: int, event: dict) -> tuple[int, str]:
        return self.append_many(search_id, [event])[0]

    def append_many(self, search_id: int, events: list[dict]) -> list[tuple[int, str]]:
        """Numbered under one lock: a reader sees all of them or none."""
        with self._lock:
            first = self._last.get(search_id, 0) + 1
            kept = self._events.setdefault(search_id, deque(maxlen=KEEP))
            for seq, event in enumerate(events, start=first):
                kept.append({**event, "seq": seq})
            self._last[search_id] = first + len(events) - 1
        return [(first + i, self.incarnation) for i in range(len(events))]

    def position(self, search_id: int) -> tuple[str, int]:
        with self._lock:
            return self.incarnation, self._last.get(search_id, 0)

    def since(self, search_id: int, after: int) -> tuple[str, int, list[dict] | None]:
        with self._lock:
            last = self._last.get(search_id, 0)
            if after == last:  # the live hub asks every tick: nothing new copies nothing
                return self.incarnation, last, []
            kept = list(self._events.get(search_id, ()))
        oldest_kept = kept[0]["seq"] if kept else last + 1
        if after < oldest_kept - 1 or after > last:
            return self.incarnation, last, None
        return self.incarnation, last, [e for e in kept if e["seq"] > after]

    def async_reader(self) -> MemoryReader:
        return MemoryReader(self)


class MemoryReader:
    """The in-process log read from the live hub's loop: plain calls, no I/O to wait for."""

    def __init__(self, log: MemoryEventLog):
        self.log = log

    async def since(self, search_id: int, after: int) -> tuple[str, int, list[dict] | None]:
        return self.log.since(search_id, after)

    async def position(self, search_id: int) -> tuple[str, int]:
        return self.log.position(search_id)

    async def close(self) -> None:
        pass


def _decode(row: bytes) -> dict:
    seq, _, payload = row.decode().partition(" ")
    return {**json.loads(payload), "seq": int(seq)}


@cache
def event_log() -> RedisEventLog | MemoryEventLog:
    if settings.REDIS_URL:
        prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "nasweb")
        return RedisEventLog(settings.REDIS_URL, prefix)
    return MemoryEventLog()
