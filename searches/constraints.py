"""Hard constraints checked before a trial is trained (no Django).

A constraint spec is {"metric": "params", "max": 50000}. The check builds the
model (cheap, no training) to count its parameters or MACs; benchmark projects read the
count from the table instead.
"""

from __future__ import annotations

from collections.abc import Callable

from devices.costs.analytical import analytical_costs

from .spaces.base import SearchSpace

CONSTRAINT_METRICS = {"params": "parameters", "macs": "multiply-accumulates per input"}


class ConstraintError(ValueError):
    pass


def validate_constraints(specs, extra_metrics: frozenset = frozenset()) -> list[dict]:
    """extra_metrics: further allowed keys, such as "latency_ms@3" (a cost on hardware target 3)."""
    if not isinstance(specs, list):
        raise ConstraintError("constraints must be a list of {metric, max}")
    allowed = set(CONSTRAINT_METRICS) | set(extra_metrics)
    clean = []
    for spec in specs:
        metric = spec.get("metric") if isinstance(spec, dict) else None
        if not isinstance(metric, str) or metric not in allowed:
            raise ConstraintError(f"unknown constraint metric {metric!r}; use one of {sorted(allowed)}")
        limit = spec.get("max")
        if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0:
            raise ConstraintError(f"the {metric} limit must be a positive number, got {limit!r}")
        clean.append({"metric": metric, "max": limit})
    return clean


def params_counter(space: SearchSpace, input_shape: tuple, num_classes: int, task: str = "classification",
                   vocab_size: int = 0) -> Callable[[dict], int]:
    def count(arch: dict) -> int:
        model = space.to_torch(arch, input_shape, num_classes, task=task, vocab_size=vocab_size)
        return sum(p.numel() for p in model.parameters())
    return count


def macs_counter(space: SearchSpace, input_shape: tuple, num_classes: int, task: str = "classification",
                 vocab_size: int = 0) -> Callable[[dict], int]:
    def count(arch: dict) -> int:
        model = space.to_torch(arch, input_shape, num_classes, task=task, vocab_size=vocab_size)
        return int(analytical_costs(model, input_shape, vocab_size=vocab_size)["macs"])
    return count


def build_checks(specs: list[dict], counters: dict[str, Callable[[dict], float]]) -> list[Callable[[dict], bool]]:
    """One callable per constraint: True when the architecture may be trained."""
    checks = []
    for spec in specs:
        counter, limit = counters[spec["metric"]], spec["max"]
        checks.append(lambda arch, counter=counter, limit=limit: counter(arch) <= limit)
    return checks
