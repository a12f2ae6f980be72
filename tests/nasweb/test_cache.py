"""nasweb/cache.py: clearing the cache deletes its keys and nothing else that shares its Redis database."""

import uuid

import pytest
import redis
from django.conf import settings

from nasweb.cache import PrefixedRedisCache, glob_escape
from searches.event_log import RedisEventLog

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (make test sets REDIS_URL)")


def a_cache(prefix: str) -> PrefixedRedisCache:
    return PrefixedRedisCache(settings.REDIS_URL, {"KEY_PREFIX": prefix})


def test_clear_deletes_every_version_of_its_keys_and_keeps_the_queues_and_event_logs_beside_them():
    prefix = f"cache-test-{uuid.uuid4().hex[:8]}"
    cache = a_cache(prefix)
    neighbour = a_cache(f"{prefix}-other")  # another cache whose prefix starts with ours
    client = redis.Redis.from_url(settings.REDIS_URL)
    queue = f"{prefix}.trials"  # where a Celery queue of this prefix keeps its messages
    client.rpush(queue, "a queued trial")
    events = RedisEventLog(settings.REDIS_URL, prefix)  # its keys are "<prefix>:events:..."
    events.append(7, {"type": "search"})
    for n in range(2500):  # more than one batch of deletions
        cache.set(f"k{n}", n)
    cache.set("old", 1, version=3)
    neighbour.set("k0", "theirs")
    try:
        assert cache.clear() is True
        assert cache.get("k0") is None and cache.get("k2499") is None and cache.get("old", version=3) is None
        assert not list(client.scan_iter(match=f"{prefix}:[0-9]*"))
        assert neighbour.get("k0") == "theirs"
        assert client.lrange(queue, 0, -1) == [b"a queued trial"]
        assert events.position(7)[1] == 1 and events.since(7, 0)[2] == [{"type": "search", "seq": 1}]
    finally:
        neighbour.clear()
        client.delete(queue, *events._keys(7))


def test_a_prefix_with_pattern_characters_is_matched_literally():
    assert glob_escape("a*b?[c]\\d") == "a\\*b\\?\\[c\\]\\\\d"
    cache, other = a_cache(f"x*{uuid.uuid4().hex[:8]}"), a_cache(f"xy{uuid.uuid4().hex[:8]}")
    other.set("k", "kept")
    cache.set("k", "gone")
    cache.clear()
    assert cache.get("k") is None and other.get("k") == "kept"
    other.clear()


def test_the_projects_cache_clear_keeps_the_rest_of_the_database():
    from django.core.cache import caches
    cache = caches["default"]
    assert isinstance(cache, PrefixedRedisCache)
    client = redis.Redis.from_url(settings.REDIS_URL)
    foreign = f"not-the-cache-{uuid.uuid4().hex}"
    client.set(foreign, "kept")
    cache.set("throttle", 3)
    try:
        cache.clear()  # what the API tests do between tests, beside the other test process's queues
        assert cache.get("throttle") is None and client.get(foreign) == b"kept"
    finally:
        client.delete(foreign)
