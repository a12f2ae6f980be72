"""Validators for strategy settings; each raises SpecError naming the setting.

Numbers in a range are checked by the range objects of searches/checks.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from ..checks import FloatRange, IntRange, SpecError


def merge_settings(defaults: dict, given: dict, owner: str) -> dict:
    """The defaults overlaid with the given settings; a setting the owner lacks is refused by name."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise UnknownSetting(unknown[0], f"is not a setting of {owner}")
    return {**defaults, **given}


def check_int_setting(settings: dict, name: str, low: int, high: int) -> int:
    _record(name, "int", IntRange(low, high))
    return IntRange(low, high).check(name, settings.get(name))


def check_float_setting(settings: dict, name: str, low: float, high: float, *, open_low: bool = False) -> float:
    _record(name, "float", FloatRange(low, high, open_low))
    return FloatRange(low, high, open_low).check(name, settings.get(name))


def check_choice_setting(settings: dict, name: str, allowed: tuple) -> str:
    _record(name, "choice", options=tuple(allowed))
    value = settings.get(name)
    if value not in allowed:
        raise SpecError(name, f"must be one of {list(allowed)}, got {value!r}")
    return value


def check_bool_setting(settings: dict, name: str) -> bool:
    _record(name, "bool")
    value = settings.get(name)
    if not isinstance(value, bool):
        raise SpecError(name, f"must be true or false, got {value!r}")
    return value


# --- a settings schema, read off the checks --------------------------------------------------------
class UnknownSetting(SpecError):
    """A setting the strategy or pruner does not have (the message can then list those it has)."""


@dataclass(frozen=True)
class SettingInfo:
    """One setting as a form shows it: its default, what it accepts, and a line of help.

    kind is int, float (with `allowed`, a range), choice (with `options`), bool, or value (anything
    else, such as NSGA-II's list of objectives: the JSON box only)."""

    name: str
    default: object
    kind: str
    help: str = ""
    allowed: IntRange | FloatRange | None = None
    options: tuple = ()

    def describe(self) -> str:
        """'population_size: a whole number from 2 to 10000 (default 10)'."""
        if self.kind in ("int", "float"):
            accepts = self.allowed.describe()
        elif self.kind == "choice":
            accepts = "one of " + ", ".join(repr(o) if o == "" else str(o) for o in self.options)
        elif self.kind == "bool":
            accepts = "true or false"
        else:
            accepts = "a JSON value"
        return f"{self.name}: {accepts} (default {json.dumps(self.default)})"

    def as_dict(self) -> dict:
        out = {"name": self.name, "default": self.default, "kind": self.kind, "help": self.help,
               "describe": self.describe()}
        if self.allowed is not None:
            out |= {"low": self.allowed.low, "high": self.allowed.high,
                    "open_low": getattr(self.allowed, "open_low", False)}
        if self.options:
            out["options"] = list(self.options)
        return out


_recorded: ContextVar[dict | None] = ContextVar("recorded_setting_checks", default=None)


def _record(name: str, kind: str, allowed=None, options: tuple = ()) -> None:
    recorded = _recorded.get()
    if recorded is not None:
        recorded.setdefault(name, (kind, allowed, options))


def read_schema(validate: Callable[[dict], object], defaults: dict, help_texts: dict[str, str]) -> list[SettingInfo]:
    """The settings' schema, read off the checks that `validate` makes of the defaults: the form's
    fields and the messages cannot drift from what is enforced. A setting no check_* function checks is
    of kind "value" (the JSON box)."""
    token = _recorded.set({})
    try:
        validate(dict(defaults))
        recorded = _recorded.get()
    finally:
        _recorded.reset(token)
    schema = []
    for name, default in defaults.items():
        kind, allowed, options = recorded.get(name, ("value", None, ()))
        schema.append(SettingInfo(name, default, kind, help_texts.get(name, ""), allowed, options))
    return schema


def describe_schema(schema: list[SettingInfo]) -> str:
    if not schema:
        return "it takes no settings"
    return "its settings are " + "; ".join(info.describe() for info in schema)
