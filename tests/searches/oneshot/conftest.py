import dataclasses

import pytest
import torch

from searches.spaces.chain_mlp import ChainMLPSpace
from searches.spaces.macro_cnn import MacroCNNSpace
from searches.spaces.nb201 import NB201Space
from searches.training.datasets import load_builtin

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits():
    return load_builtin("digits", 0)


@pytest.fixture(scope="session")
def tiny_digits(digits):
    """A small slice of digits: one-shot runs of 1-3 epochs in well under a second."""
    return dataclasses.replace(digits, x_train=digits.x_train[:192], y_train=digits.y_train[:192],
                               x_val=digits.x_val[:96], y_val=digits.y_val[:96],
                               x_test=digits.x_test[:96], y_test=digits.y_test[:96])


@pytest.fixture
def nb201():
    return NB201Space({"C": 4, "N": 1})


@pytest.fixture
def chain_mlp():
    return ChainMLPSpace({"widths": [8, 16, 32], "norms": ["none", "batch", "layer"]})


@pytest.fixture
def macro_cnn():
    return MacroCNNSpace({"channels": [4, 8], "stem_channels": 4, "max_stages": 2, "strides": [1, 2]})


@pytest.fixture
def spaces(nb201, chain_mlp, macro_cnn):
    return {"nb201": nb201, "chain_mlp": chain_mlp, "macro_cnn": macro_cnn}
