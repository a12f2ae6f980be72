"""A surrogate predictor: architecture encoding -> metric, fitted on finished trials.

Two regressors in plain numpy: ridge regression (closed form; the default, good
with few trials) and a small ensemble of one-hidden-layer MLPs (nonlinear, and
the spread of its members is an uncertainty). The Surrogate wraps either one
with a space's encoder, so strategies speak in architectures, and offers
skip_poor to drop candidates predicted worse than most finished trials before
they cost any training.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..strategies.base import COMPLETE

MIN_TRIALS = 3


class SurrogateError(ValueError):
    pass


class RidgeRegressor:
    """Least squares with an L2 penalty on the weights (not the intercept)."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X: np.ndarray, y: np.ndarray) -> "RidgeRegressor":
        self.x_mean, self.y_mean = X.mean(axis=0), y.mean()
        centred = X - self.x_mean
        gram = centred.T @ centred + self.alpha * np.eye(X.shape[1])
        self.weights = np.linalg.solve(gram, centred.T @ (y - self.y_mean))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean) @ self.weights + self.y_mean

    def predict_std(self, X: np.ndarray) -> np.ndarray:
        return np.zeros(len(X))


class MLPEnsemble:
    """Members with different seeds, each tanh MLP trained full-batch with Adam on the
    standardised target; the prediction is their mean, the uncertainty their spread."""

    def __init__(self, members: int = 5, hidden: int = 32, steps: int = 400, lr: float = 0.01,
                 weight_decay: float = 1e-3, seed: int = 0):
        self.members, self.hidden, self.steps = members, hidden, steps
        self.lr, self.weight_decay, self.seed = lr, weight_decay, seed

    def fit(self, X: np.ndarray, y: np.ndarray) -> "MLPEnsemble":
        self.y_mean, self.y_scale = y.mean(), y.std() or 1.0
        target = (y - self.y_mean) / self.y_scale
        self.nets = [self._train_member(X, target, np.random.default_rng([self.seed, m]))
                     for m in range(self.members)]
        return self

    def _train_member(self, X: np.ndarray, target: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
        params = [rng.normal(0, 1 / np.sqrt(X.shape[1]), (X.shape[1], self.hidden)), np.zeros(self.hidden),
                  rng.normal(0, 1 / np.sqrt(self.hidden), self.hidden), np.zeros(1)]
        moments = [np.zeros_like(p) for p in params]
        squares = [np.zeros_like(p) for p in params]
        for step in range(1, self.steps + 1):
            grads = self._gradients(params, X, target)
            for p, g, m, v in zip(params, grads, moments, squares, strict=True):
                m[...] = 0.9 * m + 0.1 * g
                v[...] = 0.999 * v + 0.001 * g * g
                p -= self.lr * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        return params

    def _gradients(self, params, X, target):
        w1, b1, w2, b2 = params
        hidden = np.tanh(X @ w1 + b1)
        error = (hidden @ w2 + b2 - target) * (2.0 / len(X))
        back = np.outer(error, w2) * (1 - hidden**2)
        return [X.T @ back + self.weight_decay * w1, back.sum(axis=0),
                hidden.T @ error + self.weight_decay * w2, np.array([error.sum()])]

    def _member_predictions(self, X: np.ndarray) -> np.ndarray:
        outputs = [np.tanh(X @ w1 + b1) @ w2 + b2 for w1, b1, w2, b2 in self.nets]
        return np.array(outputs) * self.y_scale + self.y_mean

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._member_predictions(X).mean(axis=0)

    def predict_std(self, X: np.ndarray) -> np.ndarray:
        return self._member_predictions(X).std(axis=0)


REGRESSORS: dict[str, Callable[..., object]] = {"ridge": RidgeRegressor, "mlp": MLPEnsemble}


class Surrogate:
    """Predicts a metric of architectures from their encodings (e.g. space.encode).

    direction "max" or "min" says which values are good; skip_poor uses it.
    """

    def __init__(self, encode: Callable[[dict], Sequence[float]], kind: str = "ridge",
                 direction: str = "max", **regressor_options):
        if kind not in REGRESSORS:
            raise SurrogateError(f"unknown surrogate {kind!r}; choose one of {sorted(REGRESSORS)}")
        if direction not in ("max", "min"):
            raise SurrogateError(f"direction must be max or min, got {direction!r}")
        self.encode, self.direction = encode, direction
        self.regressor = REGRESSORS[kind](**regressor_options)
        self.observed: np.ndarray | None = None

    def _matrix(self, archs: Sequence[dict]) -> np.ndarray:
        return np.asarray([self.encode(a) for a in archs], dtype=np.float64)

    def fit(self, archs: Sequence[dict], values: Sequence[float]) -> "Surrogate":
        values = np.asarray(values, dtype=np.float64)
        if len(archs) != len(values):
            raise SurrogateError(f"{len(archs)} architectures but {len(values)} values")
        if len(archs) < MIN_TRIALS:
            raise SurrogateError(f"need at least {MIN_TRIALS} finished trials to fit, got {len(archs)}")
        if not np.all(np.isfinite(values)):
            raise SurrogateError("the values to fit must be finite")
        self.regressor.fit(self._matrix(archs), values)
        self.observed = values
        return self

    @classmethod
    def from_trials(cls, trials, encode, metric: str = "val_accuracy", **options) -> "Surrogate":
        """Fit on the finished trials (TrialRecords) that report the metric."""
        usable = [t for t in trials if t.state == COMPLETE and t.value(metric) is not None
                  and np.isfinite(t.value(metric))]
        return cls(encode, **options).fit([t.arch for t in usable], [t.value(metric) for t in usable])

    def _check_fitted(self) -> None:
        if self.observed is None:
            raise SurrogateError("the surrogate has not been fitted")

    def predict(self, archs: Sequence[dict]) -> np.ndarray:
        self._check_fitted()
        return self.regressor.predict(self._matrix(archs)) if archs else np.zeros(0)

    def predict_std(self, archs: Sequence[dict]) -> np.ndarray:
        """The ensemble's spread (zeros for ridge, which has no ensemble)."""
        self._check_fitted()
        return self.regressor.predict_std(self._matrix(archs)) if archs else np.zeros(0)

    def skip_poor(self, candidates: Sequence[dict], quantile: float) -> list[dict]:
        """The candidates predicted at least as good as the given quantile of the finished
        trials (quantile 0.5: at least as good as the median trial), in their order.
        Every candidate may be poor, so the list can be empty."""
        self._check_fitted()
        if not 0 <= quantile <= 1:
            raise SurrogateError(f"quantile must be in [0, 1], got {quantile}")
        predicted = self.predict(candidates)
        if self.direction == "max":
            keep = predicted >= np.quantile(self.observed, quantile)
        else:
            keep = predicted <= np.quantile(self.observed, 1 - quantile)
        return [c for c, k in zip(candidates, keep, strict=True) if k]
