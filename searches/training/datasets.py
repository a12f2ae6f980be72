"""Built-in datasets as in-memory tensors with deterministic splits.

Loaders are ours (no torchvision); scikit-learn's bundled datasets ship with the
package and the bit-string tasks are generated, so nothing is downloaded at run
time. Uploaded files are read by uploads.py into the same DataSplits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Inputs of a classification task: images (C, H, W), tabular (F,) or token ids (L,).
CLASSIFICATION = "classification"
#: Next-token prediction: x (N, L) token ids, y (N, L) the ids one step later.
LANGUAGE_MODELLING = "language_modelling"
TASKS = (CLASSIFICATION, LANGUAGE_MODELLING)

#: Bit strings of the synthetic tasks are odd in length so that majority never ties.
BIT_STRING_LENGTH = 15
BIT_STRING_SAMPLES = 2000


class DatasetError(ValueError):
    """A dataset cannot be loaded or is invalid; the message says why."""


@dataclass
class DataSplits:
    """Train/val/test tensors. x holds floats (token ids too: the spaces cast them); y holds longs."""

    x_train: "object"
    y_train: "object"
    x_val: "object"
    y_val: "object"
    x_test: "object"
    y_test: "object"
    input_shape: tuple
    num_classes: int
    task: str = CLASSIFICATION
    #: Size of the token vocabulary when x holds token ids; 0 for images and tabular data.
    vocab_size: int = 0

    def fraction(self, frac: float, seed: int) -> "DataSplits":
        """A deterministic subset of the training split (low-fidelity training)."""
        if not 0 < frac <= 1:
            raise DatasetError(f"data fraction must be in (0, 1], got {frac}")
        if frac == 1:
            return self
        import torch

        n = max(1, int(len(self.x_train) * frac))
        idx = torch.randperm(len(self.x_train), generator=torch.Generator().manual_seed(seed))[:n]
        return dataclasses.replace(self, x_train=self.x_train[idx], y_train=self.y_train[idx])

    def summary(self) -> dict:
        """What the upload form and the Dataset row show."""
        info = {
            "samples": len(self.x_train) + len(self.x_val) + len(self.x_test),
            "input_shape": list(self.input_shape),
            "num_classes": self.num_classes,
            "task": self.task,
        }
        if self.vocab_size:
            info["vocab_size"] = self.vocab_size
        return info


def split_arrays(x: np.ndarray, y: np.ndarray, input_shape: tuple, num_classes: int,
                 seed: int, val: float = 0.15, test: float = 0.15,
                 task: str = CLASSIFICATION, vocab_size: int = 0) -> DataSplits:
    """Shuffle with the seed and cut into train/val/test tensors."""
    import torch

    if len(x) != len(y):
        raise DatasetError(f"{len(x)} samples but {len(y)} labels")
    if len(x) < 10:
        raise DatasetError(f"need at least 10 samples, got {len(x)}")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test, n_val = max(1, int(len(x) * test)), max(1, int(len(x) * val))
    xt = torch.as_tensor(np.ascontiguousarray(x).reshape((len(x), *input_shape)), dtype=torch.float32)
    yt = torch.as_tensor(np.ascontiguousarray(y), dtype=torch.long)
    a, b = n_test, n_test + n_val
    return DataSplits(xt[b:], yt[b:], xt[a:b], yt[a:b], xt[:a], yt[:a], tuple(input_shape), num_classes,
                      task, vocab_size)


def standardise(splits: DataSplits) -> DataSplits:
    """Zero mean, unit variance per feature, with statistics of the training split only
    (using val/test statistics would leak them into training)."""
    mean = splits.x_train.mean(dim=0, keepdim=True)
    std = splits.x_train.std(dim=0, keepdim=True)
    std = std.where(std > 1e-8, std.new_ones(()))  # a constant feature stays constant, not NaN
    return dataclasses.replace(
        splits,
        x_train=(splits.x_train - mean) / std,
        x_val=(splits.x_val - mean) / std,
        x_test=(splits.x_test - mean) / std,
    )


# --- built-in loaders --------------------------------------------------------------------
def load_digits(seed: int) -> DataSplits:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return split_arrays(d.data.astype(np.float32) / 16.0, d.target, (1, 8, 8), 10, seed)


def load_sklearn_tabular(loader_name: str, seed: int) -> DataSplits:
    import sklearn.datasets

    d = getattr(sklearn.datasets, loader_name)()
    x = d.data.astype(np.float32)
    num_classes = int(d.target.max()) + 1
    return standardise(split_arrays(x, d.target, (x.shape[1],), num_classes, seed))


def bit_strings(kind: str, seed: int, samples: int = BIT_STRING_SAMPLES,
                length: int = BIT_STRING_LENGTH) -> tuple[np.ndarray, np.ndarray]:
    """Random bit strings and their label: parity (odd number of ones) or majority (more ones than zeros)."""
    bits = np.random.default_rng(seed).integers(0, 2, size=(samples, length))
    ones = bits.sum(axis=1)
    if kind == "parity":
        labels = ones % 2
    elif kind == "majority":
        labels = (ones * 2 > length).astype(np.int64)
    else:
        raise DatasetError(f"unknown bit-string task {kind!r}; use parity or majority")
    return bits.astype(np.float32), labels


def load_bit_task(kind: str, seed: int) -> DataSplits:
    x, y = bit_strings(kind, seed)
    return split_arrays(x, y, (x.shape[1],), 2, seed, vocab_size=2)


@dataclass(frozen=True)
class BuiltinDataset:
    key: str
    label: str
    task: str
    loader: Callable[[int], DataSplits]


def _partial(function, *args) -> Callable[[int], DataSplits]:
    return lambda seed: function(*args, seed)


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    "digits": BuiltinDataset("digits", "Digits (8x8 images, 10 classes)", CLASSIFICATION, load_digits),
    "wine": BuiltinDataset("wine", "Wine (13 features, 3 classes)", CLASSIFICATION,
                           _partial(load_sklearn_tabular, "load_wine")),
    "breast_cancer": BuiltinDataset("breast_cancer", "Breast cancer (30 features, 2 classes)", CLASSIFICATION,
                                    _partial(load_sklearn_tabular, "load_breast_cancer")),
    "parity": BuiltinDataset("parity", f"Parity of {BIT_STRING_LENGTH} bits (token sequence, 2 classes)",
                             CLASSIFICATION, _partial(load_bit_task, "parity")),
    "majority": BuiltinDataset("majority", f"Majority of {BIT_STRING_LENGTH} bits (token sequence, 2 classes)",
                               CLASSIFICATION, _partial(load_bit_task, "majority")),
}


def load_builtin(key: str, seed: int = 0) -> DataSplits:
    if key not in BUILTIN_DATASETS:
        raise DatasetError(f"unknown built-in dataset {key!r}; choose one of {sorted(BUILTIN_DATASETS)}")
    return BUILTIN_DATASETS[key].loader(seed)
