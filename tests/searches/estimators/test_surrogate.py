import random

import numpy as np
import pytest
from scipy.stats import spearmanr

from searches.estimators.surrogate import MLPEnsemble, RidgeRegressor, Surrogate, SurrogateError
from searches.spaces.chain_mlp import ChainMLPSpace
from searches.strategies.base import COMPLETE, FAILED, TrialRecord

SPACE = ChainMLPSpace()


def archs(n, seed):
    rng = random.Random(seed)
    return [SPACE.sample(rng) for _ in range(n)]


def linear_metric(arch):
    """A made-up accuracy that depends linearly on the encoding (ridge can recover it)."""
    weights = np.linspace(-0.05, 0.05, SPACE.encoding_length())
    return 0.7 + float(np.dot(weights, SPACE.encode(arch)))


def test_ridge_recovers_a_linear_metric():
    train, test = archs(80, 0), archs(40, 1)
    surrogate = Surrogate(SPACE.encode, alpha=1e-3).fit(train, [linear_metric(a) for a in train])
    predicted = surrogate.predict(test)
    assert np.allclose(predicted, [linear_metric(a) for a in test], atol=2e-3)
    assert np.all(surrogate.predict_std(test) == 0)


def test_mlp_ensemble_ranks_a_nonlinear_metric_and_reports_spread():
    def metric(arch):  # deeper helps, but only with wide enough layers
        widths = [arch[f"width_{i}"] for i in range(1, arch["depth"] + 1)]
        return 0.5 + 0.1 * arch["depth"] * (min(widths) >= 64) + 0.02 * (arch["activation"] == "gelu")

    train, test = archs(120, 2), archs(60, 3)
    surrogate = Surrogate(SPACE.encode, kind="mlp", members=3, steps=300, seed=0)
    surrogate.fit(train, [metric(a) for a in train])
    rho = spearmanr(surrogate.predict(test), [metric(a) for a in test]).statistic
    assert rho > 0.7
    assert np.all(surrogate.predict_std(test) > 0)


def test_mlp_ensemble_is_seeded():
    X = np.random.default_rng(0).normal(size=(20, 4))
    y = X[:, 0] ** 2
    a = MLPEnsemble(members=2, steps=50, seed=1).fit(X, y).predict(X)
    b = MLPEnsemble(members=2, steps=50, seed=1).fit(X, y).predict(X)
    c = MLPEnsemble(members=2, steps=50, seed=2).fit(X, y).predict(X)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_ridge_regressor_alone():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3
    assert np.allclose(RidgeRegressor(alpha=1e-8).fit(X, y).predict(X), y, atol=1e-6)


def test_skip_poor_drops_candidates_predicted_below_the_quantile():
    train, candidates = archs(60, 4), archs(30, 5)
    values = [linear_metric(a) for a in train]
    surrogate = Surrogate(SPACE.encode, alpha=1e-3).fit(train, values)
    kept = surrogate.skip_poor(candidates, quantile=0.5)
    median = np.median(values)
    assert kept == [c for c in candidates if surrogate.predict([c])[0] >= median]
    assert 0 < len(kept) < len(candidates)
    assert len(surrogate.skip_poor(candidates, 0.9)) < len(kept)


def test_skip_poor_for_a_metric_to_minimise():
    train, candidates = archs(60, 6), archs(30, 7)
    values = [linear_metric(a) for a in train]
    surrogate = Surrogate(SPACE.encode, direction="min", alpha=1e-3).fit(train, values)
    kept = surrogate.skip_poor(candidates, quantile=0.75)
    threshold = np.quantile(values, 0.25)
    assert kept == [c for c in candidates if surrogate.predict([c])[0] <= threshold]


def test_from_trials_uses_finished_trials_with_the_metric():
    train = archs(10, 8)
    trials = [TrialRecord(i, a, COMPLETE, {"val_accuracy": linear_metric(a)}) for i, a in enumerate(train)]
    trials += [TrialRecord(20, train[0], FAILED, {}), TrialRecord(21, train[1], COMPLETE, {"params": 5})]
    surrogate = Surrogate.from_trials(trials, SPACE.encode, metric="val_accuracy", alpha=1e-3)
    assert len(surrogate.observed) == 10


def test_surrogate_errors():
    with pytest.raises(SurrogateError, match="unknown surrogate 'forest'"):
        Surrogate(SPACE.encode, kind="forest")
    with pytest.raises(SurrogateError, match="direction"):
        Surrogate(SPACE.encode, direction="up")
    surrogate = Surrogate(SPACE.encode)
    with pytest.raises(SurrogateError, match="not been fitted"):
        surrogate.predict(archs(2, 0))
    with pytest.raises(SurrogateError, match="at least 3 finished trials"):
        surrogate.fit(archs(2, 0), [0.5, 0.6])
    with pytest.raises(SurrogateError, match="3 architectures but 2 values"):
        surrogate.fit(archs(3, 0), [0.5, 0.6])
    with pytest.raises(SurrogateError, match="finite"):
        surrogate.fit(archs(3, 0), [0.5, float("nan"), 0.6])
    surrogate.fit(archs(3, 0), [0.5, 0.6, 0.7])
    with pytest.raises(SurrogateError, match="quantile"):
        surrogate.skip_poor(archs(2, 1), 1.5)
    assert surrogate.skip_poor([], 0.5) == []
