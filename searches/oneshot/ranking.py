"""Does the supernet rank architectures like stand-alone training does? Kendall's tau.

A one-shot search trusts the accuracy an architecture reaches with the supernet's (inherited)
weights to stand for the accuracy it would reach trained alone. The check: take N
architectures, measure both, and compare the two rankings with Kendall's tau (1: the same
order, 0: unrelated, -1: reversed). Stand-alone training uses the project's trainer on the
space's `to_torch` model, so it is the same training every trial of a normal search gets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..spaces.base import SearchSpace
from ..training.datasets import DataSplits
from ..training.trainer import TrainConfig, TrainResult, train
from .search import inherited_accuracy
from .supernet import Supernet


@dataclass
class RankingResult:
    tau: float
    p_value: float
    archs: list[dict]
    inherited: list[float]
    #: The stand-alone figure the tau is computed on (`metric` of each TrainResult).
    standalone: list[float]
    metric: str
    inherited_seconds: float
    standalone_seconds: float
    standalone_results: list[TrainResult] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        return {"tau": self.tau, "p_value": self.p_value, "archs": self.archs, "inherited": self.inherited,
                "standalone": self.standalone, "metric": self.metric,
                "inherited_seconds": self.inherited_seconds, "standalone_seconds": self.standalone_seconds}


def kendall_tau(first: list[float], second: list[float]) -> tuple[float, float]:
    """(tau-b, two-sided p-value); ties count as in scipy. Undefined (all values equal) gives (0, 1)."""
    from scipy.stats import kendalltau

    if len(first) != len(second):
        raise ValueError(f"need two rankings of the same length, got {len(first)} and {len(second)}")
    if len(first) < 2:
        raise ValueError("need at least two architectures to compare rankings")
    result = kendalltau(first, second)
    if result.statistic != result.statistic:  # NaN: one of the lists is constant
        return 0.0, 1.0
    return float(result.statistic), float(result.pvalue)


def inherited_accuracies(supernet: Supernet, archs: list[dict], data: DataSplits, split: str = "val",
                         device: str = "cpu") -> list[float]:
    """Accuracy of each architecture's single path with the supernet's weights (no training)."""
    return [inherited_accuracy(supernet, arch, data, split, device) for arch in archs]


def standalone_results(space: SearchSpace, archs: list[dict], data: DataSplits, config: TrainConfig,
                       on_result: Callable[[int, TrainResult], None] | None = None) -> list[TrainResult]:
    """Train each architecture from scratch with the same config (seed included)."""
    results = []
    for number, arch in enumerate(archs):
        model = space.to_torch(arch, data.input_shape, data.num_classes, data.task, data.vocab_size)
        result = train(model, data, config)
        results.append(result)
        if on_result is not None:
            on_result(number, result)
    return results


def supernet_ranking(supernet: Supernet, space: SearchSpace, archs: list[dict], data: DataSplits,
                     config: TrainConfig, metric: str = "val_accuracy", device: str = "cpu",
                     standalone: list[TrainResult] | None = None,
                     on_result: Callable[[int, TrainResult], None] | None = None) -> RankingResult:
    """Kendall's tau between inherited validation accuracy and stand-alone `metric`
    (val_accuracy or test_accuracy of the trainer). Pass `standalone` to reuse trained results."""
    started = time.perf_counter()
    inherited = inherited_accuracies(supernet, archs, data, "val", device)
    inherited_seconds = time.perf_counter() - started
    if standalone is None:
        started = time.perf_counter()
        standalone = standalone_results(space, archs, data, config, on_result)
        standalone_seconds = time.perf_counter() - started
    else:
        standalone_seconds = sum(r.train_seconds for r in standalone)
    figures = [getattr(r, metric) for r in standalone]
    tau, p_value = kendall_tau(inherited, figures)
    return RankingResult(tau, p_value, list(archs), inherited, figures, metric, inherited_seconds,
                         standalone_seconds, standalone)
