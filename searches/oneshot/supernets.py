"""The supernet for a space: picks the supernet class per space kind (supernet.py holds the shared parts)."""

from __future__ import annotations

from ..checks import SpecError
from ..spaces.base import SearchSpace
from .supernet import Supernet
from .supernet_chain_mlp import ChainMLPSupernet
from .supernet_macro_cnn import MacroCNNSupernet
from .supernet_nb201 import NB201Supernet

#: space kind -> supernet class
SUPERNETS: dict[str, type[Supernet]] = {
    "nb201": NB201Supernet,
    "chain_mlp": ChainMLPSupernet,
    "macro_cnn": MacroCNNSupernet,
}


def build_supernet(space: SearchSpace, input_shape: tuple, num_classes: int) -> Supernet:
    """The supernet for a space kind; SpecError for kinds without one."""
    if space.kind not in SUPERNETS:
        raise SpecError("space", f"one-shot search has no supernet for the {space.kind!r} space; "
                                 "use nb201, chain_mlp or macro_cnn")
    return SUPERNETS[space.kind](space, input_shape, num_classes)
