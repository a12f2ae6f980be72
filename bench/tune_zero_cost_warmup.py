"""Tuning grid for the zero-cost warm-up of the model-based strategies on NAS-Bench-201 CIFAR-10.

Seeds 1000-1029 (the reported figures, bench/strategies_nb201.py, use seeds 0-29): each setting runs
50 queries per seed, searching on valid_acc; printed: the mean test accuracy of the best-validation
cell at 50 queries (and at 25, 100 when asked). The defaults of the `zero_cost` preset in
bench/strategies_nb201.py come from here. Grids: `warmup` (the initial samples from the top of a
prior-ranked pool, the prior as a surrogate input), `keep` (the search restricted to the top
fraction by prior).

    .venv/bin/python bench/tune_zero_cost_warmup.py --grid warmup --strategies bananas
    .venv/bin/python bench/tune_zero_cost_warmup.py --grid keep [--seeds 30] [--first-seed 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from searches.benchmarks.nb201 import Nb201Table, run_search  # noqa: E402

GRIDS = {
    "warmup": {"bananas": {"zero_cost_pool": [0, 100, 1000], "zero_cost_feature": [False, True],
                           "initial_samples": [5, 10]}},
    "keep": {"bananas": {"zero_cost_keep": [1.0, 0.3, 0.2, 0.15, 0.1]},
             "gp_bo": {"zero_cost_keep": [1.0, 0.3, 0.2, 0.15, 0.1]}},
}
_table: Nb201Table | None = None


def _keep(table):
    global _table
    _table = table


def _one(name, settings, seed, queries):
    return run_search(name, queries, seed, _table, settings)["best_test_by_query"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--grid", default="keep", choices=list(GRIDS))
    parser.add_argument("--strategies", nargs="+", default=["bananas", "gp_bo"])
    args = parser.parse_args()
    table = Nb201Table.load()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    print(f"NAS-Bench-201 CIFAR-10, seeds {seeds.start}-{seeds.stop - 1}, {args.queries} queries; test accuracy "
          f"of the best-validation cell, mean +- standard error; load {os.getloadavg()[0]:.1f}")
    with ProcessPoolExecutor(args.workers, initializer=_keep, initargs=(table,)) as pool:
        for name in [name for name in args.strategies if name in GRIDS[args.grid]]:
            grid = GRIDS[args.grid][name]
            for values in itertools.product(*grid.values()):
                settings = dict(zip(grid, values, strict=True))
                started = time.perf_counter()
                curves = list(pool.map(_one, [name] * len(seeds), [settings] * len(seeds), seeds,
                                       [args.queries] * len(seeds)))
                finals = [curve[-1] for curve in curves]
                error = statistics.stdev(finals) / len(finals) ** 0.5
                print(f"{name:<8} {settings}  {statistics.fmean(finals):.2f} +- {error:.2f}  "
                      f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
