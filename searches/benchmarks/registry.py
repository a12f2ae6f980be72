"""key -> tabular benchmark: what a benchmark dataset is, and the evaluator that answers its trials.

A benchmark dataset answers a trial by looking its architecture up instead of training it,
so it fixes the space kind, and the input shape and classes its cost models see.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ..checks import SpecError
from ..spaces.nb201 import NB201Space
from .nb201 import BenchmarkEvaluator, Nb201Table


@dataclass(frozen=True)
class Benchmark:
    key: str
    label: str
    space_kind: str
    input_shape: tuple[int, ...]
    num_classes: int
    #: () -> the table of results (read from disk: call through benchmark_evaluator, which caches).
    load_table: Callable[[], Nb201Table]


BENCHMARKS: dict[str, Benchmark] = {
    "nb201_cifar10": Benchmark("nb201_cifar10", "NAS-Bench-201 CIFAR-10 (table lookup, no training)",
                               NB201Space.kind, (3, 32, 32), 10, Nb201Table.load),
}


def get_benchmark(key: str) -> Benchmark:
    if key not in BENCHMARKS:
        raise SpecError("benchmark", f"unknown benchmark {key!r}; choose one of {sorted(BENCHMARKS)}")
    return BENCHMARKS[key]


@functools.lru_cache(maxsize=4)
def benchmark_evaluator(key: str) -> BenchmarkEvaluator:
    """The evaluator over this benchmark's table, read once per process."""
    return BenchmarkEvaluator(get_benchmark(key).load_table())
