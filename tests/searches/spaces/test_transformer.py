import random

import pytest
import torch
from torch import nn

from searches.checks import SpecError
from searches.spaces import layers
from searches.spaces.base import SearchSpace
from searches.spaces.transformer import TransformerSpace


def arch(depth=2, embed_dim=16, heads=(2, 4), mlp_ratios=(1.0, 2.0)) -> dict:
    out = {"depth": depth, "embed_dim": embed_dim}
    for i in range(1, depth + 1):
        out[f"heads_{i}"] = heads[i - 1]
        out[f"mlp_ratio_{i}"] = mlp_ratios[i - 1]
    return out


def tokens(batch=2, length=16, vocab=12, seed=0) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed)).float()


def test_layer_decisions_beyond_the_depth_are_inactive():
    space = TransformerSpace()
    active = space.active_decisions(space.complete({"depth": 1}))
    assert active == ["depth", "embed_dim", "heads_1", "mlp_ratio_1"]


def test_size_shares_the_embedding_across_layers():
    space = TransformerSpace({"min_depth": 1, "max_depth": 2, "embed_dims": [8, 16, 32], "heads": [1, 2],
                              "mlp_ratios": [1, 2, 4]})
    per_layer = 2 * 3
    assert space.size() == 3 * (per_layer + per_layer**2)
    assert space.size() < SearchSpace.size(space)


def test_heads_that_do_not_divide_every_embedding_are_rejected():
    with pytest.raises(SpecError) as err:
        TransformerSpace({"embed_dims": [12, 16], "heads": [1, 8]})
    assert err.value.field == "heads"
    assert "8" in err.value.message and "12" in err.value.message


def test_every_head_and_width_combination_builds():
    space = TransformerSpace({"embed_dims": [12, 24], "heads": [1, 2, 3, 4, 6]})
    for a in space.enumerate(limit=200):
        space.to_torch(a, (1, 8, 8), 10)


def test_mlp_ratios_are_stored_as_floats():
    assert TransformerSpace({"mlp_ratios": [2, 1]}).decision("mlp_ratio_1").choices == (1.0, 2.0)


@pytest.mark.parametrize(("spec", "field"), [
    ({"min_depth": 3, "max_depth": 2}, "max_depth"),
    ({"embed_dims": [0]}, "embed_dims"),
    ({"heads": []}, "heads"),
    ({"mlp_ratios": [0.1]}, "mlp_ratios"),
    ({"patch_size": 0}, "patch_size"),
])
def test_bad_spec_names_the_field(spec, field):
    with pytest.raises(SpecError) as err:
        TransformerSpace(spec)
    assert err.value.field == field


def test_layers_use_the_chosen_heads_and_mlp_widths():
    model = TransformerSpace().to_torch(arch(), (16,), 5, vocab_size=12)
    stack = model[1]
    assert [layer.attn.num_heads for layer in stack.layers] == [2, 4]
    assert [layer.mlp[0].out_features for layer in stack.layers] == [16, 32]
    assert all(layer.attn.embed_dim == 16 for layer in stack.layers)


def test_language_model_is_causal():
    model = TransformerSpace().to_torch(arch(), (16,), 5, task="language_modelling", vocab_size=12).eval()
    x = tokens()
    changed = x.clone()
    changed[:, 10] = (changed[:, 10] + 1) % 12
    with torch.no_grad():
        before, after = model(x), model(changed)
    assert before.shape == (2, 16, 12)
    assert torch.allclose(before[:, :10], after[:, :10], atol=1e-6)
    assert not torch.allclose(before[:, 10:], after[:, 10:])


def test_sequence_classifier_sees_every_position_and_their_order():
    model = TransformerSpace().to_torch(arch(), (16,), 5, vocab_size=12).eval()
    x = tokens()
    x[:, 0], x[:, 15] = 1, 2
    swapped, last_changed = x.clone(), x.clone()
    swapped[:, 0], swapped[:, 15] = 2, 1
    last_changed[:, 15] = 3
    with torch.no_grad():
        base = model(x)
        assert base.shape == (2, 5)
        assert not torch.allclose(base, model(last_changed))
        # The learned position embedding makes the model order-sensitive.
        assert not torch.allclose(base, model(swapped))


