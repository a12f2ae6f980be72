"""Checks of user-given numbers, in one place (no Django, no project imports).

Space specs, strategy and pruner settings and training settings all ask the same
question: is this a whole number (or a number) in a range? A range object answers
it, and also describes itself for help texts and form fields:

    IntRange(1, 500).check("epochs", 5)       -> 5, or SpecError("epochs", ...)
    IntRange(1, 500).describe()              -> "a whole number from 1 to 500"
    FloatRange(0, 10, open_low=True).describe() -> "a number in (0, 10]"
    IntRange(1, 500).html_attrs()            -> {"min": 1, "max": 500, "step": 1}
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class SpecError(ValueError):
    """A spec, a setting (or an architecture) is invalid; `field` names the culprit."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


class _Range:
    """Shared by the ranges: the entries of a list, each of the range's type and in it."""

    kind = ""

    def check_each(self, name: str, values: list) -> None:
        for v in values:
            if not self.has_type(v):
                raise SpecError(name, f"must contain only {self.kind}, got {v!r}")
            if not self.contains(v):
                raise SpecError(name, f"values must be between {self.low} and {self.high}, got {v}")


@dataclass(frozen=True)
class IntRange(_Range):
    """Whole numbers from low to high, both included (a bool is not a number here)."""

    low: int
    high: int

    kind = "whole numbers"

    @staticmethod
    def has_type(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def contains(self, value) -> bool:
        return self.low <= value <= self.high

    def check(self, name: str, value) -> int:
        if not self.has_type(value):
            raise SpecError(name, f"must be a whole number, got {value!r}")
        if not self.contains(value):
            raise SpecError(name, f"must be between {self.low} and {self.high}, got {value}")
        return value

    def describe(self) -> str:
        return f"a whole number from {self.low} to {self.high}"

    def html_attrs(self) -> dict:
        return {"min": self.low, "max": self.high, "step": 1}


@dataclass(frozen=True)
class FloatRange(_Range):
    """Numbers in [low, high], or in (low, high] with open_low (NaN is never in range)."""

    low: float
    high: float
    open_low: bool = False

    kind = "numbers"

    @staticmethod
    def has_type(value) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def contains(self, value) -> bool:
        above_low = value > self.low if self.open_low else value >= self.low
        return above_low and value <= self.high

    def check(self, name: str, value) -> float:
        if not self.has_type(value) or math.isnan(value):
            raise SpecError(name, f"must be a number, got {value!r}")
        if not self.contains(value):
            raise SpecError(name, f"must be in {self.interval()}, got {value}")
        return float(value)

    def interval(self) -> str:
        return f"{'(' if self.open_low else '['}{self.low}, {self.high}]"

    def describe(self) -> str:
        return f"a number in {self.interval()}"

    def html_attrs(self) -> dict:
        """An HTML number input cannot exclude its min: with open_low the server check refuses low itself."""
        return {"min": self.low, "max": self.high, "step": "any"}

