import pytest
import torch
from torch import nn

from searches.checks import SpecError
from searches.spaces.hybrid import HybridSpace
from searches.spaces.layers import FeatureMapTokens, Residual, TransformerLayer


def arch(conv=((8, 1, 3), (16, 2, 5)), attention=((32, 2, 4, 2.0),)) -> dict:
    """conv: (width, depth, kernel) per stage; attention: (width, depth, heads, mlp ratio) per stage."""
    out = {}
    for i, (width, depth, kernel) in enumerate(conv, start=1):
        out |= {f"conv_width_{i}": width, f"conv_depth_{i}": depth, f"conv_kernel_{i}": kernel}
    for i, (width, depth, heads, ratio) in enumerate(attention, start=1):
        out |= {f"attn_width_{i}": width, f"attn_depth_{i}": depth, f"attn_heads_{i}": heads,
                f"attn_mlp_ratio_{i}": ratio}
    return out


def parts(model: nn.Module, kind: type) -> list:
    return [m for m in model.modules() if isinstance(m, kind)]


def test_default_size_is_the_product_of_all_decisions():
    # 2 conv stages x (2 widths x 2 depths x 2 kernels), 1 attention stage x (2 widths x 2 depths x 3 heads x 2)
    assert HybridSpace().size() == 8**2 * 24


def test_every_decision_is_always_active():
    space = HybridSpace()
    assert space.active_decisions(space.complete({})) == [d.name for d in space.decisions]


def test_conv_stages_downsample_by_the_schedule_and_become_tokens():
    space = HybridSpace()  # conv_strides [1, 2]
    digits = space.to_torch(arch(), (1, 8, 8), 10)
    assert parts(digits, FeatureMapTokens)[0].position.shape == (1, 16, 16)
    cifar = space.to_torch(arch(), (3, 32, 32), 10)
    assert parts(cifar, FeatureMapTokens)[0].position.shape == (1, 256, 16)


def test_strides_are_clipped_so_tiny_images_stop_at_one_token():
    space = HybridSpace({"conv_stages": 4, "conv_strides": [2, 2, 2, 2]})
    conv = tuple((8, 1, 3) for _ in range(4))
    model = space.to_torch(arch(conv=conv), (1, 8, 8), 10)
    assert parts(model, FeatureMapTokens)[0].position.shape == (1, 1, 8)
    strided = [m.stride for m in parts(model, nn.Conv2d) if m.stride != (1, 1)]
    assert len(strided) == 3
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_attention_layers_follow_the_chosen_depth_heads_and_mlp_ratio():
    space = HybridSpace({"attention_stages": 2})
    model = space.to_torch(arch(attention=((16, 1, 2, 1.0), (32, 2, 4, 2.0))), (1, 8, 8), 10)
    attention = parts(model, TransformerLayer)
    assert [(a.attn.embed_dim, a.attn.num_heads, a.mlp[0].out_features) for a in attention] == [
        (16, 2, 16), (32, 4, 64), (32, 4, 64)]


def test_width_projection_only_where_the_width_changes():
    space = HybridSpace({"attention_stages": 2})
    same_then_wider = space.to_torch(arch(attention=((16, 1, 2, 1.0), (32, 1, 2, 1.0))), (1, 8, 8), 10)
    projections = [m for m in same_then_wider[-1].layers if isinstance(m, nn.Linear)]
    assert [(p.in_features, p.out_features) for p in projections] == [(16, 32)]


def test_conv_blocks_keep_residuals_where_shape_is_kept():
    model = HybridSpace().to_torch(arch(conv=((8, 2, 3), (8, 2, 3))), (1, 8, 8), 10)
    blocks = list(model)[:4]
    # first block changes channels (1 -> 8); stage 2's first block downsamples
    assert [isinstance(b, Residual) for b in blocks] == [False, True, False, True]


def test_every_parameter_learns():
    model = HybridSpace().to_torch(arch(), (3, 32, 32), 10)
    model(torch.randn(3, 3, 32, 32)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize(("input_shape", "task", "field"), [
    ((64,), "classification", "input_shape"),
    ((16,), "language_modelling", "task"),
])
def test_images_only(input_shape, task, field):
    with pytest.raises(SpecError) as err:
        HybridSpace().to_torch(arch(), input_shape, 10, task=task, vocab_size=12)
    assert err.value.field == field


@pytest.mark.parametrize(("spec", "field"), [
    ({"attention_widths": [12, 16], "heads": [8]}, "heads"),
    ({"conv_strides": [1, 2, 2]}, "conv_strides"),
    ({"conv_stages": 3}, "conv_strides"),
    ({"conv_strides": [0, 2]}, "conv_strides"),
    ({"min_conv_depth": 3, "max_conv_depth": 2}, "max_conv_depth"),
    ({"min_attention_depth": 3, "max_attention_depth": 2}, "max_attention_depth"),
    ({"conv_kernels": [2]}, "conv_kernels"),
    ({"attention_stages": 0}, "attention_stages"),
])
def test_bad_spec_names_the_field(spec, field):
    with pytest.raises(SpecError) as err:
        HybridSpace(spec)
    assert err.value.field == field


def test_describe():
    assert HybridSpace().describe(arch()) == "Hybrid conv [1x8k3 2x16k5] -> attention [2x32/4h/x2]"
