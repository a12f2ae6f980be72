"""The channel layer: channels-redis's core layer with Redis, the in-process one without. (It carries
the consumers' channels; events reach the sockets through searches/live_hub.py, so the pubsub layer
that bench/push_latency.py once compared is no longer offered.) Each case starts a fresh `manage.py`,
since settings are read from the environment at start-up."""

import subprocess
import sys

from tests.processes import ROOT, child_env

SHOW = "from django.conf import settings as s; print(s.CHANNEL_LAYERS['default']['BACKEND'])"


def backend(**env) -> str:
    out = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", SHOW], cwd=ROOT,
                         env=child_env(**env), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_redis_gets_the_core_layer_and_no_redis_the_in_process_one():  # child_env drops REDIS_URL
    assert backend(REDIS_URL="redis://127.0.0.1:6379/0") == "channels_redis.core.RedisChannelLayer"
    assert backend() == "channels.layers.InMemoryChannelLayer"
