"""The several-hosts set-up of the README, on one machine: PostgreSQL, Redis and beat here, the only
Celery worker in a second network namespace (ip netns + a veth pair), joined by the addresses in its
environment (DATABASE_URL, REDIS_URL). It completes the search's trials."""

import os
import subprocess

import pytest
from django.db import connection

from bench.faults.harness import second_host_scenario
from tests.processes import postgres_url


def netns_unavailable() -> str:
    if os.geteuid() != 0:
        return "ip netns needs root"
    probe = subprocess.run(["ip", "netns", "add", f"nasweb-probe-{os.getpid()}"], capture_output=True, text=True)
    if probe.returncode:
        return f"`ip netns add` does not work here: {probe.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", f"nasweb-probe-{os.getpid()}"], capture_output=True)
    return ""


pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(netns_unavailable()), reason=netns_unavailable())]


def test_a_worker_on_a_second_host_completes_the_trials(tmp_path):
    result, workers, reach = second_host_scenario(trials=3, epochs=3, folder=tmp_path,
                                                  database_url=postgres_url(connection.settings_dict["NAME"]),
                                                  redis_url=os.environ["REDIS_URL"])
    assert result.ok(), "\n".join(result.lines())
    assert workers and all(w.startswith("second-host-") for w in workers), workers
    # it really is another host: this machine's 127.0.0.1 is not its own
    assert reach == {"database at host address": True, "database at 127.0.0.1": False}
