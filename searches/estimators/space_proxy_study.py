"""How well each zero-cost proxy ranks architectures of the transformer and hybrid spaces:
Spearman's rho and Kendall's tau between the proxy scores of the untrained networks and the
validation accuracy the same networks reach after a brief training on a small built-in task.

NAS-Bench-201 has a table of trained accuracies (proxy_benchmark.py); these spaces have none,
so the accuracies are made here: a seeded sample of architectures, each built once with the
seed, scored by every proxy (compute_proxies, which works on copies), then trained from that
same initial state with the project's trainer. The conventions follow the NB201 check: one
minibatch of 64 reused for every architecture, the network and the proxies seeded alike, NaN
scores ranked last. The minibatch comes from the task's own training split with its true
labels (the papers' convention; the NB201 check uses photo crops only because CIFAR-10 is not
shipped).

A correlation is only worth reading when the trained accuracies differ: spread() says whether
they do (a task that no architecture learns in the budget gives one accuracy for all).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from dataclasses import dataclass, field
from functools import cache

from ..spaces.registry import build_space
from ..training.datasets import load_builtin
from ..training.trainer import TrainConfig, train
from .zero_cost import PROXIES, ProxyError, check_proxy_names, compute_proxies

#: (space kind, built-in dataset) of each study task. The transformer reads digits as a
#: sequence of 4x4 patch tokens (the space's image input) and parity as a sequence of bit tokens.
STUDY_TASKS = {
    "hybrid-digits": ("hybrid", "digits"),
    "transformer-digits": ("transformer", "digits"),
    "transformer-parity": ("transformer", "parity"),
}
#: Proxies that only count the network's size: the baselines a learned proxy has to beat.
SIZE_BASELINES = ("params", "flops", "decoder_params")
#: Trained accuracies whose range is below this many points are called flat: no ranking to find.
FLAT_RANGE = 0.02


class StudyError(ValueError):
    """The study cannot run as asked; the message says why."""


@dataclass
class ArchOutcome:
    arch: dict
    val_accuracy: float
    scores: dict  # proxy -> float, or the reason (str) it cannot score this network
    proxy_seconds: float
    train_seconds: float


@dataclass
class ProxyFigure:
    proxy: str
    rho: float | None = None
    tau: float | None = None
    archs: int = 0
    not_applicable: str = ""


@dataclass
class Spread:
    low: float
    median: float
    high: float
    stdev: float
    distinct: int
    chance: float  # accuracy of always answering the validation split's most common class
    chance_margin: float  # two standard errors of that accuracy on the validation split's size

    @property
    def flat(self) -> bool:
        return self.high - self.low < FLAT_RANGE


@dataclass
class SpaceStudy:
    task: str
    epochs: int
    seed: int
    data_fraction: float
    outcomes: list[ArchOutcome]
    figures: list[ProxyFigure]
    spread: Spread
    seconds: float
    workers: int = 1
    notes: list[str] = field(default_factory=list)


def study_task(task: str) -> tuple[str, str]:
    if task not in STUDY_TASKS:
        raise StudyError(f"unknown study task {task!r}; choose one of {sorted(STUDY_TASKS)}")
    return STUDY_TASKS[task]


def sample_archs(space, count: int, seed: int) -> list[dict]:
    """`count` distinct architectures drawn uniformly with a seeded generator."""
    if count < 2:
        raise StudyError(f"a correlation needs at least 2 architectures, got {count}")
    if count > space.size():
        raise StudyError(f"the space has only {space.size()} architectures, asked for {count}")
    rng = random.Random(seed)
    seen, archs = set(), []
    while len(archs) < count:
        arch = space.sample(rng)
        if space.key(arch) not in seen:
            seen.add(space.key(arch))
            archs.append(arch)
    return archs


@cache
def task_data(dataset: str, seed: int, data_fraction: float):
    """The task's splits (the training split cut to the fraction), loaded once per process."""
    return load_builtin(dataset, seed).fraction(data_fraction, seed)


def proxy_minibatch(data, batch: int, seed: int):
    """`batch` seeded samples of the training split with their true labels."""
    import torch

    if not 2 <= batch <= len(data.x_train):
        raise StudyError(f"the proxy batch must be from 2 to {len(data.x_train)} samples, got {batch}")
    index = torch.randperm(len(data.x_train), generator=torch.Generator().manual_seed(seed))[:batch]
    return data.x_train[index], data.y_train[index]


