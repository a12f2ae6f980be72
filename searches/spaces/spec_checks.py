"""Small validators for space specs; each raises SpecError naming the field."""

from __future__ import annotations

from .base import SpecError


def check_int(spec: dict, name: str, low: int, high: int) -> int:
    value = spec.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(name, f"must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise SpecError(name, f"must be between {low} and {high}, got {value}")
    return value


def check_number_list(spec: dict, name: str, low: float, high: float, integer: bool) -> list:
    values = spec.get(name)
    if not isinstance(values, list) or not values:
        raise SpecError(name, "must be a non-empty list")
    kind = "whole numbers" if integer else "numbers"
    for v in values:
        ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok_type:
            raise SpecError(name, f"must contain only {kind}, got {v!r}")
        if not low <= v <= high:
            raise SpecError(name, f"values must be between {low} and {high}, got {v}")
    if len(set(values)) != len(values):
        raise SpecError(name, "must not repeat a value")
    return sorted(values)


def check_options(spec: dict, name: str, allowed: tuple) -> list:
    values = spec.get(name)
    if not isinstance(values, list) or not values:
        raise SpecError(name, f"must be a non-empty list of {list(allowed)}")
    for v in values:
        if v not in allowed:
            raise SpecError(name, f"{v!r} is not one of {list(allowed)}")
    if len(set(values)) != len(values):
        raise SpecError(name, "must not repeat a value")
    return [a for a in allowed if a in values]


def check_order(spec: dict, low_name: str, high_name: str) -> None:
    if spec[low_name] > spec[high_name]:
        raise SpecError(high_name, f"must be at least {low_name} ({spec[low_name]})")
