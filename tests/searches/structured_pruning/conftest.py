import dataclasses

import pytest
import torch

from searches.spaces.chain_mlp import ChainMLPSpace
from searches.training.datasets import load_builtin
from searches.training.trainer import TrainConfig, train

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def small_digits():
    data = load_builtin("digits", 0)
    return dataclasses.replace(data, x_train=data.x_train[:256], y_train=data.y_train[:256],
                               x_val=data.x_val[:128], y_val=data.y_val[:128],
                               x_test=data.x_test[:128], y_test=data.y_test[:128])


@pytest.fixture(scope="session")
def mlp_space():
    return ChainMLPSpace({"widths": [8, 16, 24, 32], "max_depth": 2, "norms": ["batch"], "dropouts": [0.0],
                          "activations": ["relu"]})


@pytest.fixture(scope="session")
def trained_arch():
    return {"depth": 2, "width_1": 32, "width_2": 24, "activation": "relu", "dropout": 0.0, "norm": "batch"}


@pytest.fixture(scope="session")
def trained(mlp_space, trained_arch, small_digits):
    torch.manual_seed(0)
    model = mlp_space.to_torch(trained_arch, small_digits.input_shape, small_digits.num_classes)
    train(model, small_digits, TrainConfig(epochs=3, seed=0))
    return model
