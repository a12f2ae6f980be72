"""Tree-structured Parzen Estimator over the categorical decisions (Bergstra et al. 2011).

The complete trials are split by score: the best gamma fraction is "good", the rest
"bad". Each decision gets two smoothed categorical densities, l (good) and g (bad);
a trial only counts for the decisions active in it. Candidates are drawn from l and
the one maximising l(x)/g(x), summed in log space over its active decisions, wins.
"""

from __future__ import annotations

import math
import random

from .base import Strategy, TrialRecord
from .settings_checks import check_float_setting, check_int_setting

Densities = dict[str, dict]  # decision name -> {choice: probability}


class TPE(Strategy):
    name = "tpe"
    label = "TPE (Parzen estimator)"
    settings_help = {
        "startup_trials": "random trials before the density model is used",
        "gamma": "share of trials counted as good",
        "candidates": "candidates drawn from the good density per proposal",
        "prior_weight": "weight of the uniform prior in each density",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {"startup_trials": 20, "gamma": 0.15, "candidates": 24, "prior_weight": 1.0}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "startup_trials", 1, 10_000)
        check_float_setting(merged, "gamma", 0.0, 0.5, open_low=True)
        check_int_setting(merged, "candidates", 1, 10_000)
        check_float_setting(merged, "prior_weight", 0.0, 1000.0, open_low=True)
        return merged

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        rng = self.rng(history)
        seen = self.seen_keys(history)
        scored = sorted(self.scored(history), key=lambda pair: (-pair[0], pair[1].number))
        if len(scored) < self.settings["startup_trials"]:
            return self.fill_random(rng, seen, n)
        good, bad = self.split(scored)
        l_density, g_density = self.densities(good), self.densities(bad)
        return self.propose_each(n, rng, seen, lambda i: self._best_candidate(l_density, g_density, rng, seen))

    def split(self, scored: list[tuple[float, TrialRecord]]) -> tuple[list[dict], list[dict]]:
        """(good archs, bad archs): the top ceil(gamma * n), at least one, and the rest."""
        n_good = max(1, math.ceil(self.settings["gamma"] * len(scored)))
        archs = [t.arch for _, t in scored]
        return archs[:n_good], archs[n_good:]

    def densities(self, archs: list[dict]) -> Densities:
        """Per decision: (count of each choice + prior_weight spread evenly) / (trials + prior_weight)."""
        prior = self.settings["prior_weight"]
        out: Densities = {}
        for d in self.space.decisions:
            counts = dict.fromkeys(d.choices, prior / len(d.choices))
            for arch in archs:
                if d.name in arch:
                    counts[arch[d.name]] += 1.0
            total = sum(counts.values())
            out[d.name] = {choice: c / total for choice, c in counts.items()}
        return out

    def log_ratio(self, arch: dict, l_density: Densities, g_density: Densities) -> float:
        return sum(math.log(l_density[name][v]) - math.log(g_density[name][v]) for name, v in arch.items())

    def _best_candidate(self, l_density, g_density, rng: random.Random, seen: set[str]) -> dict | None:
        best, best_ratio, best_key = None, float("-inf"), None
        for _ in range(self.settings["candidates"]):
            arch = self.space.to_arch({name: _draw(probs, rng) for name, probs in l_density.items()})
            key = self.space.key(arch)
            if key in seen:
                continue
            ratio = self.log_ratio(arch, l_density, g_density)
            if ratio > best_ratio and self.feasible(arch):
                best, best_ratio, best_key = arch, ratio, key
        if best is not None:
            seen.add(best_key)
        return best


def _draw(probs: dict, rng: random.Random):
    return rng.choices(list(probs), weights=list(probs.values()))[0]
