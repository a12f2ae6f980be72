"""The pruner contract: after each epoch of a trial, should it stop now?

A pruner keeps no state between calls: it judges from the trials' history
(TrialRecord.curve holds a trial's objective after each finished epoch, so
curve[epoch - 1] is the value at that epoch). The asking trial is recognised by
its number and never compared with itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from ..checks import SpecError
from ..strategies.base import TrialRecord
from ..strategies.settings_checks import SettingInfo, merge_settings, read_schema

#: (trial number, epoch, value, history) -> stop now?
ShouldStop = Callable[[int, int, float, list[TrialRecord]], bool]


class Pruner(ABC):
    """Built once per decision from the search's settings; `direction` is the objective's ("max" or "min"),
    `final_epoch` the epochs a trial trains when nothing stops it, `metric` the objective's name."""

    name: str = ""
    label: str = ""

    def __init__(self, settings: dict | None = None, direction: str = "max", final_epoch: int = 0,
                 metric: str = "val_accuracy"):
        if direction not in ("max", "min"):
            raise SpecError("direction", f"must be 'max' or 'min', got {direction!r}")
        self.direction = direction
        self.final_epoch = final_epoch
        self.metric = metric
        self.settings = self.validate_settings(dict(settings or {}))

    #: One line of help per setting, for the form.
    settings_help: dict[str, str] = {}

    @classmethod
    def default_settings(cls) -> dict:
        return {}

    @classmethod
    def settings_schema(cls) -> list[SettingInfo]:
        """Each setting with its default, its range (read off validate_settings' checks) and its help."""
        probe = cls.__new__(cls)
        probe.direction, probe.final_epoch, probe.metric = "max", 0, "val_accuracy"
        return read_schema(probe.validate_settings, cls.default_settings(), cls.settings_help)

    def settings_owner(self) -> str:
        """How the message for a setting this pruner lacks names the pruner."""
        return f"the {self.name} pruner"

    def validate_settings(self, settings: dict) -> dict:
        return merge_settings(self.default_settings(), settings, self.settings_owner())

    @abstractmethod
    def should_stop(self, trial_number: int, epoch: int, value: float, history: list[TrialRecord]) -> bool:
        """True when the trial should stop now, after `epoch` epochs (counted from 1)."""
