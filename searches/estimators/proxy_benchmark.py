"""How well each zero-cost proxy ranks NAS-Bench-201 cells: Spearman's rho between the
proxy scores of untrained networks and the table's CIFAR-10 test accuracy.

Abdelfattah et al. report rho = 0.737 for synflow over all 15,625 cells; a
random sample of a few hundred cells gives a close estimate in minutes.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from ..benchmarks.nb201 import Nb201Row, Nb201Table
from ..spaces.nb201 import NB201Space
from ..spaces.nb201_cell import string_to_arch
from .zero_cost import PROXIES, ProxyError, compute_proxy, random_batch

CIFAR_INPUT = (3, 32, 32)
CIFAR_CLASSES = 10


@dataclass
class ProxyCorrelation:
    proxy: str
    rho: float | None = None
    cells: int = 0
    seconds: float = 0.0
    not_applicable: str = ""  # why the proxy cannot score these networks


def sample_cells(table: Nb201Table, samples: int, seed: int) -> list[Nb201Row]:
    if not 2 <= samples <= len(table):
        raise ValueError(f"samples must be from 2 to {len(table)}, got {samples}")
    return random.Random(seed).sample(table.rows, samples)


def proxy_correlations(rows: list[Nb201Row], proxies: list[str], space: NB201Space,
                       batch: int = 64, seed: int = 0) -> list[ProxyCorrelation]:
    """Score every cell with every proxy (each network built once, with the same seed) on one
    seeded random CIFAR-shaped minibatch; return each proxy's rho with test accuracy."""
    import torch

    unknown = [p for p in proxies if p not in PROXIES]
    if unknown:
        raise ProxyError(f"unknown proxy {unknown[0]!r}; choose from {sorted(PROXIES)}")
    x, y = random_batch(CIFAR_INPUT, CIFAR_CLASSES, batch, seed)
    results = {name: ProxyCorrelation(name) for name in proxies}
    scores: dict[str, list[float]] = {name: [] for name in proxies}
    for row in rows:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = space.to_torch(string_to_arch(row.arch), CIFAR_INPUT, CIFAR_CLASSES)
        for name, result in results.items():
            if result.not_applicable:
                continue
            started = time.perf_counter()
            try:
                score = compute_proxy(name, model, x, y, seed=seed)
            except ProxyError as exc:
                result.not_applicable = str(exc)
                continue
            result.seconds += time.perf_counter() - started
            scores[name].append(score if not math.isnan(score) else -math.inf)
    accuracies = [row.test_acc for row in rows]
    for name, result in results.items():
        if not result.not_applicable:
            result.cells = len(scores[name])
            result.rho = spearman(scores[name], accuracies)
    return list(results.values())


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)
