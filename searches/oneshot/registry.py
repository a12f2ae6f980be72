"""name -> one-shot strategy class, and one entry point for running any of them."""

from __future__ import annotations

from ..checks import SpecError
from ..spaces.base import SearchSpace
from ..training.datasets import DataSplits
from .darts import Darts
from .enas import Enas
from .pcdarts import PCDarts
from .pdarts import PDarts
from .proxyless import ProxylessNAS
from .random_oneshot import RandomOneShot
from .search import EpochCallback, OneShotResult, OneShotSearch

ONESHOT_STRATEGIES: dict[str, type[OneShotSearch]] = {
    RandomOneShot.name: RandomOneShot,
    Enas.name: Enas,
    Darts.name: Darts,
    ProxylessNAS.name: ProxylessNAS,
    PDarts.name: PDarts,
    PCDarts.name: PCDarts,
}


def build_oneshot(name: str, space: SearchSpace, data: DataSplits, settings: dict | None = None, seed: int = 0,
                  **extra) -> OneShotSearch:
    """The strategy object; `extra` goes to its constructor (ProxylessNAS: latency_table, latency_base_ms)."""
    if name not in ONESHOT_STRATEGIES:
        raise SpecError("strategy", f"unknown one-shot strategy {name!r}; choose one of {sorted(ONESHOT_STRATEGIES)}")
    return ONESHOT_STRATEGIES[name](space, data, settings, seed, **extra)


def run_oneshot(name: str, space: SearchSpace, data: DataSplits, settings: dict | None = None, seed: int = 0,
                on_epoch: EpochCallback | None = None, checkpoint_path: str = "", **extra) -> OneShotResult:
    """With a `checkpoint_path` the supernet's state is saved after every epoch, and a run that finds
    the file continues after its last epoch (OneShotSearch.run)."""
    return build_oneshot(name, space, data, settings, seed, **extra).run(on_epoch, checkpoint_path)
