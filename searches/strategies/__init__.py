"""Search strategies: plain Python, no Django. See base.Strategy for the contract."""

from .base import COMPLETE, FAILED, PRUNED, Objective, Strategy, TrialRecord
from .registry import STRATEGIES, build_strategy

__all__ = [
    "COMPLETE", "FAILED", "PRUNED", "Objective", "Strategy", "TrialRecord",
    "STRATEGIES", "build_strategy",
]
