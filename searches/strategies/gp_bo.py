"""Gaussian-process Bayesian optimisation with expected improvement.

The kernel is an RBF on the one-hot encodings, which is exp(-hamming / lengthscale)
in the number of decisions two architectures differ in. Its lengthscale and the
noise level are picked from small grids by the marginal likelihood, one Cholesky
factorisation per pair, so no optimiser is needed and the fit is deterministic.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import ndtr

from .model_based import ModelBasedStrategy
from .settings_checks import check_float_setting

LENGTHSCALES = (0.5, 1.0, 2.0, 4.0, 8.0)
NOISE_LEVELS = (1e-3, 1e-2, 1e-1)


class GaussianProcessBO(ModelBasedStrategy):
    name = "gp_bo"
    label = "Gaussian-process BO"
    settings_help = {
        **ModelBasedStrategy.settings_help,
        "xi": "expected-improvement margin: larger explores more",
    }

    @classmethod
    def default_settings(cls) -> dict:
        return {**super().default_settings(), "xi": 0.01}

    def validate_settings(self, settings: dict) -> dict:
        merged = super().validate_settings(settings)
        check_float_setting(merged, "xi", 0.0, 10.0)
        return merged

    def acquisition(self, x_train, y_train, x_candidates, rng) -> np.ndarray:
        gp = HammingGP.fit(x_train, y_train)
        mean, sd = gp.predict(x_candidates)
        return expected_improvement(mean, sd, y_train.max(), self.settings["xi"])


def hamming_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Decisions that differ between rows of one-hot encodings (half the squared distance)."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(squared, 0.0) / 2.0


class HammingGP:
    def __init__(self, x: np.ndarray, lengthscale: float, noise: float, factor, alpha: np.ndarray):
        self.x, self.lengthscale, self.noise, self.factor, self.alpha = x, lengthscale, noise, factor, alpha

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray) -> "HammingGP":
        distances = hamming_distances(x, x)
        best, best_evidence = None, -np.inf
        for lengthscale in LENGTHSCALES:
            for noise in NOISE_LEVELS:
                gram = np.exp(-distances / lengthscale) + noise * np.eye(len(x))
                factor = cho_factor(gram, lower=True)
                alpha = cho_solve(factor, y)
                # log marginal likelihood, up to a constant shared by every candidate
                evidence = -0.5 * y @ alpha - np.log(np.diag(factor[0])).sum()
                if evidence > best_evidence:
                    best, best_evidence = cls(x, lengthscale, noise, factor, alpha), evidence
        return best

    def predict(self, x_new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cross = np.exp(-hamming_distances(x_new, self.x) / self.lengthscale)
        mean = cross @ self.alpha
        variance = 1.0 - (cross * cho_solve(self.factor, cross.T).T).sum(1)
        return mean, np.sqrt(np.maximum(variance, 1e-12))


def expected_improvement(mean: np.ndarray, sd: np.ndarray, best: float, xi: float) -> np.ndarray:
    gain = mean - best - xi
    z = gain / sd
    return gain * ndtr(z) + sd * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
