"""Pruners: stop a running trial between epochs when it looks unpromising (no Django).

Either a multi-fidelity scheduler (successive halving, ASHA, Hyperband, median
stopping) that compares the trial's curve with the others', or learning-curve
extrapolation (Domhan et al. 2015) that forecasts the trial's final value.
"""

from __future__ import annotations

from collections.abc import Callable

from .checks import SpecError
from .estimators.learning_curve import CurvePruner
from .strategies.base import TrialRecord
from .strategies.schedulers import SCHEDULERS, build_scheduler

#: (trial number, epoch, value, history) -> stop now?
ShouldStop = Callable[[int, int, float, list[TrialRecord]], bool]
LEARNING_CURVE = "learning_curve"
PRUNERS = {**{name: cls.label for name, cls in SCHEDULERS.items()},
           LEARNING_CURVE: "Learning-curve extrapolation (Domhan et al.)"}
CURVE_DEFAULTS = {"threshold": 0.05, "min_points": 4}


def build_pruner(name: str, settings: dict, direction: str, final_epoch: int, metric: str) -> ShouldStop:
    if name in SCHEDULERS:
        return build_scheduler(name, settings, direction).should_stop
    if name == LEARNING_CURVE:
        return _curve_pruner(settings, direction, final_epoch, metric)
    raise SpecError("pruner", f"unknown pruner {name!r}; choose one of {sorted(PRUNERS)}")


def _curve_pruner(settings: dict, direction: str, final_epoch: int, metric: str) -> ShouldStop:
    unknown = sorted(set(settings) - set(CURVE_DEFAULTS))
    if unknown:
        raise SpecError(unknown[0], "is not a setting of the learning-curve pruner")
    if direction != "max" or "accuracy" not in metric:
        raise SpecError("pruner", "learning-curve extrapolation forecasts accuracies (a metric to maximise)")
    options = {**CURVE_DEFAULTS, **settings}
    try:
        pruner = CurvePruner(threshold=options["threshold"], min_points=options["min_points"])
    except (TypeError, ValueError) as exc:
        raise SpecError("pruner_settings", str(exc)) from exc

    def should_stop(trial_number: int, epoch: int, value: float, history: list[TrialRecord]) -> bool:
        own = next((t.curve for t in history if t.number == trial_number), ())
        finished = [t.value(metric) for t in history if t.state == "complete" and t.value(metric) is not None]
        return pruner.should_stop(list(own), final_epoch, max(finished) if finished else None)

    return should_stop
