"""Zero-cost pre-ranking: score many candidate architectures untrained, train only the best few.

Each candidate is built with the same seed and scored on the same minibatch, so
the ranking depends on the architectures alone and repeats exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .zero_cost import compute_proxy, random_batch


@dataclass(frozen=True)
class RankedArch:
    arch: dict
    score: float


def score_archs(space, archs: list[dict], proxy: str, x, y, num_classes: int,
                task: str = "classification", vocab_size: int = 0, seed: int = 0) -> list[float]:
    """The proxy score of each architecture; non-finite scores become -inf (ranked last)."""
    import torch

    input_shape = tuple(x.shape[1:])
    scores = []
    for arch in archs:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = space.to_torch(arch, input_shape, num_classes, task=task, vocab_size=vocab_size)
        score = compute_proxy(proxy, model, x, y, seed=seed)
        scores.append(score if math.isfinite(score) else -math.inf)
    return scores


def prerank(space, archs: list[dict], proxy: str, k: int, x=None, y=None, *, input_shape: tuple | None = None,
            num_classes: int = 10, task: str = "classification", vocab_size: int = 0,
            batch: int = 64, seed: int = 0) -> list[RankedArch]:
    """The k best-scoring architectures, best first (ties keep the input order).

    Give a real minibatch (x, y), or an input_shape for a seeded random one.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if x is None:
        if input_shape is None:
            raise ValueError("give a minibatch (x, y) or an input_shape")
        x, y = random_batch(tuple(input_shape), num_classes, batch, seed, vocab_size, task)
    scores = score_archs(space, archs, proxy, x, y, num_classes, task, vocab_size, seed)
    order = sorted(range(len(archs)), key=lambda i: -scores[i])
    return [RankedArch(archs[i], scores[i]) for i in order[:k]]


def minibatch(data, batch: int = 64, seed: int = 0):
    """A seeded minibatch from a DataSplits' training split (for data-aware proxies)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.x_train), generator=generator)[:batch]
    return data.x_train[idx], data.y_train[idx]
