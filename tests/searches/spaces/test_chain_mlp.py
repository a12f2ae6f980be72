import random

import pytest
import torch
from torch import nn

from searches.checks import SpecError
from searches.spaces.base import SearchSpace
from searches.spaces.chain_mlp import ChainMLPSpace


def arch(**overrides) -> dict:
    base = {"depth": 2, "width_1": 32, "width_2": 64, "activation": "relu", "dropout": 0.0, "norm": "none"}
    return {**base, **overrides}


def test_decisions_list_a_width_for_every_possible_layer():
    space = ChainMLPSpace({"min_depth": 2, "max_depth": 4})
    names = [d.name for d in space.decisions]
    assert names == ["depth", "width_1", "width_2", "width_3", "width_4", "activation", "dropout", "norm"]
    assert space.decision("depth").choices == (2, 3, 4)


def test_widths_beyond_the_depth_are_inactive():
    space = ChainMLPSpace()
    full = space.complete({"depth": 1})
    assert space.active_decisions(full) == ["depth", "width_1", "activation", "dropout", "norm"]


def test_size_counts_each_depth_separately():
    space = ChainMLPSpace({"min_depth": 1, "max_depth": 2, "widths": [8, 16, 32], "activations": ["relu"],
                           "dropouts": [0.0, 0.1], "norms": ["none"]})
    # depth 1: 3 widths, depth 2: 9 width pairs; times 2 dropouts
    assert space.size() == (3 + 9) * 2
    assert SearchSpace.size(space) == 2 * 3 * 3 * 2  # the plain product counts unused widths too


def test_spec_lists_are_normalised():
    space = ChainMLPSpace({"widths": [64, 16], "activations": ["gelu", "relu"], "dropouts": [0, 0.5]})
    assert space.spec["widths"] == [16, 64]
    assert space.spec["activations"] == ["relu", "gelu"]  # the space's own order
    assert space.decision("dropout").choices == (0.0, 0.5)


@pytest.mark.parametrize(("spec", "field"), [
    ({"min_depth": 3, "max_depth": 2}, "max_depth"),
    ({"min_depth": 0}, "min_depth"),
    ({"max_depth": 13}, "max_depth"),
    ({"widths": [32, 32]}, "widths"),
    ({"widths": [0]}, "widths"),
    ({"dropouts": [0.95]}, "dropouts"),
    ({"activations": ["swish"]}, "activations"),
    ({"norms": []}, "norms"),
])
def test_bad_spec_names_the_field(spec, field):
    with pytest.raises(SpecError) as err:
        ChainMLPSpace(spec)
    assert err.value.field == field


def test_non_choice_depth_is_a_spec_error_not_a_crash():
    space = ChainMLPSpace()
    with pytest.raises(SpecError) as err:
        space.validate_arch(arch(depth="2"))
    assert err.value.field == "depth"


def test_width_past_the_depth_is_rejected():
    space = ChainMLPSpace()
    with pytest.raises(SpecError) as err:
        space.validate_arch(arch(depth=1))
    assert err.value.field == "width_2"


def test_model_has_the_chosen_widths_norm_activation_and_dropout():
    space = ChainMLPSpace()
    model = space.to_torch(arch(activation="gelu", dropout=0.2, norm="batch"), (1, 8, 8), 10)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 64), (64, 10)]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in model) == 2
    assert sum(isinstance(m, nn.GELU) for m in model) == 2
    assert [m.p for m in model if isinstance(m, nn.Dropout)] == [0.2, 0.2]
    assert model(torch.randn(4, 1, 8, 8)).shape == (4, 10)


def test_plain_model_has_no_norm_or_dropout():
    model = ChainMLPSpace().to_torch(arch(), (64,), 3)
    assert not any(isinstance(m, (nn.BatchNorm1d, nn.LayerNorm, nn.Dropout)) for m in model)


def test_to_torch_rejects_an_invalid_arch():
    with pytest.raises(SpecError):
        ChainMLPSpace().to_torch(arch(width_1=33), (64,), 10)


def test_describe():
    space = ChainMLPSpace()
    assert space.describe(arch()) == "MLP 32-64 (relu)"
    assert space.describe(arch(norm="batch", dropout=0.2)) == "MLP 32-64 (relu, batch norm, dropout 0.2)"


def test_mutation_from_the_smallest_depth_can_add_a_layer():
    space = ChainMLPSpace()
    rng = random.Random(0)
    start = space.to_arch(space.complete({"depth": 1}))
    depths = {space.mutate(start, rng)["depth"] for _ in range(50)}
    assert depths >= {2, 3}
