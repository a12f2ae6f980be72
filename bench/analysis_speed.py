"""How long the search page's analysis takes to refit (searches/analysis.py), by number of completed trials.

    python bench/analysis_speed.py [--sizes 100,1000,3000] [--seed 0]

NAS-Bench-201 cells sampled at random, each valued by the shipped table's validation accuracy: the
permutation importance on a 100-tree random forest (5 shuffles per decision), the per-(decision, op) average
effects and the op slopes, as analysis.json computes them once per completed trial (MAX_TRIALS caps the
trials at 3,000). Prints seconds per step and the machine load before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from searches.analysis import decision_effects, decision_importance, op_effects  # noqa: E402
from searches.benchmarks.nb201 import Nb201Table  # noqa: E402
from searches.spaces.registry import build_space  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,3000")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load before: {os.getloadavg()}")
    space, table, rng = build_space("nb201", None), Nb201Table.load(), random.Random(args.seed)
    decision_importance(space, [space.sample(rng) for _ in range(20)], [rng.random() for _ in range(20)])  # imports
    for size in (int(s) for s in args.sizes.split(",")):
        archs = [space.sample(rng) for _ in range(size)]
        values = [table.lookup(a).valid_acc / 100 for a in archs]
        timings = {}
        for name, step in (("importance", decision_importance), ("effects", decision_effects),
                           ("op slopes", op_effects)):
            start = time.perf_counter()
            step(space, archs, values)
            timings[name] = time.perf_counter() - start
        print(f"{size:>5} trials: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