def study_arch(task: str, spec: dict | None, arch: dict, proxies: list[str], epochs: int, batch: int,
               seed: int, data_fraction: float) -> ArchOutcome:
    """Build one network with the seed, score it untrained with every proxy, then train it."""
    import torch

    kind, dataset = study_task(task)
    space = build_space(kind, spec)
    data = task_data(dataset, seed, data_fraction)
    x, y = proxy_minibatch(data, batch, seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = space.to_torch(arch, data.input_shape, data.num_classes, data.task, data.vocab_size)
    started = time.perf_counter()
    raw = compute_proxies(proxies, model, x, y, seed=seed)
    proxy_seconds = time.perf_counter() - started
    scores = {name: str(score) if isinstance(score, ProxyError) else score for name, score in raw.items()}
    result = train(model, data, TrainConfig(epochs=epochs, batch_size=64, seed=seed, amp=False))
    return ArchOutcome(arch, result.val_accuracy, scores, proxy_seconds, result.train_seconds)


def study_space(task: str, archs: int = 50, epochs: int = 4, seed: int = 0, proxies: list[str] | None = None,
                spec: dict | None = None, batch: int = 64, data_fraction: float = 1.0,
                workers: int = 1) -> SpaceStudy:
    """Sample, score, train and correlate; workers > 1 runs the architectures in that many
    spawned processes of one torch thread each (each architecture is seeded alone: same figures)."""
    kind, dataset = study_task(task)
    proxies = list(PROXIES) if proxies is None else list(proxies)
    check_proxy_names(proxies)
    if epochs < 1:
        raise StudyError(f"epochs must be at least 1, got {epochs}")
    if workers < 1:
        raise StudyError(f"workers must be at least 1, got {workers}")
    chosen = sample_archs(build_space(kind, spec), archs, seed)
    started = time.perf_counter()
    outcomes = list(run_archs(task, spec, chosen, proxies, epochs, batch, seed, data_fraction, workers))
    seconds = time.perf_counter() - started
    accuracies = [o.val_accuracy for o in outcomes]
    figures = [proxy_figure(name, [o.scores[name] for o in outcomes], accuracies) for name in proxies]
    spread = accuracy_spread(accuracies, task_data(dataset, seed, data_fraction).y_val)
    return SpaceStudy(task, epochs, seed, data_fraction, outcomes, figures, spread, seconds, workers,
                      spread_notes(spread))


def run_archs(task, spec, archs, proxies, epochs, batch, seed, data_fraction, workers):
    """Outcomes in the order of `archs`; spawned processes, not forked ones, when workers > 1
    (a forked copy of torch's thread pool can hang)."""
    if workers == 1:
        for arch in archs:
            yield study_arch(task, spec, arch, proxies, epochs, batch, seed, data_fraction)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    count = len(archs)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_one_thread) as pool:
        yield from pool.map(study_arch, [task] * count, [spec] * count, archs, [proxies] * count,
                            [epochs] * count, [batch] * count, [seed] * count, [data_fraction] * count)


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def proxy_figure(name: str, scores: list, accuracies: list[float]) -> ProxyFigure:
    """rho and tau of one proxy; not applicable when it could not score some network."""
    reasons = [s for s in scores if isinstance(s, str)]
    if reasons:
        return ProxyFigure(name, archs=len(scores) - len(reasons), not_applicable=reasons[0])
    ranked = [-math.inf if math.isnan(s) else s for s in scores]
    rho, tau = rank_correlations(ranked, accuracies)
    return ProxyFigure(name, rho, tau, len(scores))


def rank_correlations(scores: list[float], accuracies: list[float]) -> tuple[float, float]:
    """(Spearman rho, Kendall tau-b); NaN when either list is constant (no ranking to compare)."""
    from scipy.stats import kendalltau, spearmanr

    if len(set(scores)) < 2 or len(set(accuracies)) < 2:
        return math.nan, math.nan
    return float(spearmanr(scores, accuracies).statistic), float(kendalltau(scores, accuracies).statistic)


def accuracy_spread(accuracies: list[float], y_val) -> Spread:
    import torch

    chance = float(torch.bincount(y_val).max()) / len(y_val)
    margin = 2 * math.sqrt(chance * (1 - chance) / len(y_val))
    return Spread(min(accuracies), statistics.median(accuracies), max(accuracies),
                  statistics.pstdev(accuracies), len(set(accuracies)), chance, margin)


def spread_notes(spread: Spread) -> list[str]:
    notes = []
    if spread.flat:
        notes.append(f"trained accuracies span only {spread.high - spread.low:.3f} (under {FLAT_RANGE}): every "
                     "architecture ends about alike, so these correlations rank noise; train longer, or use a "
                     "task the budget can separate")
    at_chance = spread.chance + spread.chance_margin
    if spread.high <= at_chance:
        notes.append(f"no architecture beats always answering the most common class ({spread.chance:.3f}) by more "
                     f"than two standard errors ({spread.chance_margin:.3f}): nothing was learned, the accuracies "
                     "differ by sampling noise, so these correlations rank noise")
    elif spread.median <= at_chance:
        notes.append(f"half the architectures or more stay within two standard errors of the most common class "
                     f"({spread.chance:.3f} + {spread.chance_margin:.3f}): the few that learned something decide "
                     "these correlations, and the rest is ties and noise")
    return notes
