"""What BANANAS and GP-BO share: a surrogate fitted on space.encode, scored over a candidate pool.

The pool holds every unseen neighbour of the best few trials (local, where good
architectures are likely) plus random architectures (global, so the search can
leave a basin); every `distant_every`-th proposal is the best-scored random one,
which on NAS-Bench-201 (tuned on seeds apart from the reported ones) kept the
surrogate from settling on a local optimum. Searching the acquisition over such a
pool instead of the whole space is what makes these methods practical (White et
al. 2021).

Zero-cost warm-up (`zero_cost_pool` > 0): the first `initial_samples` trials are not random but
the best of a random pool of that many architectures by the space's zero-cost prior (on
NAS-Bench-201 the effective parameter count, which costs no training and no network build), and
with `zero_cost_feature` the prior is one more input of the surrogate, so that it can tell apart
candidates the trials have not covered. `zero_cost_keep` < 1 restricts the whole search (initial
samples, neighbours, random candidates) to the architectures whose prior is in the top
`zero_cost_keep` fraction of PRIOR_SCALE_SAMPLES random ones (on NAS-Bench-201 the prior takes few
values: over all 15,625 cells, 0.2 keeps 21% of them and 49 of the 50 best by validation accuracy,
0.1 keeps 13% and 47 of the 50). After Abdelfattah et al. (ICLR 2021), section 5, who warm
up searches with synflow over a pool of random cells.
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
from ..spaces.base import SearchSpace
from .base import Strategy, TrialRecord
from .settings_checks import check_bool_setting, check_float_setting, check_int_setting

#: Random architectures whose priors set the scale of the zero-cost feature.
PRIOR_SCALE_SAMPLES = 1000


class ModelBasedStrategy(Strategy):
    settings_help = {
        "initial_samples": "random trials before the predictor is used",
        "parents": "best trials whose mutations are candidates",
        "random_candidates": "random candidates scored by the predictor",
        "distant_every": "every n-th proposal comes from the random pool (0: never)",
        "zero_cost_pool": "0: random initial samples; n: the initial samples are the best of n random "
                          "architectures by the space's zero-cost prior (NAS-Bench-201: effective parameters)",
        "zero_cost_feature": "give the surrogate the zero-cost prior as one more input",
        "zero_cost_keep": "search only the architectures whose zero-cost prior is in this top fraction "
                          "(1: all)",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {"initial_samples": 10, "parents": 10, "random_candidates": 100, "distant_every": 2,
                "zero_cost_pool": 0, "zero_cost_feature": False, "zero_cost_keep": 1.0}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "initial_samples", 2, 10_000)
        check_int_setting(merged, "parents", 0, 1000)
        check_int_setting(merged, "random_candidates", 0, 100_000)
        check_int_setting(merged, "distant_every", 0, 1000)
        if merged["parents"] == 0 and merged["random_candidates"] == 0:
            raise SpecError("random_candidates", "must be above 0 when parents is 0, or no candidate is scored")
        check_int_setting(merged, "zero_cost_pool", 0, 100_000)
        check_bool_setting(merged, "zero_cost_feature")
        check_float_setting(merged, "zero_cost_keep", 0.0, 1.0, open_low=True)
        wanted = [name for name in ("zero_cost_pool", "zero_cost_feature") if merged[name]]
        wanted += ["zero_cost_keep"] if merged["zero_cost_keep"] < 1.0 else []
        if wanted:
            if type(self.space).zero_cost_prior is SearchSpace.zero_cost_prior:
                name = wanted[0]
                raise SpecError(name, f"the {self.space.label} space has no zero-cost prior; leave it off")
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
            warm = self.zero_cost_warmup(seen, min(n, self.settings["initial_samples"] - len(scored)))
            return warm + self.fill_random(rng, seen, n - len(warm))
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

    def zero_cost_warmup(self, seen: set[str], n: int) -> list[dict]:
        """Up to n unseen, feasible architectures of the warm-up pool, best zero-cost prior first
        (ties in the pool's order). The pool is drawn once per search, from the seed alone."""
        if not self.settings["zero_cost_pool"] or n <= 0:
            return []
        if "_warmup_ranked" not in self.__dict__:
            pool = self.sample_new(random.Random(f"{self.seed}:zero-cost-pool:{self.name}"), set(),
                                   self.settings["zero_cost_pool"], max_tries=4 * self.settings["zero_cost_pool"])
            priors = [self.space.zero_cost_prior(arch) for arch in pool]
            self._warmup_ranked = [pool[i] for i in np.argsort(-np.array(priors), kind="stable")]
        out = []
        for arch in self._warmup_ranked:
            if len(out) == n:
                break
            if self.accept(arch, seen):
                out.append(arch)
        return out

    def reference_priors(self) -> np.ndarray:
        """The priors of PRIOR_SCALE_SAMPLES random architectures (fixed by the seed; constraints
        are not applied, so the reference describes the space)."""
        if "_reference_priors" not in self.__dict__:
            rng, seen, priors = random.Random(f"{self.seed}:prior-scale"), set(), []
            for _ in range(4 * PRIOR_SCALE_SAMPLES):
                arch = self.space.sample(rng)
                key = self.space.key(arch)
                if key not in seen:
                    seen.add(key)
                    priors.append(self.space.zero_cost_prior(arch))
                if len(priors) == PRIOR_SCALE_SAMPLES:
                    break
            self._reference_priors = np.array(priors)
        return self._reference_priors

    def prior_feature(self, arch: dict) -> float:
        """log(1 + prior), standardised over the reference priors, so that the feature sits on the
        scale of the one-hot inputs."""
        logs = np.log1p(self.reference_priors())
        mean, sd = float(logs.mean()), float(logs.std()) or 1.0
        return (float(np.log1p(self.space.zero_cost_prior(arch))) - mean) / sd

    def feasible(self, arch: dict) -> bool:
        """The constraints, and with zero_cost_keep < 1 a prior in the kept top fraction."""
        if not super().feasible(arch):
            return False
        keep = self.settings["zero_cost_keep"]
        if keep >= 1.0:
            return True
        if "_prior_floor" not in self.__dict__:
            self._prior_floor = float(np.quantile(self.reference_priors(), 1.0 - keep, method="lower"))
        return self.space.zero_cost_prior(arch) >= self._prior_floor

    def encode_all(self, keyed_archs: list[tuple[str, dict]]) -> np.ndarray:
        """Encodings as rows (with the prior feature when asked); memoised by key, since the same
        neighbours come back ask after ask."""
        cache = self.__dict__.setdefault("_encoding_cache", {})
        rows = []
        for key, arch in keyed_archs:
            if key not in cache:
                cache[key] = self.space.encode(arch)
                if self.settings["zero_cost_feature"]:
                    cache[key] = [*cache[key], self.prior_feature(arch)]
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
