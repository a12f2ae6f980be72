"""Built-in datasets as in-memory tensors with deterministic splits.

Loaders are ours (no torchvision); scikit-learn's bundled datasets ship with the
package, so nothing is downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


class DatasetError(ValueError):
    """A dataset cannot be loaded or is invalid; the message says why."""


@dataclass
class DataSplits:
    x_train: "object"
    y_train: "object"
    x_val: "object"
    y_val: "object"
    x_test: "object"
    y_test: "object"
    input_shape: tuple
    num_classes: int
    task: str = "classification"

    def fraction(self, frac: float, seed: int) -> "DataSplits":
        """A deterministic subset of the training split (low-fidelity training)."""
        if not 0 < frac <= 1:
            raise DatasetError(f"data fraction must be in (0, 1], got {frac}")
        if frac == 1:
            return self
        import torch

        n = max(1, int(len(self.x_train) * frac))
        idx = torch.randperm(len(self.x_train), generator=torch.Generator().manual_seed(seed))[:n]
        return DataSplits(self.x_train[idx], self.y_train[idx], self.x_val, self.y_val,
                          self.x_test, self.y_test, self.input_shape, self.num_classes, self.task)


def split_arrays(x: np.ndarray, y: np.ndarray, input_shape: tuple, num_classes: int,
                 seed: int, val: float = 0.15, test: float = 0.15) -> DataSplits:
    """Shuffle with the seed and cut into train/val/test tensors."""
    import torch

    if len(x) != len(y):
        raise DatasetError(f"{len(x)} samples but {len(y)} labels")
    if len(x) < 10:
        raise DatasetError(f"need at least 10 samples, got {len(x)}")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test, n_val = max(1, int(len(x) * test)), max(1, int(len(x) * val))
    xt = torch.as_tensor(x.reshape((len(x), *input_shape)), dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    a, b = n_test, n_test + n_val
    return DataSplits(xt[b:], yt[b:], xt[a:b], yt[a:b], xt[:a], yt[:a], tuple(input_shape), num_classes)


def load_digits(seed: int) -> DataSplits:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return split_arrays(d.data.astype(np.float32) / 16.0, d.target, (1, 8, 8), 10, seed)


@dataclass(frozen=True)
class BuiltinDataset:
    key: str
    label: str
    task: str
    loader: Callable[[int], DataSplits]


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    "digits": BuiltinDataset("digits", "Digits (8x8 images, 10 classes)", "classification", load_digits),
}


def load_builtin(key: str, seed: int = 0) -> DataSplits:
    if key not in BUILTIN_DATASETS:
        raise DatasetError(f"unknown built-in dataset {key!r}; choose one of {sorted(BUILTIN_DATASETS)}")
    return BUILTIN_DATASETS[key].loader(seed)
