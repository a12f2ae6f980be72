"""Validators for strategy settings; each raises SpecError naming the setting."""

from __future__ import annotations

import math

from ..spaces.base import SpecError


def merge_settings(defaults: dict, given: dict, owner: str) -> dict:
    """The defaults overlaid with the given settings; a setting the owner lacks is refused by name."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise SpecError(unknown[0], f"is not a setting of {owner}")
    return {**defaults, **given}


def check_int_setting(settings: dict, name: str, low: int, high: int) -> int:
    value = settings.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(name, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise SpecError(name, f"must be between {low} and {high}, got {value}")
    return value


def check_float_setting(settings: dict, name: str, low: float, high: float, *, open_low: bool = False) -> float:
    value = settings.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise SpecError(name, f"must be a number, got {value!r}")
    too_low = value <= low if open_low else value < low
    if too_low or value > high:
        bracket = "(" if open_low else "["
        raise SpecError(name, f"must be in {bracket}{low}, {high}], got {value}")
    return float(value)


def check_choice_setting(settings: dict, name: str, allowed: tuple) -> str:
    value = settings.get(name)
    if value not in allowed:
        raise SpecError(name, f"must be one of {list(allowed)}, got {value!r}")
    return value


def check_bool_setting(settings: dict, name: str) -> bool:
    value = settings.get(name)
    if not isinstance(value, bool):
        raise SpecError(name, f"must be true or false, got {value!r}")
    return value
