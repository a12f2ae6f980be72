"""Filters between a strategy's proposals and training (no Django).

The strategy proposes `prerank_pool` times as many candidates as there are free
slots, and the filters choose among them:
- Zero-cost pre-ranking: each candidate is scored by a zero-cost proxy on one
  minibatch, untrained, and only the best are trained.
- Surrogate skipping: once a few trials have finished, a predictor fitted on
  their encodings drops candidates predicted below a quantile of the results.
"""

from __future__ import annotations

from .estimators.preranking import minibatch, prerank
from .estimators.surrogate import MIN_TRIALS, Surrogate
from .estimators.zero_cost import PROXIES
from .strategies.base import COMPLETE, TrialRecord

DEFAULTS = {"prerank_proxy": "", "prerank_pool": 4, "surrogate_quantile": None}


class EstimationError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def validate_estimation(settings: dict) -> dict:
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise EstimationError(unknown[0], "is not an estimation setting")
    merged = {**DEFAULTS, **settings}
    proxy = merged["prerank_proxy"]
    if proxy and (not isinstance(proxy, str) or proxy not in PROXIES):  # a list or dict is no name (nor hashable)
        raise EstimationError("prerank_proxy", f"unknown proxy; choose one of {sorted(PROXIES)}")
    pool = merged["prerank_pool"]
    if isinstance(pool, bool) or not isinstance(pool, int) or not 2 <= pool <= 50:
        raise EstimationError("prerank_pool", "must be a whole number from 2 to 50")
    quantile = merged["surrogate_quantile"]
    if quantile is not None and (not isinstance(quantile, (int, float)) or not 0 < quantile < 1):
        raise EstimationError("surrogate_quantile", "must be between 0 and 1 (e.g. 0.5: at least the median)")
    return merged


def pool_size(settings: dict, wanted: int) -> int:
    """Candidates to ask the strategy for: a pool per free slot when a filter will choose."""
    filtering = settings.get("prerank_proxy") or settings.get("surrogate_quantile")
    return wanted * settings["prerank_pool"] if filtering else wanted


def choose(space, candidates: list[dict], wanted: int, history: list[TrialRecord], settings: dict, *,
           metric: str, direction: str, data=None, input_shape=(3, 32, 32), num_classes: int = 10,
           seed: int = 0) -> list[dict]:
    """The candidates to train, at most `wanted`, best first when a filter ranked them."""
    quantile = settings.get("surrogate_quantile")
    finished = [t for t in history if t.state == COMPLETE and t.value(metric) is not None]
    if quantile and len(finished) >= MIN_TRIALS and candidates:
        surrogate = Surrogate.from_trials(history, space.encode, metric=metric, direction=direction)
        kept = surrogate.skip_poor(candidates, quantile)
        # Best predicted first; and never stall the search: when every candidate looks
        # poor, train the least poor.
        candidates = _best_predicted(surrogate, kept or candidates, direction, len(kept) or wanted)
    if settings.get("prerank_proxy") and len(candidates) > wanted:
        return [r.arch for r in _prerank(space, candidates, settings["prerank_proxy"], wanted, data,
                                         input_shape, num_classes, seed)]
    return candidates[:wanted]


def _best_predicted(surrogate: Surrogate, candidates: list[dict], direction: str, wanted: int) -> list[dict]:
    predicted = surrogate.predict(candidates)
    order = sorted(range(len(candidates)), key=lambda i: predicted[i], reverse=direction == "max")
    return [candidates[i] for i in order[:wanted]]


def _prerank(space, candidates, proxy, k, data, input_shape, num_classes, seed):
    if data is not None:
        x, y = minibatch(data, seed=seed)
        return prerank(space, candidates, proxy, k, x, y, num_classes=data.num_classes, task=data.task,
                       vocab_size=data.vocab_size, seed=seed)
    return prerank(space, candidates, proxy, k, input_shape=input_shape, num_classes=num_classes, seed=seed)
