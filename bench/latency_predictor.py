"""How well does the layer-table predictor (devices/costs/predictor.py) predict CPU latency?

For each space: sample distinct architectures, build the layer table on this CPU by profiling every
(unit, configuration, input shape) they contain, measure every whole network (interleaved rounds,
measure.py), fit the overhead on the first --train networks and report, on the --test held-out
ones, the share predicted within +-10% of measurement, the mean and worst absolute % error, and the
Spearman correlations of measured latency with FLOPs and with the prediction.

Three overhead models are fitted on the same training networks: nn-Meter's `a + b * layer sum`, one
with a per-container-call term (Python module calls that isolated layer profiles never see), and one
that also charges the megabytes of activations the network writes (fresh memory in a whole network,
reused buffers in an isolated profile).

    .venv/bin/python bench/latency_predictor.py [--spaces chain_mlp macro_cnn nb201] [--train 30] [--test 50]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.costs.analytical import analytical_costs  # noqa: E402
from devices.costs.measure import host_specs, measure_latencies  # noqa: E402
from devices.costs.predictor import LatencyTable  # noqa: E402
from searches.spaces.registry import build_space  # noqa: E402

INPUT_SHAPES = {"chain_mlp": (64,), "macro_cnn": (3, 32, 32), "nb201": (3, 32, 32), "hybrid": (3, 32, 32),
                "transformer": (3, 32, 32)}
OVERHEAD_MODELS = {"a + b*sum": ("layers_ms",),
                   "a + b*sum + c*containers": ("layers_ms", "container_calls"),
                   "... + d*output MB": ("layers_ms", "container_calls", "output_mb")}
BOUND = 0.10


def distinct_architectures(space, count: int, seed: int) -> list[dict]:
    rng, seen, archs = random.Random(seed), set(), []
    for _ in range(100 * count):
        arch = space.sample(rng)
        if space.key(arch) not in seen:
            seen.add(space.key(arch))
            archs.append(arch)
            if len(archs) == count:
                return archs
    raise SystemExit(f"{space.kind}: only {len(archs)} distinct architectures found, {count} asked for")


def held_out_errors(table: LatencyTable, terms: list[dict], measured: list[float], train: int) -> list[float]:
    return [table.predict_from_terms(t) / ms - 1 for t, ms in zip(terms[train:], measured[train:], strict=True)]


def evaluate_space(kind: str, args) -> None:
    space, input_shape = build_space(kind), INPUT_SHAPES[kind]
    archs = distinct_architectures(space, args.train + args.test, args.seed)
    models = [space.to_torch(arch, input_shape, 10) for arch in archs]
    table = LatencyTable(threads=args.threads, batch=args.batch, rounds=args.rounds,
                         runs_per_round=args.runs_per_round)
    started = time.perf_counter()
    added = table.profile_networks(models, input_shape)
    profiled = time.perf_counter() - started
    results = measure_latencies(models, input_shape, batch=args.batch, threads=args.threads,
                                runs=args.rounds * args.runs_per_round, rounds=args.rounds)
    measured = [r.latency_ms for r in results]
    terms = [table.network_terms(m, input_shape, profile_missing=False) for m in models]
    flops = [analytical_costs(m, input_shape, batch=args.batch)["flops"] for m in models]
    print(f"\n== {kind} {input_shape}: {len(archs)} architectures, table of {added} entries profiled in "
          f"{profiled:.0f} s, networks measured in {time.perf_counter() - started - profiled:.0f} s")
    print(f"   measured latency: min {min(measured):.3f} ms, median {statistics.median(measured):.3f} ms, "
          f"max {max(measured):.3f} ms; load average now {os.getloadavg()[0]:.1f}")
    test = slice(args.train, None)
    for name, model_terms in OVERHEAD_MODELS.items():
        coefficients = table.fit_overhead(zip(terms[:args.train], measured[:args.train], strict=True), model_terms)
        errors = held_out_errors(table, terms, measured, args.train)
        within = sum(abs(e) <= BOUND for e in errors)
        rho = spearmanr([table.predict_from_terms(t) for t in terms[test]], measured[test]).statistic
        print(f"   {name:26s} held-out {within}/{len(errors)} = {within / len(errors):.0%} within +-{BOUND:.0%}; "
              f"MAPE {100 * statistics.fmean(abs(e) for e in errors):.1f}%, worst {100 * max(map(abs, errors)):.0f}%; "
              f"Spearman(pred, measured) {rho:.3f}; "
              f"coefficients {', '.join(f'{k}={v:.4g}' for k, v in coefficients.items())}")
    worst = sorted(range(args.train, len(archs)), key=lambda i: -abs(held_out_errors(table, terms, measured, i)[0]))
    for i in worst[:args.show_worst]:
        print(f"   worst: {space.describe(archs[i])[:70]:70s} measured {measured[i]:.3f} ms, "
              f"predicted {table.predict_from_terms(terms[i]):.3f} ms")
    rho_flops = spearmanr(flops[test], measured[test]).statistic
    print(f"   Spearman(measured latency, FLOPs) over the {args.test} held-out architectures: {rho_flops:.3f}")
    if args.save_tables:
        path = Path(args.save_tables) / f"latency_table_{kind}.json"
        path.write_text(table.to_json())
        print(f"   table written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["chain_mlp", "macro_cnn", "nb201"], choices=INPUT_SHAPES)
    parser.add_argument("--train", type=int, default=30)
    parser.add_argument("--test", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--runs-per-round", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-worst", type=int, default=3, help="list this many worst-predicted held-out networks")
    parser.add_argument("--save-tables", metavar="DIR", help="write each space's table as JSON into DIR")
    args = parser.parse_args()
    host = host_specs()
    print(f"host: {host['cpu_model']}, {host['cpu_usable_cores']} usable cores, torch {host['torch_version']}; "
          f"eager backend, threads={args.threads}, batch={args.batch}, rounds={args.rounds} x "
          f"{args.runs_per_round} runs; load average before: {os.getloadavg()}")
    for kind in args.spaces:
        evaluate_space(kind, args)


if __name__ == "__main__":
    main()
