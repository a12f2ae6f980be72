"""Training settings of a search: defaults, allowed ranges and their check, in one place (no Django).

The search form reads TRAINING_RANGES for its min/max, the services call validate_training.
"""

from __future__ import annotations

from ..checks import FloatRange, IntRange, SpecError

#: Stored on every search.
TRAINING_DEFAULTS = {"epochs": 5, "batch_size": 64, "lr": 3e-3, "optimizer": "adamw", "patience": 0}
#: Stored only when given; these are the values a trial uses without them.
OPTIONAL_TRAINING_DEFAULTS = {"data_fraction": 1.0, "width_multiplier": 1.0}
#: Accepted as given, for the trainer's optimizer (TrainConfig.weight_decay when absent).
UNCHECKED_TRAINING = ("weight_decay",)
OPTIMIZERS = ("adamw", "sgd")
TRAINING_RANGES = {
    "epochs": IntRange(1, 500),
    "batch_size": IntRange(2, 4096),
    "patience": IntRange(0, 100),
    "lr": FloatRange(0, 10, open_low=True),
    "data_fraction": FloatRange(0, 1, open_low=True),
    "width_multiplier": FloatRange(0, 4, open_low=True),
}
#: Their messages name only the interval.
_INTERVAL_ONLY = ("data_fraction", "width_multiplier")


def validate_training(training: dict | None) -> dict:
    """The defaults overlaid with the given settings; SpecError(setting, message) for the first bad one."""
    merged = {**TRAINING_DEFAULTS, **(training or {})}
    known = {*TRAINING_DEFAULTS, *OPTIONAL_TRAINING_DEFAULTS, *UNCHECKED_TRAINING}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise SpecError(unknown[0], "is not a training setting")
    for name in ("epochs", "batch_size", "patience", "lr"):
        _check(merged, name)
    if merged["optimizer"] not in OPTIMIZERS:
        raise SpecError("optimizer", f"must be one of {list(OPTIMIZERS)}")
    for name in _INTERVAL_ONLY:
        if name in merged:
            _check(merged, name)
    return merged


def _check(settings: dict, name: str) -> None:
    allowed = TRAINING_RANGES[name]
    try:
        allowed.check(name, settings[name])
    except SpecError:
        wanted = f"in {allowed.interval()}" if name in _INTERVAL_ONLY else allowed.describe()
        raise SpecError(name, f"must be {wanted}") from None
