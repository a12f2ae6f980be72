import math

import pytest

from searches.checks import FloatRange, IntRange, SpecError
from searches.training.settings import (
    OPTIMIZERS,
    OPTIONAL_TRAINING_DEFAULTS,
    TRAINING_DEFAULTS,
    TRAINING_RANGES,
    validate_training,
)
from searches.training.trainer import TrainConfig


def refusal(training):
    with pytest.raises(SpecError) as err:
        validate_training(training)
    return err.value.field, err.value.message


def test_nothing_given_means_the_defaults():
    assert validate_training(None) == {"epochs": 5, "batch_size": 64, "lr": 3e-3, "optimizer": "adamw", "patience": 0}
    assert validate_training({}) == TRAINING_DEFAULTS


def test_given_settings_overlay_the_defaults_and_optional_ones_are_kept_only_when_given():
    clean = validate_training({"epochs": 20, "lr": 1, "data_fraction": 0.5, "weight_decay": 0.0})
    assert clean == {**TRAINING_DEFAULTS, "epochs": 20, "lr": 1, "data_fraction": 0.5, "weight_decay": 0.0}
    assert "width_multiplier" not in clean
    assert OPTIONAL_TRAINING_DEFAULTS == {"data_fraction": 1.0, "width_multiplier": 1.0}


def test_every_default_passes_its_own_range():
    for name, allowed in TRAINING_RANGES.items():
        value = {**TRAINING_DEFAULTS, **OPTIONAL_TRAINING_DEFAULTS}[name]
        assert allowed.check(name, value) == value


def test_an_unknown_setting_is_refused_by_name():
    assert refusal({"epochs": 3, "momentum": 0.9}) == ("momentum", "is not a training setting")


@pytest.mark.parametrize("name, low, high", [("epochs", 1, 500), ("batch_size", 2, 4096), ("patience", 0, 100)])
def test_whole_number_settings_name_their_range(name, low, high):
    message = f"must be a whole number from {low} to {high}"
    validate_training({name: low})
    validate_training({name: high})
    for bad in (low - 1, high + 1, 2.0, True, "5", None):
        assert refusal({name: bad}) == (name, message)


@pytest.mark.parametrize("bad", [0, -1, 10.5, math.nan, "0.1", None, True])
def test_the_learning_rate_is_a_number_in_an_interval_open_at_zero(bad):
    assert refusal({"lr": bad}) == ("lr", "must be a number in (0, 10]")


def test_the_learning_rate_may_reach_ten():
    assert validate_training({"lr": 10})["lr"] == 10


def test_the_optimizer_is_one_of_the_trainers():
    assert OPTIMIZERS == ("adamw", "sgd")
    assert validate_training({"optimizer": "sgd"})["optimizer"] == "sgd"
    assert refusal({"optimizer": "adam9"}) == ("optimizer", "must be one of ['adamw', 'sgd']")


@pytest.mark.parametrize("name, high", [("data_fraction", 1), ("width_multiplier", 4)])
def test_fractions_and_multipliers_name_their_interval(name, high):
    assert validate_training({name: high})[name] == high
    assert validate_training({name: 0.01})[name] == 0.01
    for bad in (0, high + 0.5, -1, math.nan, "1", True):
        assert refusal({name: bad}) == (name, f"must be in (0, {high}]")


def test_weight_decay_goes_to_the_optimizer_as_given():
    # Not range-checked today: TrainConfig passes it to AdamW/SGD, whose own check refuses a negative one.
    assert validate_training({"weight_decay": 0.05})["weight_decay"] == 0.05
    assert TrainConfig.from_dict(validate_training({"weight_decay": 0.05})).weight_decay == 0.05


def test_the_first_bad_setting_is_named_in_a_fixed_order():
    assert refusal({"lr": 0, "epochs": 0})[0] == "epochs"
    assert refusal({"optimizer": "x", "data_fraction": 2})[0] == "optimizer"


def test_the_ranges_give_the_form_its_limits():
    assert TRAINING_RANGES["epochs"] == IntRange(1, 500)
    assert TRAINING_RANGES["epochs"].html_attrs() == {"min": 1, "max": 500, "step": 1}
    assert TRAINING_RANGES["lr"] == FloatRange(0, 10, open_low=True)
    assert TRAINING_RANGES["width_multiplier"].describe() == "a number in (0, 4]"
