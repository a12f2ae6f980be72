"""Learning-curve extrapolation after Domhan, Springenberg & Hutter (IJCAI 2015).

A few parametric families that describe how accuracy grows with epochs are
fitted by least squares to the epochs seen so far. Each fit predicts the value at
the final epoch with an uncertainty (parameter uncertainty by the delta method
plus the residual noise); the fits are combined with weights from their Bayesian
information criterion, so a family that fits well with few parameters counts
most. Domhan et al. sample the combination with MCMC; this point-estimate
version is cheap enough to run after every epoch of every trial.

CurveRule stops a curve when the forecast makes it unlikely to beat the best
result so far; LearningCurvePruner applies it to a trial of a search.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..checks import SpecError
from ..strategies.base import TrialRecord
from ..strategies.settings_checks import check_float_setting, check_int_setting
from .base import Pruner


@dataclass(frozen=True)
class CurveFamily:
    name: str
    function: Callable[..., np.ndarray]  # f(x, *params)
    initial_guesses: Callable[[float, float], list[tuple]]  # (first, last) -> starting points
    lower: tuple
    upper: tuple

    @property
    def n_params(self) -> int:
        return len(self.lower)


def pow3(x, c, a, alpha):
    return c - a * x ** (-alpha)


def log_power(x, a, b, c):
    return a / (1.0 + (x / np.exp(b)) ** c)


def exp3(x, a, b, c):
    return c - np.exp(-a * x + b)


def vapor_pressure(x, a, b, c):
    return np.exp(a + b / x + c * np.log(x))


def janoschek(x, alpha, beta, kappa, delta):
    return alpha - (alpha - beta) * np.exp(-kappa * x**delta)


# Starting points put the curve through the first observation and a plateau just
# above the last one; two shapes each, because least squares finds local optima.
def _pow3_guesses(first, last):
    c = last + 0.02
    return [(c, c - first, alpha) for alpha in (0.5, 1.5)]


def _log_power_guesses(first, last):
    a = last + 0.02
    ratio = max(a / max(first, 1e-3) - 1.0, 1e-3)
    return [(a, -math.log(ratio) / c, c) for c in (-1.0, -2.0)]


def _exp3_guesses(first, last):
    c = last + 0.02
    return [(a, math.log(max(c - first, 1e-3)) + a, c) for a in (0.3, 1.0)]


def _vapor_pressure_guesses(first, last):
    a = math.log(max(last + 0.02, 1e-3))
    return [(a, math.log(max(first, 1e-3)) - a, c) for c in (0.0, 0.1)]


def _janoschek_guesses(first, last):
    alpha = last + 0.02
    return [(alpha, first, kappa, 1.0) for kappa in (0.2, 1.0)]


FAMILIES: tuple[CurveFamily, ...] = (
    CurveFamily("pow3", pow3, _pow3_guesses, (0.0, -5.0, 0.0), (2.0, 5.0, 10.0)),
    CurveFamily("log_power", log_power, _log_power_guesses, (0.0, -20.0, -10.0), (2.0, 20.0, 0.0)),
    CurveFamily("exp3", exp3, _exp3_guesses, (0.0, -20.0, 0.0), (10.0, 20.0, 2.0)),
    CurveFamily("vapor_pressure", vapor_pressure, _vapor_pressure_guesses, (-10.0, -20.0, -2.0), (2.0, 20.0, 2.0)),
    CurveFamily("janoschek", janoschek, _janoschek_guesses, (0.0, -1.0, 0.0, 0.0), (2.0, 2.0, 20.0, 5.0)),
)


@dataclass(frozen=True)
class FamilyFit:
    name: str
    prediction: float
    variance: float
    bic: float


@dataclass(frozen=True)
class CurveForecast:
    """The predicted value at the final epoch, its standard deviation, and each family's part."""

    mean: float
    std: float
    weights: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)

    def probability_above(self, value: float) -> float:
        """P(final value > value) under a normal forecast."""
        z = (value - self.mean) / max(self.std, 1e-6)
        return 0.5 * math.erfc(z / math.sqrt(2.0))


def fit_family(family: CurveFamily, x: np.ndarray, y: np.ndarray, final_epoch: float,
               lower: float, upper: float) -> FamilyFit | None:
    """Best of a few least-squares fits; None when it fails or predicts nonsense."""
    from scipy.optimize import least_squares

    best = None
    for guess in family.initial_guesses(float(y[0]), float(y[-1])):
        start = np.clip(guess, np.add(family.lower, 1e-9), np.subtract(family.upper, 1e-9))
        try:
            with np.errstate(all="ignore"):
                result = least_squares(lambda p: family.function(x, *p) - y, start,
                                       bounds=(family.lower, family.upper), max_nfev=400)
        except ValueError:  # the residuals were not finite at the start
            continue
        if np.isfinite(result.cost) and (best is None or result.cost < best.cost):
            best = result
    if best is None:
        return None
    return summarise_fit(family, best, x, final_epoch, lower, upper)


