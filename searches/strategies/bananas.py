"""BANANAS (White et al. 2021): Bayesian optimisation with an ensemble of small MLPs.

Each member is a one-hidden-layer MLP on space.encode, trained full-batch with
Adam from its own random initialisation; all members train at once as stacked
numpy arrays, which keeps an ask in the millisecond range. The spread of the
ensemble is the uncertainty. Acquisition: independent Thompson sampling (one
draw from N(mean, sd) per candidate, as in the paper) or an upper confidence bound.
"""

from __future__ import annotations

import numpy as np

from .model_based import ModelBasedStrategy
from .settings_checks import check_choice_setting, check_float_setting, check_int_setting

ADAM_BETAS = (0.9, 0.999)


class Bananas(ModelBasedStrategy):
    name = "bananas"
    label = "BANANAS (neural predictor BO)"

    @classmethod
    def default_settings(cls) -> dict:
        return {
            **super().default_settings(),
            "ensemble_size": 5,
            "hidden_units": 32,
            "train_steps": 150,
            "learning_rate": 0.01,
            "acquisition": "its",
            "ucb_beta": 1.0,
        }

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_int_setting(merged, "ensemble_size", 2, 100)
        check_int_setting(merged, "hidden_units", 1, 1024)
        check_int_setting(merged, "train_steps", 1, 100_000)
        check_float_setting(merged, "learning_rate", 0.0, 1.0, open_low=True)
        check_choice_setting(merged, "acquisition", ("its", "ucb"))
        check_float_setting(merged, "ucb_beta", 0.0, 100.0)
        return merged

    def acquisition(self, x_train, y_train, x_candidates, rng) -> np.ndarray:
        ensemble = MLPEnsemble.fit(x_train, y_train, rng, members=self.settings["ensemble_size"],
                                   hidden=self.settings["hidden_units"], steps=self.settings["train_steps"],
                                   learning_rate=self.settings["learning_rate"])
        predictions = ensemble.predict(x_candidates)
        mean, sd = predictions.mean(axis=0), predictions.std(axis=0)
        if self.settings["acquisition"] == "ucb":
            return mean + self.settings["ucb_beta"] * sd
        return rng.normal(mean, sd)


class MLPEnsemble:
    """members x (inputs -> hidden ReLU -> 1) MLPs, stored as stacked weight arrays."""

    def __init__(self, params: list[np.ndarray]):
        self.params = params

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, members: int, hidden: int,
            steps: int, learning_rate: float) -> "MLPEnsemble":
        inputs = x.shape[1]
        params = [
            rng.normal(0.0, np.sqrt(2.0 / max(inputs, 1)), (members, inputs, hidden)),
            np.zeros((members, 1, hidden)),
            rng.normal(0.0, np.sqrt(1.0 / hidden), (members, hidden, 1)),
            np.zeros((members, 1, 1)),
        ]
        ensemble = cls(params)
        moments = [np.zeros_like(p) for p in params]
        squares = [np.zeros_like(p) for p in params]
        b1, b2 = ADAM_BETAS
        for step in range(1, steps + 1):
            grads = ensemble._gradients(x, y)
            for p, g, m, v in zip(params, grads, moments, squares, strict=True):
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * g * g
                p -= learning_rate * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + 1e-8)
        return ensemble

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(members, rows) predictions."""
        w1, b1, w2, b2 = self.params
        hidden = np.maximum(x[None] @ w1 + b1, 0.0)
        return (hidden @ w2 + b2)[..., 0]

    def _gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """Gradients of each member's mean squared error."""
        w1, b1, w2, b2 = self.params
        pre = x[None] @ w1 + b1
        hidden = np.maximum(pre, 0.0)
        error = (hidden @ w2 + b2) - y[None, :, None]
        d_out = 2.0 * error / len(y)
        d_hidden = (d_out @ w2.transpose(0, 2, 1)) * (pre > 0)
        return [
            x.T[None] @ d_hidden,
            d_hidden.sum(axis=1, keepdims=True),
            hidden.transpose(0, 2, 1) @ d_out,
            d_out.sum(axis=1, keepdims=True),
        ]
