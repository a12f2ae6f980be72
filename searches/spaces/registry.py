"""kind -> space class. Model choices and form fields are built from this dict."""

from __future__ import annotations

from ..checks import SpecError
from .base import SearchSpace
from .chain_mlp import ChainMLPSpace
from .hybrid import HybridSpace
from .macro_cnn import MacroCNNSpace
from .nb201 import NB201Space
from .transformer import TransformerSpace

SPACES: dict[str, type[SearchSpace]] = {
    ChainMLPSpace.kind: ChainMLPSpace,
    NB201Space.kind: NB201Space,
    MacroCNNSpace.kind: MacroCNNSpace,
    TransformerSpace.kind: TransformerSpace,
    HybridSpace.kind: HybridSpace,
}


def build_space(kind: str, spec: dict | None = None) -> SearchSpace:
    if kind not in SPACES:
        raise SpecError("kind", f"unknown search space {kind!r}; choose one of {sorted(SPACES)}")
    return SPACES[kind](spec)
