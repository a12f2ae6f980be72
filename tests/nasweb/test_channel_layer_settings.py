"""NASWEB_CHANNEL_LAYER picks the Redis channel layer (bench/push_latency.py compares them); the core
layer stays the default, and a misspelt name stops the start instead of silently falling back.
Each case starts a fresh `manage.py`, since settings are read from the environment at start-up."""

import subprocess
import sys

from tests.processes import ROOT, child_env

SHOW = "from django.conf import settings as s; print(s.CHANNEL_LAYERS['default']['BACKEND'])"


def backend(**env) -> subprocess.CompletedProcess:
    environment = child_env(REDIS_URL="redis://127.0.0.1:6379/0", **env)
    if "NASWEB_CHANNEL_LAYER" not in env:
        environment.pop("NASWEB_CHANNEL_LAYER", None)
    return subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", SHOW], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_the_core_layer_is_the_default_and_pubsub_is_chosen_by_name():
    assert backend().stdout.strip() == "channels_redis.core.RedisChannelLayer"
    assert backend(NASWEB_CHANNEL_LAYER="pubsub").stdout.strip() == "channels_redis.pubsub.RedisPubSubChannelLayer"


def test_an_unknown_channel_layer_is_refused():
    out = backend(NASWEB_CHANNEL_LAYER="kafka")
    assert out.returncode != 0 and "NASWEB_CHANNEL_LAYER must be core or pubsub, not 'kafka'" in out.stderr
