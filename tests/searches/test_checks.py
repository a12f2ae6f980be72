import math

import pytest

from searches.checks import FloatRange, IntRange, SpecError


def message(check, *args):
    with pytest.raises(SpecError) as err:
        check(*args)
    return err.value.field, err.value.message


def test_a_whole_number_in_range_comes_back_as_is():
    assert IntRange(1, 500).check("epochs", 1) == 1
    assert IntRange(1, 500).check("epochs", 500) == 500


@pytest.mark.parametrize("value", [True, 2.0, "3", None])
def test_only_a_whole_number_is_a_whole_number(value):
    assert message(IntRange(1, 5).check, "n", value) == ("n", f"must be a whole number, got {value!r}")


def test_a_whole_number_out_of_range_names_the_range():
    assert message(IntRange(1, 5).check, "n", 6) == ("n", "must be between 1 and 5, got 6")
    assert message(IntRange(1, 5).check, "n", 0) == ("n", "must be between 1 and 5, got 0")


def test_a_number_comes_back_as_a_float():
    value = FloatRange(0.0, 1.0).check("x", 1)
    assert value == 1.0 and isinstance(value, float)


@pytest.mark.parametrize("value", [True, "0.5", None, math.nan])
def test_only_a_real_number_is_a_number(value):
    assert message(FloatRange(0, 1).check, "x", value) == ("x", f"must be a number, got {value!r}")


def test_an_open_low_end_refuses_the_low_end_itself():
    assert FloatRange(0, 10).check("lr", 0) == 0.0
    assert message(FloatRange(0, 10, open_low=True).check, "lr", 0) == ("lr", "must be in (0, 10], got 0")
    assert message(FloatRange(0.0, 1.0).check, "x", 1.5) == ("x", "must be in [0.0, 1.0], got 1.5")


def test_each_entry_of_a_list_is_checked_with_the_list_wording():
    IntRange(1, 9).check_each("widths", [1, 9])
    assert message(IntRange(1, 9).check_each, "widths", [1, 2.0]) == (
        "widths", "must contain only whole numbers, got 2.0")
    assert message(FloatRange(0, 1).check_each, "rates", [0.5, "a"]) == ("rates", "must contain only numbers, got 'a'")
    assert message(FloatRange(0, 1).check_each, "rates", [math.nan]) == (
        "rates", "values must be between 0 and 1, got nan")
    assert message(IntRange(1, 9).check_each, "widths", [10]) == ("widths", "values must be between 1 and 9, got 10")


def test_a_range_describes_itself_for_help_texts():
    assert IntRange(1, 500).describe() == "a whole number from 1 to 500"
    assert FloatRange(0, 10, open_low=True).describe() == "a number in (0, 10]"
    assert FloatRange(0.0, 1.0).describe() == "a number in [0.0, 1.0]"


def test_a_range_gives_the_attributes_of_a_number_input():
    assert IntRange(2, 4096).html_attrs() == {"min": 2, "max": 4096, "step": 1}
    assert FloatRange(0, 4, open_low=True).html_attrs() == {"min": 0, "max": 4, "step": "any"}


def test_a_spec_error_names_its_field():
    error = SpecError("epochs", "must be positive")
    assert (error.field, error.message, str(error)) == ("epochs", "must be positive", "epochs: must be positive")
    assert isinstance(error, ValueError)
