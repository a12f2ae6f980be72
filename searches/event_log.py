"""Each search's numbered event stream: sequence numbers 1, 2, 3 ... and the recent events kept for
pages that reconnect and ask for what came after their last number.

With Redis (REDIS_URL) the numbers and the log live there, shared by the server and every worker: one
Lua call numbers an event and appends it (INCR + ZADD + trim), so numbering costs no SQL query. Without
Redis (the embedded default, one process) they live in this process's memory.

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
from django.conf import settings

#: Events kept per search for catching up; older ones are answered with a reset.
KEEP = 5000
EXPIRE_SECONDS = 7 * 24 * 3600

_APPEND = """
local seq = redis.call('INCR', KEYS[1])
redis.call('SETNX', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[2], seq, seq .. ' ' .. ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[4]) end
return {seq, redis.call('GET', KEYS[3])}
"""


class RedisEventLog:
    def __init__(self, url: str, prefix: str):
        self.client = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.prefix = prefix
        self._append = self.client.register_script(_APPEND)

    def _keys(self, search_id: int) -> list[str]:
        base = f"{self.prefix}:events:{search_id}"
        return [f"{base}:seq", f"{base}:log", f"{base}:incarnation"]

    def append(self, search_id: int, event: dict) -> tuple[int, str]:
        """Number the event and keep it; (sequence number, incarnation)."""
        seq, incarnation = self._append(keys=self._keys(search_id),
                                        args=[json.dumps(event), uuid.uuid4().hex, KEEP, EXPIRE_SECONDS])
        return int(seq), incarnation.decode()

    def append_many(self, search_id: int, events: list[dict]) -> list[tuple[int, str]]:
        """Number and keep several events in one round trip (a pipeline of the same script)."""
        pipe = self.client.pipeline(transaction=False)
        for event in events:
            self._append(keys=self._keys(search_id), client=pipe,
                         args=[json.dumps(event), uuid.uuid4().hex, KEEP, EXPIRE_SECONDS])
        return [(int(seq), incarnation.decode()) for seq, incarnation in pipe.execute()]

    def position(self, search_id: int) -> tuple[str, int]:
        """(incarnation, last number): where a page that reads the rows now starts listening."""
        incarnation, last = self.client.mget(self._keys(search_id)[2], self._keys(search_id)[0])
        return (incarnation or b"").decode(), int(last or 0)

    def since(self, search_id: int, after: int) -> tuple[str, int, list[dict] | None]:
        """(incarnation, last number, events numbered above `after` or None when the log lacks some)."""
        seq_key, log_key, inc_key = self._keys(search_id)
        pipe = self.client.pipeline()
        pipe.get(inc_key)
        pipe.get(seq_key)
        pipe.zrange(log_key, 0, 0, withscores=True)
        pipe.zrangebyscore(log_key, f"({after}", "+inf")
        incarnation, last, oldest, rows = pipe.execute()
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
        with self._lock:
            seq = self._last.get(search_id, 0) + 1
            self._last[search_id] = seq
            self._events.setdefault(search_id, deque(maxlen=KEEP)).append({**event, "seq": seq})
        return seq, self.incarnation

    def append_many(self, search_id: int, events: list[dict]) -> list[tuple[int, str]]:
        return [self.append(search_id, event) for event in events]

    def position(self, search_id: int) -> tuple[str, int]:
        with self._lock:
            return self.incarnation, self._last.get(search_id, 0)

    def since(self, search_id: int, after: int) -> tuple[str, int, list[dict] | None]:
        with self._lock:
            last = self._last.get(search_id, 0)
            kept = list(self._events.get(search_id, ()))
        oldest_kept = kept[0]["seq"] if kept else last + 1
        if after < oldest_kept - 1 or after > last:
            return self.incarnation, last, None
        return self.incarnation, last, [e for e in kept if e["seq"] > after]


def _decode(row: bytes) -> dict:
    seq, _, payload = row.decode().partition(" ")
    return {**json.loads(payload), "seq": int(seq)}


@cache
def event_log() -> RedisEventLog | MemoryEventLog:
    if settings.REDIS_URL:
        prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "nasweb")
        return RedisEventLog(settings.REDIS_URL, prefix)
    return MemoryEventLog()
