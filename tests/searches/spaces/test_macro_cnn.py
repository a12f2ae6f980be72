import pytest
import torch
from torch import nn

from searches.checks import SpecError
from searches.spaces.base import SearchSpace
from searches.spaces.layers import Residual
from searches.spaces.macro_cnn import MacroCNNSpace


def stage(n: int, blocks=1, channels=8, kernel=3, block="conv", expansion=None) -> dict:
    out = {f"blocks_{n}": blocks, f"channels_{n}": channels, f"kernel_{n}": kernel, f"block_{n}": block}
    if block == "mbconv":
        out[f"expansion_{n}"] = expansion
    return out


def strided_convs(model: nn.Module) -> list[tuple]:
    return [m.stride for m in model.modules() if isinstance(m, nn.Conv2d) and m.stride != (1, 1)]


def feature_map_shape(model: nn.Module, x: torch.Tensor) -> tuple:
    """Shape of the map that reaches the global pool."""
    seen = {}
    pool = next(m for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool2d))

    def record(module, inputs, output):
        seen["shape"] = tuple(inputs[0].shape)

    pool.register_forward_hook(record)
    model(x)
    return seen["shape"]


def test_expansion_is_active_only_for_inverted_residual_stages():
    space = MacroCNNSpace()
    full = space.complete({"stages": 2, "block_1": "mbconv", "block_2": "conv"})
    active = space.active_decisions(full)
    assert "expansion_1" in active and "expansion_2" not in active
    assert not any(name.endswith("_3") for name in active)


def test_size_counts_expansions_only_for_mbconv():
    spec = {"min_stages": 1, "max_stages": 2, "min_blocks": 1, "max_blocks": 3, "channels": [8, 16],
            "kernels": [3, 5, 7], "block_types": ["mbconv", "conv"], "expansions": [1, 3, 6], "strides": [1, 2]}
    space = MacroCNNSpace(spec)
    per_stage = 3 * 2 * 3 * (1 + 3)  # blocks x channels x kernels x (conv + one mbconv per expansion)
    assert space.size() == per_stage + per_stage**2
    assert space.size() < SearchSpace.size(space)


def test_default_space_size():
    assert MacroCNNSpace().size() == 36 + 36**2 + 36**3


def test_stride_schedule_downsamples_the_chosen_stages():
    space = MacroCNNSpace()
    arch = {"stages": 3, **stage(1), **stage(2), **stage(3)}
    model = space.to_torch(arch, (3, 32, 32), 10)
    assert strided_convs(model) == [(2, 2), (2, 2)]  # strides [1, 2, 2]
    assert feature_map_shape(model, torch.randn(2, 3, 32, 32))[2:] == (8, 8)


def test_strides_are_clipped_so_tiny_images_stop_at_one_pixel():
    space = MacroCNNSpace({"min_stages": 4, "max_stages": 4, "strides": [2, 2, 2, 2]})
    arch = {"stages": 4, **stage(1), **stage(2), **stage(3), **stage(4)}
    digits = space.to_torch(arch, (1, 8, 8), 10)
    assert len(strided_convs(digits)) == 3  # 8 -> 4 -> 2 -> 1, then no further downsampling
    assert feature_map_shape(digits, torch.randn(2, 1, 8, 8))[2:] == (1, 1)
    cifar = space.to_torch(arch, (3, 32, 32), 10)
    assert len(strided_convs(cifar)) == 4


def test_strides_are_clipped_per_side():
    space = MacroCNNSpace({"strides": [2, 2, 2]})
    arch = {"stages": 1, **stage(1)}
    model = space.to_torch(arch, (1, 1, 16), 4)
    assert strided_convs(model) == [(1, 2)]
    assert feature_map_shape(model, torch.randn(2, 1, 1, 16))[2:] == (1, 8)


def test_residuals_only_where_shape_is_kept():
    space = MacroCNNSpace()  # stem has 8 channels, strides [1, 2, 2]
    arch = {"stages": 2, **stage(1, blocks=2, channels=8), **stage(2, blocks=2, channels=16, block="mbconv",
                                                                       expansion=3)}
    model = space.to_torch(arch, (1, 8, 8), 10)
    blocks = list(model)[1:5]
    assert [isinstance(b, Residual) for b in blocks] == [True, True, False, True]


def test_inverted_residual_is_depthwise_and_skips_expansion_at_ratio_one():
    space = MacroCNNSpace()
    for expansion, convs in ((1, 2), (3, 3)):
        arch = {"stages": 1, **stage(1, channels=16, kernel=5, block="mbconv", expansion=expansion)}
        block = list(space.to_torch(arch, (1, 8, 8), 10))[1]
        conv_layers = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
        assert len(conv_layers) == convs
        depthwise = conv_layers[-2]
        assert depthwise.kernel_size == (5, 5) and depthwise.groups == 8 * expansion
        assert conv_layers[-1].kernel_size == (1, 1) and conv_layers[-1].out_channels == 16


def test_regular_conv_block_is_one_full_convolution():
    arch = {"stages": 1, **stage(1, channels=16, kernel=7)}
    block = list(MacroCNNSpace({"kernels": [3, 5, 7]}).to_torch(arch, (1, 8, 8), 10))[1]
    (conv,) = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert conv.kernel_size == (7, 7) and conv.groups == 1 and conv.out_channels == 16


def test_every_parameter_learns():
    space = MacroCNNSpace()
    arch = {"stages": 2, **stage(1, blocks=2, block="mbconv", expansion=3), **stage(2, channels=16)}
    model = space.to_torch(arch, (1, 8, 8), 10)
    model(torch.randn(4, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize(("input_shape", "task", "field"), [
    ((64,), "classification", "input_shape"),
    ((16,), "language_modelling", "task"),
    ((1, 8, 8), "segmentation", "task"),
])
def test_rejects_inputs_and_tasks_it_cannot_build(input_shape, task, field):
    space = MacroCNNSpace()
    arch = {"stages": 1, **stage(1)}
    with pytest.raises(SpecError) as err:
        space.to_torch(arch, input_shape, 10, task=task, vocab_size=12)
    assert err.value.field == field


@pytest.mark.parametrize(("spec", "field"), [
    ({"strides": [1, 2]}, "strides"),
    ({"strides": [1, 3, 2]}, "strides"),
    ({"max_stages": 4}, "strides"),  # the schedule must name every stage
    ({"min_stages": 3, "max_stages": 2, "strides": [1, 2]}, "max_stages"),
    ({"min_blocks": 3, "max_blocks": 2}, "max_blocks"),
    ({"kernels": [4]}, "kernels"),
    ({"block_types": ["mbconv", "mbconv"]}, "block_types"),
    ({"expansions": [0]}, "expansions"),
    ({"stem_channels": 0}, "stem_channels"),
])
def test_bad_spec_names_the_field(spec, field):
    with pytest.raises(SpecError) as err:
        MacroCNNSpace(spec)
    assert err.value.field == field


def test_strides_keep_their_order_and_repeats():
    assert MacroCNNSpace({"strides": [2, 1, 2]}).spec["strides"] == [2, 1, 2]


def test_describe():
    arch = {"stages": 2, **stage(1, blocks=2), **stage(2, channels=16, kernel=5, block="mbconv", expansion=3)}
    assert MacroCNNSpace().describe(arch) == "CNN 2x conv k3 8ch | 1x MB3 k5 16ch /2"
