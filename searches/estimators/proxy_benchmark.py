"""How well each zero-cost proxy ranks NAS-Bench-201 cells: Spearman's rho between the
proxy scores of untrained networks and the table's CIFAR-10 test accuracy.

Abdelfattah et al. report rho over all 15,625 cells (synflow 0.737, jacob_cov 0.731, snip
0.596, grad_norm 0.594, grasp 0.514, fisher 0.360) with the benchmark's own network (C=16,
N=5) on one CIFAR-10 minibatch of 64; a random sample of a few hundred cells gives an
estimate within a few hundredths. Each cell's network is built once and every proxy is read
from it (compute_proxies: the data-dependent ones share one forward).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

from ..benchmarks.nb201 import Nb201Row, Nb201Table
from ..spaces.nb201 import NB201Space
from ..spaces.nb201_cell import string_to_arch
from .proxy_batch import proxy_batch
from .zero_cost import ProxyError, check_proxy_names, compute_proxies

CIFAR_INPUT = (3, 32, 32)
CIFAR_CLASSES = 10
#: |Spearman rho| with CIFAR-10 test accuracy over all 15,625 cells, Abdelfattah et al. (ICLR 2021),
#: Table 1; naswot: Mellor et al. (ICML 2021), Figure 1 / Table 2 (about 0.80 on CIFAR-10).
PUBLISHED_RHO = {"synflow": 0.737, "jacob_cov": 0.731, "snip": 0.596, "grad_norm": 0.594,
                 "grasp": 0.514, "fisher": 0.360, "naswot": 0.80}


@dataclass
class ProxyCorrelation:
    proxy: str
    rho: float | None = None
    cells: int = 0
    not_applicable: str = ""  # why the proxy cannot score these networks
    scores: list[float] = field(default_factory=list, repr=False)


@dataclass
class ProxyCheck:
    correlations: list[ProxyCorrelation]
    seconds: float  # scoring time, all proxies and cells together (network builds included)
    build_seconds: float
    cpu_seconds: float = 0.0  # CPU time of this process and its workers while scoring: what load does not inflate


def sample_cells(table: Nb201Table, samples: int, seed: int) -> list[Nb201Row]:
    if not 2 <= samples <= len(table):
        raise ValueError(f"samples must be from 2 to {len(table)}, got {samples}")
    return random.Random(seed).sample(table.rows, samples)


def proxy_correlations(rows: list[Nb201Row], proxies: list[str], space: NB201Space, batch: int = 64,
                       seed: int = 0, batch_data=None, workers: int = 1) -> ProxyCheck:
    """Score every cell with every proxy (each network built once, with the same seed) on one
    minibatch, and return each proxy's rho with test accuracy. batch_data: (x, y); by default
    the seeded photo-crop batch of proxy_batch (content labels). workers > 1 scores the cells in
    that many processes of one torch thread each (the same scores: each cell is seeded alone)."""
    check_proxy_names(proxies)
    x, y = batch_data if batch_data is not None else proxy_batch(batch, seed)
    results = {name: ProxyCorrelation(name) for name in proxies}
    started, cpu_started = time.perf_counter(), cpu_time()
    build_seconds = 0.0
    for scores, built in scored_cells([row.arch for row in rows], proxies, space, x, y, seed, workers):
        build_seconds += built
        for name, score in scores.items():
            if isinstance(score, ProxyError):
                results[name].not_applicable = results[name].not_applicable or str(score)
            elif not results[name].not_applicable:
                results[name].scores.append(score if not math.isnan(score) else -math.inf)
    accuracies = [row.test_acc for row in rows]
    for result in results.values():
        if not result.not_applicable:
            result.cells = len(result.scores)
            result.rho = spearman(result.scores, accuracies)
    return ProxyCheck(list(results.values()), time.perf_counter() - started, build_seconds,
                      cpu_time() - cpu_started)


def cpu_time() -> float:
    """User and system seconds of this process and of its finished child processes (the workers,
    once the pool has joined them)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def scored_cells(archs: list[str], proxies: list[str], space: NB201Space, x, y, seed: int, workers: int):
    """(scores, build seconds) of each cell in order; in `workers` spawned processes when above 1
    (spawn, not fork: a forked copy of torch's thread pool can hang)."""
    if workers <= 1:
        keep_freed_memory()
        skipped: set[str] = set()
        for arch in archs:
            scores, built = score_cell(arch, [p for p in proxies if p not in skipped], space.spec, x, y, seed)
            skipped.update(name for name, score in scores.items() if isinstance(score, ProxyError))
            yield scores, built
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_one_thread) as pool:
        yield from pool.map(score_cell, archs, [proxies] * len(archs), [space.spec] * len(archs),
                            [x] * len(archs), [y] * len(archs), [seed] * len(archs))


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)
    keep_freed_memory()


#: glibc mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's ceiling on 64-bit


def keep_freed_memory() -> None:
    """Let glibc reuse freed activation buffers instead of unmapping them. A cell allocates and
    frees the same few-MB tensors hundreds of times (forward, backward, double backward); by
    default each one above the mmap threshold is mapped afresh and page-faulted in, which took
    about a seventh of the check's CPU time as system time (3.3 million page faults on 40 cells).
    Elsewhere than glibc this does nothing."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD_MAX)
    except (OSError, AttributeError):
        pass


def score_cell(arch: str, proxies: list[str], spec: dict, x, y, seed: int) -> tuple[dict, float]:
    """Every proxy of one cell's network, built once with `seed`; and the build's seconds."""
    import torch

    built = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = NB201Space(spec).to_torch(string_to_arch(arch), CIFAR_INPUT, CIFAR_CLASSES)
    built = time.perf_counter() - built
    return compute_proxies(proxies, model, x, y, seed=seed), built


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)
