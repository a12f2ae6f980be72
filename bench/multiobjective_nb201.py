"""Multi-objective search on NAS-Bench-201: validation accuracy against latency on each HW-NAS-Bench
device (and against parameters), scored by hypervolume regret, ours against Optuna's samplers.

Hypervolume regret = 1 - HV(evaluated points) / HV(all 15,625 cells), reference point the table's
worst accuracy and worst cost (searches/benchmarks/multiobjective.py). Every search makes `queries`
proposals; Optuna's samplers count a repeated architecture as a query, as a real search would train
it again. Lower is better; 0 is the whole Pareto front found.

Strategies: our NSGA-II (nsga2), our multi-objective TPE (motpe), random search, and Optuna's
NSGAIISampler and its multi-objective TPESampler, each with its default settings and the same seeds.

    pip install -r bench/requirements.txt    # optuna
    .venv/bin/python bench/multiobjective_nb201.py [--seeds 30] [--queries 100] [--costs raspi4 ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from searches.benchmarks.multiobjective import (  # noqa: E402
    COSTS,
    cost_of,
    hypervolume_regret,
    run_multiobjective_search,
)
from searches.benchmarks.nb201 import Nb201Table  # noqa: E402
from searches.spaces.nb201_cell import EDGE_NAMES, OPS, arch_to_string  # noqa: E402

OURS = ("nsga2", "motpe", "random")
OPTUNA = ("optuna_nsga2", "optuna_motpe")


def optuna_points(sampler_name: str, queries: int, seed: int, table: Nb201Table, cost: str) -> np.ndarray:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = (optuna.samplers.NSGAIISampler(seed=seed) if sampler_name == "optuna_nsga2"
               else optuna.samplers.TPESampler(seed=seed))
    points = []

    def objective(trial):
        arch = arch_to_string({name: trial.suggest_categorical(name, list(OPS)) for name in EDGE_NAMES})
        point = (table.lookup(arch).valid_acc, cost_of(arch, cost, table))
        points.append(point)
        return point

    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=queries)
    return np.array(points)


def regrets(name: str, cost: str, seeds: list[int], queries: int, table: Nb201Table,
            settings: dict | None = None) -> list[float]:
    out = []
    for seed in seeds:
        if name in OPTUNA:
            points = optuna_points(name, queries, seed, table, cost)
        else:
            points = run_multiobjective_search(name, queries, seed, table, cost, settings)
        out.append(hypervolume_regret(points, table, cost))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--costs", nargs="+", default=list(COSTS), choices=COSTS)
    parser.add_argument("--strategies", nargs="+", default=list(OURS + OPTUNA), choices=OURS + OPTUNA)
    args = parser.parse_args()
    table = Nb201Table.load()
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"hypervolume regret (%), mean ± standard error over seeds {seeds[0]}-{seeds[-1]}, "
          f"{args.queries} queries; lower is better")
    print(f"{'cost':<9}" + "".join(f"{name:>18}" for name in args.strategies) + "   best ours vs best Optuna")
    missed = False
    for cost in args.costs:
        cells, means, seconds = [], {}, {}
        for name in args.strategies:
            started = time.perf_counter()
            values = [100 * v for v in regrets(name, cost, seeds, args.queries, table)]
            seconds[name] = time.perf_counter() - started
            means[name] = statistics.mean(values)
            error = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
            cells.append(f"{means[name]:.2f} ± {error:.2f}")
        ours = min((means[n], n) for n in args.strategies if n in OURS)
        theirs = min(((means[n], n) for n in args.strategies if n in OPTUNA), default=None)
        verdict = ""
        if theirs is not None:
            wins = all(ours[0] < means[n] for n in args.strategies if n in OPTUNA)
            missed |= not wins
            verdict = f"{ours[1]} {ours[0]:.2f} vs {theirs[1]} {theirs[0]:.2f}: {'below both' if wins else 'MISSED'}"
        print(f"{cost:<9}" + "".join(f"{cell:>18}" for cell in cells) + f"   {verdict}", flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
