import math

import numpy as np
import pytest

from searches.pruners.learning_curve import (
    FAMILIES,
    CurveForecast,
    CurveRule,
    exp3,
    extrapolate,
    fit_family,
    janoschek,
    log_power,
    pow3,
    vapor_pressure,
)

EPOCHS = np.arange(1, 41, dtype=float)
TRUE_CURVES = {
    "pow3": pow3(EPOCHS, 0.9, 0.6, 0.8),
    "log_power": log_power(EPOCHS, 0.92, 1.0, -1.2),
    "exp3": exp3(EPOCHS, 0.2, -0.2, 0.88),
    "vapor_pressure": vapor_pressure(EPOCHS, -0.1, -1.0, 0.0),
    "janoschek": janoschek(EPOCHS, 0.9, 0.2, 0.3, 0.9),
}


def test_there_are_at_least_three_families():
    assert {f.name for f in FAMILIES} >= {"pow3", "log_power", "exp3", "vapor_pressure", "janoschek"}


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_each_family_extrapolates_its_own_curve(family):
    curve = TRUE_CURVES[family.name]
    fit = fit_family(family, EPOCHS[:15], curve[:15], 40, 0.0, 1.0)
    assert fit is not None
    assert fit.prediction == pytest.approx(curve[-1], abs=0.01)


def test_forecast_of_a_noisy_curve_is_close_and_honest():
    rng = np.random.default_rng(0)
    true = TRUE_CURVES["pow3"]
    observed = true[:12] + rng.normal(0, 0.005, 12)
    forecast = extrapolate(observed, 40)
    assert abs(forecast.mean - true[-1]) < 0.03
    assert abs(forecast.mean - true[-1]) < 3 * forecast.std
    assert sum(forecast.weights.values()) == pytest.approx(1.0)
    assert set(forecast.predictions) == set(forecast.weights)


def test_more_epochs_make_the_forecast_surer():
    true = TRUE_CURVES["exp3"] + np.random.default_rng(1).normal(0, 0.005, 40)
    early, late = extrapolate(true[:6], 40), extrapolate(true[:20], 40)
    assert late.std < early.std


def test_too_few_points_give_no_forecast():
    assert extrapolate([0.3, 0.5, 0.6, 0.65], 40) is None  # every family needs two points more than parameters
    assert extrapolate([0.3, 0.5, 0.6, 0.65, 0.68], 40) is not None


def test_forecast_is_clipped_to_the_metric_range():
    steep = [0.5, 0.7, 0.85, 0.95, 1.0, 1.0]
    forecast = extrapolate(steep, 100)
    assert all(0.0 <= p <= 1.0 for p in forecast.predictions.values())


def test_probability_above():
    forecast = CurveForecast(mean=0.8, std=0.05)
    assert forecast.probability_above(0.8) == pytest.approx(0.5)
    assert forecast.probability_above(0.7) > 0.97
    assert forecast.probability_above(0.95) < 0.01
    assert math.isclose(forecast.probability_above(0.9) + CurveForecast(0.8, 0.05).probability_above(0.7), 1.0,
                        abs_tol=1e-9)


def test_pruner_stops_a_curve_that_has_levelled_off_below_the_best():
    plateau = list(0.6 - 0.3 * np.exp(-0.8 * EPOCHS[:8]))
    assert CurveRule().should_stop(plateau, final_epoch=40, best_so_far=0.9)


def test_pruner_keeps_a_curve_that_is_still_climbing_towards_the_best():
    climbing = list(TRUE_CURVES["pow3"][:8])  # ends near 0.9; at epoch 8 it is below 0.85
    assert max(climbing) < 0.85
    assert not CurveRule().should_stop(climbing, final_epoch=40, best_so_far=0.85)


@pytest.mark.parametrize("curve, final_epoch, best", [
    ([0.1, 0.2, 0.3], 40, 0.9),  # too few epochs seen
    ([0.1, 0.2, 0.3, 0.3, 0.3], 40, None),  # nothing to beat yet
    ([0.5, 0.6, 0.7, 0.72, 0.95], 40, 0.9),  # already better than the best
    ([0.1, 0.2, 0.3, 0.3, 0.3], 5, 0.9),  # the curve is complete
])
def test_pruner_does_not_judge_without_grounds(curve, final_epoch, best):
    assert not CurveRule().should_stop(curve, final_epoch, best)


def test_pruner_settings_are_checked():
    with pytest.raises(ValueError, match="threshold"):
        CurveRule(threshold=1.5)
    with pytest.raises(ValueError, match="min_points"):
        CurveRule(min_points=1)
