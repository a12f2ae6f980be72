"""name -> pruner class. The search form's choices are built from this dict."""

from __future__ import annotations

from ..checks import SpecError
from .base import Pruner, ShouldStop
from .learning_curve import LearningCurvePruner
from .multi_fidelity import ASHAPruner, HyperbandPruner, MedianStoppingPruner, SuccessiveHalvingPruner

PRUNERS: dict[str, type[Pruner]] = {
    SuccessiveHalvingPruner.name: SuccessiveHalvingPruner,
    ASHAPruner.name: ASHAPruner,
    HyperbandPruner.name: HyperbandPruner,
    MedianStoppingPruner.name: MedianStoppingPruner,
    LearningCurvePruner.name: LearningCurvePruner,
}


def build_pruner(name: str, settings: dict, direction: str, final_epoch: int, metric: str) -> ShouldStop:
    """The stop-now test of a search's pruner; SpecError names a bad name or setting."""
    if name not in PRUNERS:
        raise SpecError("pruner", f"unknown pruner {name!r}; choose one of {sorted(PRUNERS)}")
    return PRUNERS[name](settings, direction, final_epoch, metric).should_stop


def pruner_choices() -> list[tuple[str, str]]:
    return [(name, cls.label) for name, cls in PRUNERS.items()]
