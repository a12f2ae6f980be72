"""MLP-width and layer pruning of a trained transformer."""

import dataclasses

import pytest
import torch

from searches.spaces.transformer import TransformerSpace
from searches.structured_pruning import PrunedSpace, prune_model
from searches.training.trainer import TrainConfig, train

SPACE = TransformerSpace({"min_depth": 1, "max_depth": 2, "embed_dims": [16], "heads": [2, 4],
                          "mlp_ratios": [0.5, 1.0, 2.0], "patch_size": 4})
ARCH = {"depth": 2, "embed_dim": 16, "heads_1": 2, "mlp_ratio_1": 2.0, "heads_2": 4, "mlp_ratio_2": 1.0}


@pytest.fixture(scope="module")
def trained(small_digits):
    torch.manual_seed(0)
    model = SPACE.to_torch(ARCH, small_digits.input_shape, small_digits.num_classes)
    few = dataclasses.replace(small_digits, x_train=small_digits.x_train[:64], y_train=small_digits.y_train[:64])
    train(model, few, TrainConfig(epochs=1, seed=0))
    return model.eval()


def pruned(trained, small_digits, **widths):
    arch = SPACE.to_arch({**SPACE.complete(ARCH), **widths})
    return prune_model(trained, SPACE, ARCH, arch, small_digits.input_shape, small_digits.num_classes).eval()


def test_the_pruned_space_shrinks_mlp_widths_and_layers_and_keeps_heads():
    space = PrunedSpace(SPACE, ARCH)
    assert space.decision("mlp_ratio_1").choices == (0.5, 1.0, 2.0)
    assert space.decision("mlp_ratio_2").choices == (0.5, 1.0)
    assert space.decision("depth").choices == (1, 2) and space.decision("heads_2").choices == (4,)


def test_keeping_everything_is_the_trained_model(trained, small_digits):
    x = small_digits.x_val[:8]
    with torch.no_grad():
        torch.testing.assert_close(pruned(trained, small_digits)(x), trained(x), atol=1e-5, rtol=1e-5)


def test_an_mlp_keeps_the_hidden_units_with_the_largest_incoming_weights(trained, small_digits):
    model = pruned(trained, small_digits, mlp_ratio_1=0.5)
    source, target = trained[1].layers[0].mlp, model[1].layers[0].mlp
    kept = torch.tensor(sorted(source[0].weight.abs().sum(1).argsort(descending=True)[:8].tolist()))
    torch.testing.assert_close(target[0].weight, source[0].weight[kept])
    torch.testing.assert_close(target[2].weight, source[2].weight[:, kept])
    lost = 2 * (32 - 8) * 16 + (32 - 8)  # two Linear weights and the first bias per dropped unit
    assert sum(p.numel() for p in trained.parameters()) - sum(p.numel() for p in model.parameters()) == lost


def test_a_shallower_transformer_keeps_its_first_layers_and_its_head(trained, small_digits):
    model = pruned(trained, small_digits, depth=1)
    assert len(model[1].layers) == 1
    torch.testing.assert_close(model[1].layers[0].attn.in_proj_weight, trained[1].layers[0].attn.in_proj_weight)
    torch.testing.assert_close(model[1].head.weight, trained[1].head.weight)
    with torch.no_grad():
        assert model(small_digits.x_val[:3]).shape == (3, small_digits.num_classes)
