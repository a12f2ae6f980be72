"""Pruners: stop a running trial between epochs when it looks unpromising (plain Python, no Django).

Either a multi-fidelity pruner (successive halving, ASHA, Hyperband, median stopping,
multi_fidelity.py) that compares the trial's curve with the others', or learning-curve
extrapolation (Domhan et al. 2015, learning_curve.py) that forecasts the trial's final value.
See base.Pruner for the contract.
"""

from .base import Pruner, ShouldStop
from .registry import PRUNERS, build_pruner, pruner_choices

__all__ = ["PRUNERS", "Pruner", "ShouldStop", "build_pruner", "pruner_choices"]