def test_images_are_cut_into_patches_clipped_to_the_image():
    def patch_embedding(spec, shape):
        model = TransformerSpace(spec).to_torch(arch(), shape, 10)
        return model[0]

    digits_2 = patch_embedding({"patch_size": 2}, (1, 8, 8))
    assert digits_2.patch == 2 and digits_2.position.shape == (1, 16, 16)
    digits_4 = patch_embedding({"patch_size": 4}, (1, 8, 8))
    assert digits_4.position.shape == (1, 4, 16)
    clipped = patch_embedding({"patch_size": 32}, (1, 8, 8))
    assert clipped.patch == 8 and clipped.position.shape == (1, 1, 16)
    padded = patch_embedding({"patch_size": 3}, (1, 8, 8))  # 8 = 3 + 3 + 2, the last patch zero-padded
    assert padded.position.shape == (1, 9, 16)
    assert padded(torch.randn(2, 1, 8, 8)).shape == (2, 9, 16)


def test_tabular_features_become_one_token_each():
    model = TransformerSpace().to_torch(arch(), (64,), 10)
    assert isinstance(model[0], layers.FeatureEmbedding)
    assert model[0](torch.randn(2, 64)).shape == (2, 64, 16)


@pytest.mark.parametrize(("input_shape", "task", "vocab", "field"), [
    ((1, 8, 8), "language_modelling", 0, "task"),
    ((16,), "language_modelling", 0, "task"),
    ((16,), "translation", 12, "task"),
    ((4, 4), "classification", 0, "input_shape"),
])
def test_rejects_inputs_and_tasks_it_cannot_build(input_shape, task, vocab, field):
    with pytest.raises(SpecError) as err:
        TransformerSpace().to_torch(arch(), input_shape, 10, task=task, vocab_size=vocab)
    assert err.value.field == field


def test_decoder_params_count_the_attention_layers_of_the_built_model():
    space = TransformerSpace()
    rng = random.Random(0)
    for _ in range(10):
        a = space.sample(rng)
        model = space.to_torch(a, (16,), 10, task="language_modelling", vocab_size=12)
        in_layers = sum(p.numel() for p in model[1].layers.parameters())
        assert space.decoder_params(a, 12) == in_layers
        # Embeddings and the softmax grow with the vocabulary; the proxy does not.
        assert space.decoder_params(a, 50_000) == in_layers


def test_decoder_params_grow_with_depth_width_and_mlp_ratio():
    space = TransformerSpace()
    small = space.decoder_params(arch(depth=1, heads=(2,), mlp_ratios=(1.0,)), 12)
    assert space.decoder_params(arch(depth=2, heads=(2, 2), mlp_ratios=(1.0, 1.0)), 12) == 2 * small
    assert space.decoder_params(arch(depth=1, embed_dim=32, heads=(2,), mlp_ratios=(1.0,)), 12) > small
    assert space.decoder_params(arch(depth=1, heads=(2,), mlp_ratios=(2.0,)), 12) > small
    # Heads split the width; they add no parameters.
    assert space.decoder_params(arch(depth=1, heads=(4,), mlp_ratios=(1.0,)), 12) == small


def test_every_parameter_learns():
    model = TransformerSpace().to_torch(arch(), (1, 8, 8), 10)
    model(torch.randn(3, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_token_model_trains_to_fit_a_tiny_batch():
    torch.manual_seed(0)
    model = TransformerSpace().to_torch(arch(), (16,), 2, vocab_size=12)
    x, y = tokens(batch=8), torch.tensor([0, 1] * 4)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(20):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.1


def test_describe():
    space = TransformerSpace()
    assert space.describe(arch()) == "Transformer d16, 2 layers (2h x1, 4h x2)"
    assert space.describe(arch(depth=1, heads=(1,), mlp_ratios=(2.0,))) == "Transformer d16, 1 layer (1h x2)"
