"""Synthetic objectives and a tiny ask/tell loop for strategy tests: nothing is trained."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from searches.strategies.base import COMPLETE, TrialRecord

#: An NB201 cell the synthetic objective rewards, and how much each edge matters.
TARGET = {"edge_1<-0": "nor_conv_3x3", "edge_2<-0": "nor_conv_3x3", "edge_2<-1": "nor_conv_1x1",
          "edge_3<-0": "skip_connect", "edge_3<-1": "nor_conv_3x3", "edge_3<-2": "avg_pool_3x3"}
WEIGHTS = {"edge_1<-0": 6.0, "edge_2<-0": 5.0, "edge_2<-1": 4.0, "edge_3<-0": 3.0, "edge_3<-1": 2.0, "edge_3<-2": 1.0}


def hash_unit(text: str) -> float:
    """A deterministic number in [0, 1) from a string."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 16**8


def target_score(arch: dict) -> float:
    """Weighted number of edges matching TARGET, plus a little deterministic noise; max 21."""
    matched = sum(WEIGHTS[name] for name, op in TARGET.items() if arch[name] == op)
    return matched + 0.5 * hash_unit(repr(sorted(arch.items())))


def run(strategy, score: Callable[[dict], float], queries: int) -> list[TrialRecord]:
    """Ask for one architecture at a time and record it as complete with val_accuracy = score."""
    history: list[TrialRecord] = []
    for number in range(1, queries + 1):
        (arch,) = strategy.ask(history, 1)
        history.append(TrialRecord(number, arch, COMPLETE, {"val_accuracy": score(arch)}))
    return history


def best_score(history: list[TrialRecord]) -> float:
    return max(t.metrics["val_accuracy"] for t in history)