def summarise_fit(family: CurveFamily, result, x: np.ndarray, final_epoch: float,
                  lower: float, upper: float) -> FamilyFit | None:
    n, p = len(x), family.n_params
    sse = max(2.0 * float(result.cost), n * 1e-10)  # a perfect fit must not give log(0)
    noise = sse / max(n - p, 1)
    with np.errstate(all="ignore"):
        prediction = float(family.function(np.float64(final_epoch), *result.x))
        gradient = prediction_gradient(family, result.x, final_epoch)
    if not math.isfinite(prediction) or not np.all(np.isfinite(gradient)):
        return None
    covariance = noise * np.linalg.pinv(result.jac.T @ result.jac)
    variance = float(gradient @ covariance @ gradient) + noise
    bic = n * math.log(sse / n) + p * math.log(n)
    return FamilyFit(family.name, float(np.clip(prediction, lower, upper)), max(variance, 0.0), bic)


def prediction_gradient(family: CurveFamily, params: np.ndarray, at: float) -> np.ndarray:
    """d f(at) / d params by central differences (the families are smooth)."""
    gradient = np.empty(len(params))
    for i in range(len(params)):
        step = 1e-6 * max(abs(params[i]), 1.0)
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        gradient[i] = (family.function(np.float64(at), *up) - family.function(np.float64(at), *down)) / (2 * step)
    return gradient


def extrapolate(curve: Sequence[float], final_epoch: int, lower: float = 0.0,
                upper: float = 1.0) -> CurveForecast | None:
    """Forecast the curve's value at final_epoch (epochs count from 1); None if no family fits.

    A family is fitted only when it has two points more than parameters, so that its
    noise estimate rests on more than one residual. The
    forecast is clipped to [lower, upper]: accuracies live in [0, 1].
    """
    y = np.asarray(curve, dtype=np.float64)
    x = np.arange(1, len(y) + 1, dtype=np.float64)
    fits = [fit_family(f, x, y, final_epoch, lower, upper) for f in FAMILIES if len(y) >= f.n_params + 2]
    fits = [f for f in fits if f is not None]
    if not fits:
        return None
    return combine(fits, upper - lower)


def combine(fits: list[FamilyFit], value_range: float) -> CurveForecast:
    """BIC weights; the mixture's variance includes how much the families disagree."""
    bics = np.array([f.bic for f in fits])
    weights = np.exp(-0.5 * (bics - bics.min()))
    weights /= weights.sum()
    means = np.array([f.prediction for f in fits])
    variances = np.minimum([f.variance for f in fits], value_range**2)  # an unbounded extrapolation says little
    mean = float(weights @ means)
    variance = float(weights @ (variances + means**2) - mean**2)
    return CurveForecast(
        mean=mean,
        std=math.sqrt(max(variance, 0.0)),
        weights={f.name: float(w) for f, w in zip(fits, weights, strict=True)},
        predictions={f.name: f.prediction for f in fits},
    )


class CurveRule:
    """Stop a curve that is unlikely to end above the best result so far.

    threshold: stop when P(final > best_so_far) falls below it. min_points: epochs
    to see before judging (early epochs are noisy and fit anything).
    """

    def __init__(self, threshold: float = 0.05, min_points: int = 4, lower: float = 0.0, upper: float = 1.0):
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        if min_points < 2:
            raise ValueError(f"min_points must be at least 2, got {min_points}")
        self.threshold = threshold
        self.min_points = min_points
        self.lower, self.upper = lower, upper

    def should_stop(self, curve: Sequence[float], final_epoch: int, best_so_far: float | None) -> bool:
        if best_so_far is None or len(curve) < self.min_points or len(curve) >= final_epoch:
            return False
        if max(curve) > best_so_far:
            return False  # already better: nothing to forecast
        forecast = extrapolate(curve, final_epoch, self.lower, self.upper)
        if forecast is None:
            return False  # no family fits: keep training rather than guess
        return forecast.probability_above(best_so_far) < self.threshold


class LearningCurvePruner(Pruner):
    """Learning-curve extrapolation (Domhan et al. 2015) for a search: forecasts the trial's final
    accuracy from its own curve and compares it with the best finished trial."""

    name = "learning_curve"
    label = "Learning-curve extrapolation (Domhan et al.)"

    def __init__(self, settings: dict | None = None, direction: str = "max", final_epoch: int = 0,
                 metric: str = "val_accuracy"):
        super().__init__(settings, direction, final_epoch, metric)
        if direction != "max" or "accuracy" not in metric:
            raise SpecError("pruner", "learning-curve extrapolation forecasts accuracies (a metric to maximise)")
        try:
            self.rule = CurveRule(threshold=self.settings["threshold"], min_points=self.settings["min_points"])
        except (TypeError, ValueError) as exc:
            raise SpecError("pruner_settings", str(exc)) from exc

    settings_help = {"threshold": "stop when the chance to beat the best trial falls below this",
                     "min_points": "epochs seen before the curve is extrapolated"}

    @classmethod
    def default_settings(cls) -> dict:
        return {"threshold": 0.05, "min_points": 4}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_float_setting(merged, "threshold", 0.0, 0.999, open_low=True)
        check_int_setting(merged, "min_points", 2, 10_000)
        return merged

    def settings_owner(self) -> str:
        return "the learning-curve pruner"

    def should_stop(self, trial_number: int, epoch: int, value: float, history: list[TrialRecord]) -> bool:
        own = next((t.curve for t in history if t.number == trial_number), ())
        finished = [t.value(self.metric) for t in history
                    if t.state == "complete" and t.value(self.metric) is not None]
        return self.rule.should_stop(list(own), self.final_epoch, max(finished) if finished else None)
