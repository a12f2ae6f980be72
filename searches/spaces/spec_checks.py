"""Small validators for space specs; each raises SpecError naming the field.

Numbers in a range are checked by the range objects of searches/checks.py."""

from __future__ import annotations

from ..checks import FloatRange, IntRange, SpecError


def check_int(spec: dict, name: str, low: int, high: int) -> int:
    return IntRange(low, high).check(name, spec.get(name))


def check_number_list(spec: dict, name: str, low: float, high: float, integer: bool) -> list:
    values = spec.get(name)
    if not isinstance(values, list) or not values:
        raise SpecError(name, "must be a non-empty list")
    (IntRange(low, high) if integer else FloatRange(low, high)).check_each(name, values)
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


def check_int_sequence(spec: dict, name: str, low: int, high: int, length: int) -> list:
    """An ordered list with one whole number per position (repeats allowed), e.g. a stride per stage."""
    values = spec.get(name)
    if not isinstance(values, list) or not values:
        raise SpecError(name, "must be a non-empty list")
    IntRange(low, high).check_each(name, values)
    if len(values) != length:
        raise SpecError(name, f"must have exactly {length} entries, got {len(values)}")
    return list(values)


def check_divides(spec: dict, divisors_name: str, multiples_name: str) -> None:
    """Every value of one list divides every value of another (attention heads and widths),
    so that any combination a search picks is a valid architecture."""
    for divisor in spec[divisors_name]:
        for multiple in spec[multiples_name]:
            if multiple % divisor:
                raise SpecError(divisors_name, f"{divisor} does not divide {multiples_name} value {multiple}; "
                                               f"every choice must divide every {multiples_name} choice")


def check_task(task: str, tasks: tuple) -> None:
    """The task asked of to_torch is one the space builds models for."""
    if task not in tasks:
        raise SpecError("task", f"{task!r} is not supported by this space; choose one of {list(tasks)}")


def check_image_shape(input_shape: tuple) -> tuple[int, int, int]:
    """(channels, height, width) of an image input, or SpecError for any other input."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(n, int) and n > 0 for n in shape):
        raise SpecError("input_shape", f"this space needs images shaped (C, H, W), got {shape}")
    return shape
