"""SIGKILL the worker that trains a one-shot search's supernet, several times during the search.

    python bench/faults/kill_oneshot.py [--kills 6] [--epochs 40]

Starts a private Redis and a private PostgreSQL cluster, a prefork worker with 2 children and Celery
beat; runs a random one-shot search (chain MLP on digits) and, each time the supernet has recorded one
more epoch, kills the pool child training it (even kills) or the worker's main process (odd kills,
started again at once as a supervisor would). Prints the time from each kill until the supernet is
claimed again (it resumes from its last epoch's checkpoint) and checks that the search completes with
every epoch recorded exactly once. Exit status 1 if not.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.faults.harness import oneshot_kill_scenario, workdir  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    folder = workdir("kill-oneshot")
    result, seconds, wall = oneshot_kill_scenario(args.kills, args.epochs, folder=folder)
    if seconds:
        ordered = sorted(seconds)
        print(f"kill to training again: median {ordered[len(ordered) // 2]:.1f} s, min {ordered[0]:.1f} s, "
              f"max {ordered[-1]:.1f} s over {len(seconds)} kills")
    for line in result.lines():
        print(line)
    print(f"search wall time {wall:.0f} s; load average {os.getloadavg()}; logs in {folder}")
    return 0 if result.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
