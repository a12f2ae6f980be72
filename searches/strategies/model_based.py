"""What BANANAS and GP-BO share: a surrogate fitted on space.encode, scored over a candidate pool.

The pool holds every unseen neighbour of the best few trials (local, where good
architectures are likely) plus random architectures (global, so the search can
leave a basin). Searching the acquisition over such a pool instead of the whole
space is what makes these methods practical (White et al. 2021).
"""

from __future__ import annotations

import random
from abc import abstractmethod

import numpy as np

from ..spaces.base import SpecError
from .base import Strategy, TrialRecord
from .settings_checks import check_int_setting


class ModelBasedStrategy(Strategy):
    @classmethod
    def default_settings(cls) -> dict:
        return {"initial_samples": 10, "parents": 10, "random_candidates": 100}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "initial_samples", 2, 10_000)
        check_int_setting(merged, "parents", 0, 1000)
        check_int_setting(merged, "random_candidates", 0, 100_000)
        if merged["parents"] == 0 and merged["random_candidates"] == 0:
            raise SpecError("random_candidates", "must be above 0 when parents is 0, or no candidate is scored")
        return merged

    @abstractmethod
    def acquisition(self, x_train: np.ndarray, y_train: np.ndarray, x_candidates: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
        """One value per candidate row; the highest is proposed first. y_train is standardised."""

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        rng = self.rng(history)
        seen = self.seen_keys(history)
        scored = self.scored(history)
        if len(scored) < self.settings["initial_samples"]:
            return self.fill_random(rng, seen, n)
        candidates = self.candidate_pool(scored, rng, seen)
        out: list[dict] = []
        if candidates:
            x_train = self.encode_all([t.arch for _, t in scored])
            y_train = _standardise(np.array([s for s, _ in scored]))
            values = self.acquisition(x_train, y_train, self.encode_all(candidates), _numpy_rng(rng))
            for index in np.argsort(-values, kind="stable")[:n]:
                seen.add(self.space.key(candidates[index]))
                out.append(candidates[index])
        return out + self.fill_random(rng, seen, n - len(out))

    def candidate_pool(self, scored: list[tuple[float, TrialRecord]], rng: random.Random,
                       seen: set[str]) -> list[dict]:
        """Unseen, feasible neighbours of the best trials, then random architectures; no repeats."""
        pooled = set(seen)
        pool: list[dict] = []
        best = sorted(scored, key=lambda pair: (-pair[0], pair[1].number))[: self.settings["parents"]]
        for _, trial in best:
            for key, arch in self.neighbours_of(trial.arch):
                if key not in pooled and self.feasible(arch):
                    pooled.add(key)
                    pool.append(arch)
        pool.extend(self.sample_new(rng, pooled, self.settings["random_candidates"]))
        return pool

    def encode_all(self, archs: list[dict]) -> np.ndarray:
        return np.array([self.space.encode(a) for a in archs], dtype=float).reshape(len(archs), -1)


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / (spread if spread > 0 else 1.0)


def _numpy_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(63))
