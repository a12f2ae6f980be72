"""Do repeated latency measurements of the same model agree (goal: within 5%)?

Measures a few models of every search space twice with separate calls (a full pass over all
models, then a second pass, so the two measurements of a model are far apart in time) and prints
the relative difference of the two. Two figures per model: `latency_ms` (median of the quietest
round, the protocol's figure) and the plain median of all samples, to show what the rounds buy on
a busy machine. Two ways of measuring: one `measure_latency` call per model (rounds spread by
pauses), and one `measure_latencies` call per pass (all models' rounds interleaved, as a worker
measuring a batch of candidates would do).

    .venv/bin/python bench/measurement_repeatability.py [--backends eager onnxruntime] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.costs.measure import BACKENDS, host_specs, measure_latencies, measure_latency  # noqa: E402
from searches.spaces.registry import build_space  # noqa: E402

# Every space builds for a CIFAR-sized image (the MLP flattens it), so all models can be interleaved.
SPACE_KINDS = ("chain_mlp", "macro_cnn", "nb201", "transformer", "hybrid")
INPUT_SHAPE = (3, 32, 32)
GOAL = 0.05


def sample_models(per_space: int, seed: int) -> list[tuple[str, object]]:
    rng = random.Random(seed)
    models = []
    for kind in SPACE_KINDS:
        space = build_space(kind)
        for _ in range(per_space):
            arch = space.sample(rng)
            models.append((f"{kind}: {space.describe(arch)}"[:60], space.to_torch(arch, INPUT_SHAPE, 10)))
    return models


def measure_one_by_one(models, backend: str, args) -> list:
    return [measure_latency(model, INPUT_SHAPE, backend, batch=args.batch, runs=args.runs, warmup=args.warmup,
                            threads=args.threads, rounds=args.rounds, round_gap_s=args.round_gap)
            for _, model in models]


def measure_interleaved(models, backend: str, args) -> list:
    return measure_latencies([model for _, model in models], INPUT_SHAPE, backend, batch=args.batch,
                             runs=args.runs, warmup=args.warmup, threads=args.threads, rounds=args.rounds)


def relative_difference(a: float, b: float) -> float:
    return abs(a - b) / min(a, b)


def report(models, first, second) -> tuple[float, float]:
    print(f"{'model':60s} {'1st ms':>8s} {'2nd ms':>8s} {'diff':>6s} | {'median 1st':>10s} {'2nd':>8s} {'diff':>6s}")
    diffs, plain_diffs = [], []
    for (name, *_), a, b in zip(models, first, second, strict=True):
        diffs.append(relative_difference(a.latency_ms, b.latency_ms))
        plain_diffs.append(relative_difference(a.median_ms, b.median_ms))
        print(f"{name:60s} {a.latency_ms:8.4f} {b.latency_ms:8.4f} {diffs[-1]:6.1%} | "
              f"{a.median_ms:10.4f} {b.median_ms:8.4f} {plain_diffs[-1]:6.1%}")
    within = sum(d <= GOAL for d in diffs)
    print(f"latency_ms (quietest-round median): max diff {max(diffs):.1%}, mean {sum(diffs) / len(diffs):.1%}, "
          f"{within}/{len(diffs)} within {GOAL:.0%}")
    print(f"plain median of all samples:        max diff {max(plain_diffs):.1%}, "
          f"mean {sum(plain_diffs) / len(plain_diffs):.1%}")
    return max(diffs), max(plain_diffs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["eager"], choices=BACKENDS)
    parser.add_argument("--per-space", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--round-gap", type=float, default=0.1,
                        help="seconds between the rounds of one measure_latency call")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    host = host_specs()
    print(f"host: {host['cpu_model']}, {host['cpu_usable_cores']} usable cores, torch {host['torch_version']}, "
          f"onnxruntime {host['onnxruntime_version']}; load average before: {os.getloadavg()}")
    print(f"protocol: threads={args.threads} batch={args.batch} runs={args.runs} rounds={args.rounds} "
          f"warmup={args.warmup} round gap (one model at a time) {args.round_gap} s")
    models = sample_models(args.per_space, args.seed)
    for backend in args.backends:
        for label, measure in [("one measure_latency call per model", measure_one_by_one),
                               ("interleaved, one measure_latencies call per pass", measure_interleaved)]:
            started = time.perf_counter()
            first = measure(models, backend, args)
            second = measure(models, backend, args)
            print(f"\n== backend {backend}, {label} ({time.perf_counter() - started:.0f} s, "
                  f"load average now {os.getloadavg()[0]:.1f})")
            report(models, first, second)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
