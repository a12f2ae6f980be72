"""The cache backend: Django's Redis cache, except that clearing it deletes only its own keys.

Django's RedisCache.clear() is FLUSHDB. Our cache shares its Redis database with the Celery broker's
queues, the channel layer and the searches' event logs (searches/event_log.py), so one clear (a test
resetting its API throttles, an operator tidying the cache) emptied the queues, losing queued trials
until the sweep re-sent them, and wiped the live logs under open pages. It happened in the suite: one
test process's clear stalled the other's Celery search and restarted its event log mid-test.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache

#: Keys deleted per UNLINK while clearing.
CLEAR_BATCH = 1000


def glob_escape(text: str) -> str:
    """`text` matched literally in a Redis key pattern."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class PrefixedRedisCache(RedisCache):
    def clear(self) -> bool:
        """Delete this cache's keys (every version), nothing else in the database."""
        client = self._cache.get_client(write=True)
        # Keys are "prefix:version:key" (django's default key function) and versions are integers,
        # so "prefix:<digit>" is ours even where another user of the database shares the prefix
        # (the event logs' keys are "prefix:events:...").
        pattern = f"{glob_escape(self.key_prefix)}:[0-9]*"
        batch = []
        for key in client.scan_iter(match=pattern, count=CLEAR_BATCH):
            batch.append(key)
            if len(batch) >= CLEAR_BATCH:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
        return True
