"""Validators for strategy settings; each raises SpecError naming the setting.

Numbers in a range are checked by the range objects of searches/checks.py."""

from __future__ import annotations

from ..checks import FloatRange, IntRange, SpecError


def merge_settings(defaults: dict, given: dict, owner: str) -> dict:
    """The defaults overlaid with the given settings; a setting the owner lacks is refused by name."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise SpecError(unknown[0], f"is not a setting of {owner}")
    return {**defaults, **given}


def check_int_setting(settings: dict, name: str, low: int, high: int) -> int:
    return IntRange(low, high).check(name, settings.get(name))


def check_float_setting(settings: dict, name: str, low: float, high: float, *, open_low: bool = False) -> float:
    return FloatRange(low, high, open_low).check(name, settings.get(name))


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
