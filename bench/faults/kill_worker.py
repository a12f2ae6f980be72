"""SIGKILL the Celery worker's pool child and main process, many times during one search.

    python bench/faults/kill_worker.py [--kills 20] [--trials 40] [--epochs 12]

Starts a private Redis (own port), a private PostgreSQL cluster (initdb in a temporary folder, own
port), a prefork worker with 2 children and Celery beat; runs a chain-MLP search on digits and kills a
pool child (even kills) or the main process (odd kills, started again at once as a supervisor would)
while it trains. Prints the time from each kill to the interrupted trial running again, and checks that
the search completes its whole budget with nothing lost and nothing duplicated. Exit status 1 if not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.faults.harness import kill_scenario, median_text, workdir  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    folder = workdir("kill")
    result, seconds, wall = kill_scenario(args.kills, args.trials, args.epochs, folder=folder)
    print(f"kill to running again: {median_text(seconds)} (goal: median under 30 s)")
    for line in result.lines():
        print(line)
    print(f"search wall time {wall:.0f} s; logs in {folder}")
    return 0 if result.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
