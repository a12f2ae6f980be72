"""One-shot architecture search: weight-sharing supernets and the strategies that train them.

Plain Python + torch, no Django (like the rest of the engine). Entry points:

    run_oneshot(name, space, data, settings, seed, on_epoch, **extra) -> OneShotResult
        name in ONESHOT_STRATEGIES: random_oneshot, enas, darts, proxyless, pdarts, pcdarts
    build_latency_table(space, target, input_shape, num_classes) -> DecisionCosts  (ProxylessNAS)
    ranking.supernet_ranking(...) / ranking.kendall_tau(...)  (does the supernet rank like training?)
"""

from .latency import DecisionCosts, build_latency_table
from .registry import ONESHOT_STRATEGIES, build_oneshot, run_oneshot
from .search import OneShotResult

__all__ = [
    "ONESHOT_STRATEGIES",
    "DecisionCosts",
    "OneShotResult",
    "build_latency_table",
    "build_oneshot",

    "run_oneshot",
]
