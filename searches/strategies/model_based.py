"""What BANANAS and GP-BO share: a surrogate fitted on space.encode, scored over a candidate pool.

The pool holds every unseen neighbour of the best few trials (local, where good
architectures are likely) plus random architectures (global, so the search can
leave a basin); every `distant_every`-th proposal is the best-scored random one,
which on NAS-Bench-201 (tuned on seeds apart from the reported ones) kept the
surrogate from settling on a local optimum. Searching the acquisition over such a
pool instead of the whole space is what makes these methods practical (White et
al. 2021).
"""

from __future__ import annotations

import functools
import random
from abc import abstractmethod

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata
from threadpoolctl import ThreadpoolController

from ..checks import SpecError
from .base import Strategy, TrialRecord
from .settings_checks import check_int_setting


class ModelBasedStrategy(Strategy):
    settings_help = {
        "initial_samples": "random trials before the predictor is used",
        "parents": "best trials whose mutations are candidates",
        "random_candidates": "random candidates scored by the predictor",
        "distant_every": "every n-th proposal comes from the random pool (0: never)",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {"initial_samples": 10, "parents": 10, "random_candidates": 100, "distant_every": 2}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "initial_samples", 2, 10_000)
        check_int_setting(merged, "parents", 0, 1000)
        check_int_setting(merged, "random_candidates", 0, 100_000)
        check_int_setting(merged, "distant_every", 0, 1000)
        if merged["parents"] == 0 and merged["random_candidates"] == 0:
            raise SpecError("random_candidates", "must be above 0 when parents is 0, or no candidate is scored")
        return merged

    @abstractmethod
    def acquisition(self, x_train: np.ndarray, y_train: np.ndarray, x_candidates: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
        """One value per candidate row; the highest is proposed first. y_train is on normal scores."""

    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        rng = self.rng(history)
        seen = self.seen_keys(history)
        scored = self.scored(history)
        if len(scored) < self.settings["initial_samples"]:
            return self.fill_random(rng, seen, n)
        local, distant = self.candidate_pool(scored, rng, seen)
        candidates = local + distant
        out: list[dict] = []
        if candidates:
            x_train = self.encode_all([(self.space.key(t.arch), t.arch) for _, t in scored])
            y_train = normal_scores(np.array([s for s, _ in scored]))
            with single_threaded_blas():
                values = self.acquisition(x_train, y_train, self.encode_all(candidates), _numpy_rng(rng))
            ranked = [int(i) for i in np.argsort(-values, kind="stable")]
            for position in range(len(history), len(history) + min(n, len(candidates))):
                index = self._pick(ranked, len(local), position)
                ranked.remove(index)
                key, arch = candidates[index]
                seen.add(key)
                out.append(arch)
        return out + self.fill_random(rng, seen, n - len(out))

    def _pick(self, ranked: list[int], first_distant: int, position: int) -> int:
        """The best remaining candidate; every `distant_every`-th proposal only from the random ones.

        Without that, the neighbours of a local optimum's basin keep out-scoring
        everything else once the surrogate has fitted the basin, and the search stalls.
        """
        every = self.settings["distant_every"]
        if every and position % every == 0:
            distant = next((i for i in ranked if i >= first_distant), None)
            if distant is not None:
                return distant
        return ranked[0]

    def candidate_pool(self, scored: list[tuple[float, TrialRecord]], rng: random.Random,
                       seen: set[str]) -> tuple[list[tuple[str, dict]], list[tuple[str, dict]]]:
        """(key, arch) of unseen, feasible neighbours of the best trials, and of random architectures."""
        pooled = set(seen)
        local: list[tuple[str, dict]] = []
        best = sorted(scored, key=lambda pair: (-pair[0], pair[1].number))[: self.settings["parents"]]
        for _, trial in best:
            for key, arch in self.neighbours_of(trial.arch):
                if key not in pooled and self.feasible(arch):
                    pooled.add(key)
                    local.append((key, arch))
        distant = [(self.space.key(a), a) for a in self.sample_new(rng, pooled, self.settings["random_candidates"])]
        return local, distant

    def encode_all(self, keyed_archs: list[tuple[str, dict]]) -> np.ndarray:
        """Encodings as rows; memoised by key, since the same neighbours come back ask after ask."""
        cache = self.__dict__.setdefault("_encoding_cache", {})
        rows = []
        for key, arch in keyed_archs:
            if key not in cache:
                cache[key] = self.space.encode(arch)
            rows.append(cache[key])
        return np.array(rows, dtype=float).reshape(len(rows), -1)


def normal_scores(values: np.ndarray) -> np.ndarray:
    """Scores mapped through their ranks onto standard normal quantiles (a Gaussian copula).

    Accuracies have a long tail of broken architectures; on the raw scale those
    outliers would dominate the fit and flatten the region that matters, the top.
    """
    ranks = rankdata(values)
    return ndtri(ranks / (len(values) + 1))


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def single_threaded_blas():
    """A context that keeps numpy's BLAS on one thread.

    The matrices here are a few hundred rows: threads gain nothing on them, and on
    a busy machine (a worker training models next door) spinning BLAS threads made
    each product up to 50 times slower.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


def _numpy_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(63))
