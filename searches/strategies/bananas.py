"""BANANAS (White et al. 2021): Bayesian optimisation with an ensemble of small MLPs.

Each member is a one-hidden-layer MLP on space.encode, trained full-batch with
Adam from its own random initialisation; all members train at once as stacked
numpy arrays, which keeps an ask in the millisecond range. The spread of the
ensemble is the uncertainty. Acquisition: an upper confidence bound, mean + beta * sd
(the default: it beat Thompson sampling on NAS-Bench-201, tuned on seeds apart from
the reported ones), or independent Thompson sampling, one draw from N(mean, sd) per
candidate, as in the paper. The members start from a least-squares output layer,
so 30 Adam steps suffice.
"""

from __future__ import annotations

import numpy as np

from .model_based import ModelBasedStrategy
from .settings_checks import check_choice_setting, check_float_setting, check_int_setting

ADAM_BETAS = (0.9, 0.999)


class Bananas(ModelBasedStrategy):
    name = "bananas"
    label = "BANANAS (neural predictor BO)"
    settings_help = {
        **ModelBasedStrategy.settings_help,
        "ensemble_size": "MLP predictors in the ensemble",
        "hidden_units": "width of each predictor",
        "train_steps": "training steps of each predictor per proposal",
        "learning_rate": "the predictors' learning rate",
        "acquisition": "its: independent Thompson sampling; ucb: mean plus ucb_beta standard deviations",
        "ucb_beta": "exploration weight of ucb",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {
            **super().default_settings(),
            "ensemble_size": 5,
            "hidden_units": 32,
            "train_steps": 30,
            "learning_rate": 0.01,
            "acquisition": "ucb",
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
    """members x (inputs -> hidden ReLU -> 1) MLPs.

    The members' hidden layers sit side by side in one wide matrix, so a training
    step for the whole ensemble costs two matrix products.
    """

    def __init__(self, params: list[np.ndarray], members: int, hidden: int):
        self.params, self.members, self.hidden = params, members, hidden

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, members: int, hidden: int,
            steps: int, learning_rate: float) -> "MLPEnsemble":
        inputs = x.shape[1]
        params = [
            rng.normal(0.0, np.sqrt(2.0 / max(inputs, 1)), (inputs, members * hidden)),
            np.zeros(members * hidden),
            rng.normal(0.0, np.sqrt(1.0 / hidden), (members, hidden)),
            np.zeros(members),
        ]
        ensemble = cls(params, members, hidden)
        ensemble._fit_output_layer(x, y)
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

    def _fit_output_layer(self, x: np.ndarray, y: np.ndarray, ridge: float = 1.0) -> None:
        """Start each member from the least-squares output layer for its random hidden layer,
        so that a few dozen Adam steps are enough (a full fit from scratch takes hundreds)."""
        _, hidden, _ = self._forward(x)
        w2, b2 = self.params[2], self.params[3]
        centred = y - y.mean()
        for member in range(self.members):
            h = hidden[:, member, :]
            w2[member] = np.linalg.solve(h.T @ h + ridge * np.eye(self.hidden), h.T @ centred)
            b2[member] = y.mean()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(members, rows) predictions."""
        return self._forward(x)[2].T

    def _forward(self, x: np.ndarray):
        w1, b1, w2, b2 = self.params
        pre = x @ w1 + b1
        hidden = np.maximum(pre, 0.0).reshape(len(x), self.members, self.hidden)
        return pre, hidden, (hidden * w2).sum(axis=2) + b2

    def _gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """Gradients of the sum of the members' mean squared errors."""
        w2 = self.params[2]
        pre, hidden, out = self._forward(x)
        d_out = 2.0 * (out - y[:, None]) / len(y)  # (rows, members)
        d_hidden = (d_out[:, :, None] * w2).reshape(len(x), -1) * (pre > 0)
        return [x.T @ d_hidden, d_hidden.sum(axis=0), (hidden * d_out[:, :, None]).sum(axis=0), d_out.sum(axis=0)]
