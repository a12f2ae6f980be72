"""Tuning protocol for the multi-objective strategies of bench/multiobjective_nb201.py: a grid over
our multi-objective TPE's settings (and NSGA-II's population), on tuning seeds that the reported
figures (seeds 0-29) do not use. Prints mean hypervolume regret (%) per device and the mean of all.

    .venv/bin/python bench/tune_multiobjective.py [--seeds 10] [--first-seed 1000] [--queries 100]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.costs.hwnasbench import DEVICES  # noqa: E402
from searches.benchmarks.multiobjective import hypervolume_regret, run_multiobjective_search  # noqa: E402
from searches.benchmarks.nb201 import Nb201Table  # noqa: E402

GRID = {
    "motpe": [dict(zip(("startup_trials", "gamma", "candidates"), values, strict=True))
              for values in itertools.product((5, 10, 20), (0.1, 0.2), (24, 96))],
    "nsga2": [{"population_size": size} for size in (10, 20, 40)],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--strategies", nargs="+", default=list(GRID), choices=list(GRID))
    args = parser.parse_args()
    table = Nb201Table.load()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"tuning seeds {seeds[0]}-{seeds[-1]}, {args.queries} queries; mean hypervolume regret (%)")
    print(f"{'strategy':<8}{'settings':<60}" + "".join(f"{d:>9}" for d in DEVICES) + f"{'mean':>9}")
    for name in args.strategies:
        for settings in GRID[name]:
            means = [statistics.mean(100 * hypervolume_regret(
                run_multiobjective_search(name, args.queries, seed, table, device, settings), table, device)
                for seed in seeds) for device in DEVICES]
            print(f"{name:<8}{str(settings):<60}" + "".join(f"{m:>9.2f}" for m in means)
                  + f"{statistics.mean(means):>9.2f}", flush=True)


if __name__ == "__main__":
    main()
