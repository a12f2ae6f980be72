"""Random one-shot search: random sampling with weight sharing (Li & Talwalkar, UAI 2019; Guo et al.'s
single-path one-shot, ECCV 2020).

Supernet training: every batch trains the single path of an architecture drawn uniformly (one
uniform draw per decision), so all paths get an equal share of the updates. Derivation:
`derive_samples` distinct architectures drawn the same way are evaluated on the validation split
with the inherited weights, and the best is returned. The sampling distribution never changes,
so the per-epoch architecture weights are the uniform distribution.
"""

from __future__ import annotations

from ..strategies.settings_checks import check_int_setting
from .search import EpochCallback, OneShotResult, OneShotSearch, averaged
from .supernet import choice_label, path_gates


class RandomOneShot(OneShotSearch):
    name = "random_oneshot"
    label = "Random one-shot (weight sharing)"
    settings_help = {
        "derive_samples": "random architectures scored with inherited weights to pick the result",
    }

    @classmethod
    def strategy_settings(cls) -> dict:
        return {"derive_samples": 20}

    def check_strategy_settings(self, settings: dict) -> None:
        check_int_setting(settings, "derive_samples", 1, 10_000)

    def train_epoch(self, epoch: int) -> dict:
        loss_total, correct, seen = 0.0, 0, 0
        for x, y in self.train_batches():
            arch = self.space.sample(self.rng)
            loss, right = self.weight_step(x, y, path_gates(self.space, arch))
            loss_total, correct, seen = loss_total + loss * len(y), correct + right, seen + len(y)
        return {"train_loss": averaged(loss_total, seen), "train_accuracy": averaged(correct, seen)}

    def arch_weights(self) -> dict[str, dict[str, float]]:
        return {d.name: {choice_label(c): 1.0 / len(d.choices) for c in d.choices} for d in self.space.decisions}

    def sample_candidates(self) -> list[dict]:
        """`derive_samples` distinct uniform draws (fewer only when the space is smaller)."""
        wanted = min(self.settings["derive_samples"], self.space.size())
        archs: list[dict] = []
        for _ in range(100 * wanted):
            archs = self.distinct([*archs, self.space.sample(self.rng)])
            if len(archs) == wanted:
                break
        return archs

    def derive(self) -> tuple[dict, list[dict]]:
        return self.evaluate_candidates(self.sample_candidates())


def run_random_oneshot(space, data, settings: dict | None = None, seed: int = 0,
                       on_epoch: EpochCallback | None = None) -> OneShotResult:
    return RandomOneShot(space, data, settings, seed).run(on_epoch)
