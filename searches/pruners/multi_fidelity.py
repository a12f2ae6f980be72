"""Multi-fidelity pruners: stop unpromising trials early by comparing their learning
curves with the other trials' at the same epoch.

Rungs are the epochs min_resource * eta**k. Successive halving, ASHA and Hyperband
decide only at rungs; median stopping decides after every epoch past a warm-up.
"""

from __future__ import annotations

import math
import statistics

from ..strategies.base import TrialRecord
from ..strategies.settings_checks import check_int_setting
from .base import Pruner


class CurveComparisonPruner(Pruner):
    """Shared by the pruners that compare a trial's value with the other trials' curves."""

    def settings_owner(self) -> str:
        return f"the {self.name} pruner"

    def oriented(self, value: float) -> float:
        """Higher is better, whatever the direction."""
        return value if self.direction == "max" else -value

    def others_at(self, epoch: int, trial_number: int, history: list[TrialRecord]) -> list[TrialRecord]:
        """The other trials whose curves reached this epoch."""
        return [t for t in history if t.number != trial_number and len(t.curve) >= epoch]


class RungPruner(CurveComparisonPruner):
    """Shared by the successive-halving family: rungs at min_resource * eta**k."""

    settings_help = {
        "min_resource": "epochs of the first rung",
        "eta": "keep the best 1/eta at each rung",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {"min_resource": 1, "eta": 3}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "min_resource", 1, 100_000)
        check_int_setting(merged, "eta", 2, 100)
        return merged

    def rung_of(self, epoch: int, min_resource: int | None = None) -> int | None:
        """k when epoch == min_resource * eta**k, else None."""
        resource, eta = min_resource or self.settings["min_resource"], self.settings["eta"]
        rung = 0
        while resource < epoch:
            resource *= eta
            rung += 1
        return rung if resource == epoch else None

    def in_top_fraction(self, value: float, rivals: list[float]) -> bool:
        """ASHA's promotion rule: in the top 1/eta of everyone at this rung, itself included.
        While fewer than eta have arrived, only a value at least as good as all of them passes."""
        ranked = sorted([self.oriented(value), *rivals], reverse=True)
        cutoff = max(1, len(ranked) // self.settings["eta"])
        return self.oriented(value) >= ranked[cutoff - 1]


class SuccessiveHalvingPruner(RungPruner):
    """Synchronous successive halving (Jamieson & Talwalkar 2016) over cohorts of trials.

    Trials 1..cohort_size form the first cohort, the next cohort_size the second, and
    so on. At rung k a cohort keeps its best cohort_size // eta**(k+1) trials (at least
    one). A trial stops as soon as that many cohort members are already better at
    its rung: then no later arrival can bring it back into the top 1/eta.
    """

    name = "successive_halving"
    label = "Successive halving"
    settings_help = {**RungPruner.settings_help, "cohort_size": "trials per cohort that race each other"}

    @classmethod
    def default_settings(cls) -> dict:
        return {**super().default_settings(), "cohort_size": 9}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "cohort_size", 2, 100_000)
        return merged

    def should_stop(self, trial_number, epoch, value, history) -> bool:
        rung = self.rung_of(epoch)
        if rung is None:
            return False
        size = self.settings["cohort_size"]
        promoted = max(1, size // self.settings["eta"] ** (rung + 1))
        cohort = (trial_number - 1) // size
        rivals = [t for t in self.others_at(epoch, trial_number, history) if (t.number - 1) // size == cohort]
        better = sum(1 for t in rivals if self.oriented(t.curve[epoch - 1]) > self.oriented(value))
        return better >= promoted


class ASHAPruner(RungPruner):
    """Asynchronous successive halving (Li et al. 2020): compare with every trial that reached the rung."""

    name = "asha"
    label = "ASHA (asynchronous successive halving)"

    def should_stop(self, trial_number, epoch, value, history) -> bool:
        if self.rung_of(epoch) is None:
            return False
        rivals = [self.oriented(t.curve[epoch - 1]) for t in self.others_at(epoch, trial_number, history)]
        return not self.in_top_fraction(value, rivals)


class HyperbandPruner(RungPruner):
    """Hyperband (Li et al. 2018): several successive-halving brackets with different first rungs.

    Bracket b starts at min_resource * eta**b; the aggressive brackets (small b) get
    more trials, in Hyperband's proportions: with s = s_max - b rungs above the first,
    n = ceil((s_max + 1) / (s + 1) * eta**s).
    A trial's bracket follows from its number, and it competes ASHA-style only with
    trials of its own bracket.
    """

    name = "hyperband"
    label = "Hyperband"
    settings_help = {**RungPruner.settings_help, "max_resource": "epochs of the last rung"}

    @classmethod
    def default_settings(cls) -> dict:
        return {**super().default_settings(), "max_resource": 27}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "max_resource", merged["min_resource"], 100_000)
        return merged

    def bracket_sizes(self) -> list[int]:
        eta = self.settings["eta"]
        s_max = int(math.log(self.settings["max_resource"] / self.settings["min_resource"], eta) + 1e-9)
        return [math.ceil((s_max + 1) / (s + 1) * eta**s) for s in range(s_max, -1, -1)]

    def bracket_of(self, trial_number: int) -> int:
        sizes = self.bracket_sizes()
        position = (trial_number - 1) % sum(sizes)
        for bracket, size in enumerate(sizes):
            if position < size:
                return bracket
            position -= size
        raise AssertionError("unreachable: position is below the sum of the sizes")

    def should_stop(self, trial_number, epoch, value, history) -> bool:
        bracket = self.bracket_of(trial_number)
        first_rung = self.settings["min_resource"] * self.settings["eta"] ** bracket
        if self.rung_of(epoch, first_rung) is None:
            return False
        rivals = [self.oriented(t.curve[epoch - 1]) for t in self.others_at(epoch, trial_number, history)
                  if self.bracket_of(t.number) == bracket]
        return not self.in_top_fraction(value, rivals)


class MedianStoppingPruner(CurveComparisonPruner):
    """Median stopping (Golovin et al. 2017, Vizier): stop when the trial's best value so far is
    worse than the median of the other trials' running averages at the same epoch."""

    name = "median"
    label = "Median stopping"
    settings_help = {"warmup_epochs": "epochs before a trial may be stopped",
                     "min_trials": "trials that must have reached an epoch before it judges"}

    @classmethod
    def default_settings(cls) -> dict:
        return {"warmup_epochs": 1, "min_trials": 5}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "warmup_epochs", 0, 100_000)
        check_int_setting(merged, "min_trials", 1, 100_000)
        return merged

    def should_stop(self, trial_number, epoch, value, history) -> bool:
        if epoch <= self.settings["warmup_epochs"]:
            return False
        others = self.others_at(epoch, trial_number, history)
        if len(others) < self.settings["min_trials"]:
            return False
        averages = [statistics.fmean(self.oriented(v) for v in t.curve[:epoch]) for t in others]
        own = next((t for t in history if t.number == trial_number), None)
        earlier = list(own.curve[: epoch - 1]) if own is not None else []
        best_so_far = max(self.oriented(v) for v in [*earlier, value])
        return best_so_far < statistics.median(averages)

