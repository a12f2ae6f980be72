import pytest

from searches.checks import SpecError
from searches.pruners import PRUNERS, build_pruner, pruner_choices
from searches.strategies.base import COMPLETE, RUNNING, TrialRecord


def build(name, settings=None, direction="max", final_epoch=40, metric="val_accuracy"):
    return build_pruner(name, settings or {}, direction, final_epoch, metric)


def error(name, settings=None, **kwargs):
    with pytest.raises(SpecError) as err:
        build(name, settings, **kwargs)
    return err.value.field, err.value.message


def test_one_registry_holds_every_pruner_with_its_label():
    assert pruner_choices() == [
        ("successive_halving", "Successive halving"),
        ("asha", "ASHA (asynchronous successive halving)"),
        ("hyperband", "Hyperband"),
        ("median", "Median stopping"),
        ("learning_curve", "Learning-curve extrapolation (Domhan et al.)"),
    ]
    assert all(PRUNERS[name].name == name for name in PRUNERS)


def test_registry_and_settings():
    assert set(PRUNERS) == {"successive_halving", "asha", "hyperband", "median", "learning_curve"}
    assert error("nope") == ("pruner", "unknown pruner 'nope'; choose one of "
                                       "['asha', 'hyperband', 'learning_curve', 'median', 'successive_halving']")
    assert error("asha", {"eta": 1})[0] == "eta"
    assert error("hyperband", {"min_resource": 9, "max_resource": 3})[0] == "max_resource"
    assert error("median", {"patience": 3}) == ("patience", "is not a setting of the median pruner")


def test_the_learning_curve_pruner_checks_its_settings_and_metric():
    assert error("learning_curve", {"eta": 3}) == ("eta", "is not a setting of the learning-curve pruner")
    message = "learning-curve extrapolation forecasts accuracies (a metric to maximise)"
    assert error("learning_curve", direction="min", metric="params") == ("pruner", message)
    assert error("learning_curve", metric="train_seconds") == ("pruner", message)
    field, text = error("learning_curve", {"threshold": 1.5})
    assert field == "threshold" and "(0.0, 0.999]" in text  # checked by name, like every other setting
    assert error("learning_curve", {"min_points": "4"})[0] == "min_points"


def record(number, curve, state=COMPLETE):
    metrics = {"val_accuracy": curve[-1]} if state == COMPLETE else {}
    return TrialRecord(number, {"n": number}, state, metrics, tuple(curve))


def test_the_learning_curve_pruner_forecasts_the_own_curve_against_the_best_finished_trial():
    plateau = [0.6 - 0.3 * 0.45**e for e in range(1, 9)]
    should_stop = build("learning_curve")
    best = record(1, [0.9] * 40)
    assert should_stop(2, 8, plateau[-1], [best, record(2, plateau, RUNNING)])
    assert not should_stop(2, 8, plateau[-1], [record(2, plateau, RUNNING)])  # nothing finished to beat
    assert not build("learning_curve", final_epoch=8)(2, 8, plateau[-1], [best, record(2, plateau, RUNNING)])


def test_a_multi_fidelity_pruner_is_built_for_the_search_direction():
    history = [record(2, [1.0]), record(3, [2.0]), record(4, [3.0])]
    should_stop = build("asha", {"eta": 2}, direction="min")
    assert not should_stop(1, 1, 0.5, history)
    assert should_stop(1, 1, 2.5, history)
