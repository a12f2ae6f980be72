"""Restart a private Redis mid-search: the workers reconnect, the search completes, nothing is lost or duplicated.

    python bench/faults/restart_redis.py [--trials 16] [--epochs 12] [--down 12] [--restarts 2] [--appendonly]

Starts a private Redis and a private PostgreSQL cluster (own ports and folders, never the shared ones),
a prefork worker with 2 children and Celery beat, runs a chain-MLP search on digits and stops redis
for --down seconds, --restarts times, while trials train.
Without --appendonly Redis keeps nothing: the queued messages are gone, and the recovery sweep
sends them again.
Exit status 1 unless the whole budget completes with nothing lost or duplicated.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.faults.harness import restart_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(restart_main("redis"))
