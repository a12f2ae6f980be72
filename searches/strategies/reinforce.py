"""REINFORCE controller (Zoph & Le 2017) with one softmax per decision.

The policy is not stored: it is re-derived by replaying the complete trials in
trial-number order, applying one policy-gradient step per trial. The baseline is an
exponential moving average of the rewards; the advantage is divided by a moving
estimate of the rewards' spread, so one learning rate suits accuracies in [0, 1]
as well as any other scale.

With `cost_metric` set, the reward is MONAS's R = a * objective - (1 - a) * cost,
where the cost is divided by the largest cost among the complete trials (so
both terms are comparable) and a is `accuracy_weight`.
"""

from __future__ import annotations

import math
import random

from ..checks import SpecError
from .base import Strategy, TrialRecord, by_number
from .settings_checks import check_float_setting

Logits = dict[str, list[float]]  # decision name -> one logit per choice


class Reinforce(Strategy):
    name = "reinforce"
    label = "REINFORCE controller"
    settings_help = {
        "learning_rate": "the controller's policy-gradient step",
        "baseline_decay": "moving-average decay of the reward baseline",
        "cost_metric": "MONAS: a cost (e.g. params or latency_ms@3) that lowers the reward; empty: accuracy only",
        "accuracy_weight": "MONAS: weight of accuracy against the cost in the reward",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {"learning_rate": 0.3, "baseline_decay": 0.9, "cost_metric": "", "accuracy_weight": 0.9}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_float_setting(merged, "learning_rate", 0.0, 100.0, open_low=True)
        check_float_setting(merged, "baseline_decay", 0.0, 0.999)
        check_float_setting(merged, "accuracy_weight", 0.0, 1.0)
        if not isinstance(merged["cost_metric"], str):
            raise SpecError("cost_metric", f"must be a metric name or empty, got {merged['cost_metric']!r}")
        return merged

    # --- the policy ------------------------------------------------------------------------
    def rewards(self, history: list[TrialRecord]) -> list[tuple[float, TrialRecord]]:
        """(reward, trial) for the complete trials, in trial-number order."""
        scored = self.scored(by_number(history))
        cost_metric = self.settings["cost_metric"]
        if not cost_metric:
            return scored
        costs = {t.number: t.value(cost_metric) for _, t in scored}
        scored = [(s, t) for s, t in scored if costs[t.number] is not None]
        largest = max((abs(c) for c in costs.values() if c is not None), default=0.0) or 1.0
        a = self.settings["accuracy_weight"]
        return [(a * s - (1 - a) * costs[t.number] / largest, t) for s, t in scored]

    def logits(self, history: list[TrialRecord]) -> Logits:
        logits: Logits = {d.name: [0.0] * len(d.choices) for d in self.space.decisions}
        baseline, spread = None, 0.0
        decay = self.settings["baseline_decay"]
        for reward, trial in self.rewards(history):
            if baseline is None:
                baseline = reward  # the first reward sets the baseline: no signal yet
                continue
            deviation = reward - baseline
            spread = decay * spread + (1 - decay) * deviation**2
            advantage = deviation / (math.sqrt(spread) + 1e-8)
            self._step(logits, trial.arch, advantage)
            baseline = decay * baseline + (1 - decay) * reward
        return logits

    def policy(self, history: list[TrialRecord]) -> dict[str, list[float]]:
        """Choice probabilities per decision after replaying the history."""
        return {name: _softmax(values) for name, values in self.logits(history).items()}

    def _step(self, logits: Logits, arch: dict, advantage: float) -> None:
        """Gradient ascent on advantage * log pi(arch) for every active decision."""
        lr = self.settings["learning_rate"]
        for name, value in arch.items():
            probs = _softmax(logits[name])
            chosen = self.space.decision(name).index_of(value)
            for i, p in enumerate(probs):
                logits[name][i] += lr * advantage * ((1.0 if i == chosen else 0.0) - p)

    # --- proposals -------------------------------------------------------------------------
    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        rng = self.rng(history)
        seen = self.seen_keys(history)
        policy = self.policy(history)
        return self.propose_each(n, rng, seen, lambda i: self._sample_policy(policy, rng, seen))

    def _sample_policy(self, policy: dict, rng: random.Random, seen: set[str], tries: int = 200) -> dict | None:
        for _ in range(tries):
            choices = {d.name: rng.choices(d.choices, weights=policy[d.name])[0] for d in self.space.decisions}
            arch = self.space.to_arch(choices)
            if self.accept(arch, seen):
                return arch
        return None


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]
