"""Channel, block and stage pruning of a trained macro CNN."""

import copy
import dataclasses
import io

import numpy as np
import onnxruntime
import pytest
import torch

from searches.export import export_model, model_spec
from searches.export_loader import load_trained
from searches.spaces.macro_cnn import MacroCNNSpace
from searches.structured_pruning import PrunedSpace, prune_model
from searches.structured_pruning.cnn import convs_of, stage_blocks
from searches.structured_pruning.transplant import recalibrate_batch_norm
from searches.training.trainer import TrainConfig, train

SPACE = MacroCNNSpace({"min_stages": 1, "max_stages": 2, "min_blocks": 1, "max_blocks": 2,
                       "channels": [4, 8, 12, 16], "kernels": [3], "block_types": ["mbconv", "conv"],
                       "expansions": [1, 2], "strides": [1, 2], "stem_channels": 8})
#: stage 1: two expansion-2 inverted residuals (8 -> 16, then a residual 16 -> 16); stage 2: conv blocks
ARCH = {"stages": 2, "blocks_1": 2, "channels_1": 16, "kernel_1": 3, "block_1": "mbconv", "expansion_1": 2,
        "blocks_2": 2, "channels_2": 12, "kernel_2": 3, "block_2": "conv"}


@pytest.fixture(scope="module")
def trained(small_digits):
    torch.manual_seed(0)
    model = SPACE.to_torch(ARCH, small_digits.input_shape, small_digits.num_classes)
    few = dataclasses.replace(small_digits, x_train=small_digits.x_train[:64], y_train=small_digits.y_train[:64])
    train(model, few, TrainConfig(epochs=1, seed=0))
    return model.eval()


def shrunk(**widths) -> dict:
    return SPACE.to_arch({**SPACE.complete(ARCH), **widths})


def pruned(trained, small_digits, **widths):
    return prune_model(trained, SPACE, ARCH, shrunk(**widths), small_digits.input_shape,
                       small_digits.num_classes).eval()


def test_the_pruned_space_shrinks_channels_blocks_and_stages_only():
    space = PrunedSpace(SPACE, ARCH)
    assert space.decision("channels_1").choices == (4, 8, 12, 16)
    assert space.decision("channels_2").choices == (4, 8, 12)
    assert space.decision("blocks_2").choices == (1, 2) and space.decision("stages").choices == (1, 2)
    assert space.decision("block_1").choices == ("mbconv",) and space.decision("expansion_1").choices == (2,)


def test_keeping_every_channel_is_the_trained_model(trained, small_digits):
    x = small_digits.x_val[:16]
    with torch.no_grad():
        torch.testing.assert_close(pruned(trained, small_digits)(x), trained(x), atol=1e-5, rtol=1e-5)


def test_a_stage_keeps_its_channels_with_the_largest_filters(trained, small_digits):
    model = copy.deepcopy(trained)
    weak = [1, 5, 9, 10]  # made the least important output channels of stage 2
    first, second = (convs_of(b)[-1][0] for b in stage_blocks(model, ARCH)[1])
    with torch.no_grad():
        for conv in (first, second):
            conv.weight[weak] *= 1e-3
    keep = torch.tensor([0, 2, 3, 4, 6, 7, 8, 11])
    small = pruned(model, small_digits, channels_2=8)
    new_first, new_second = (convs_of(b)[-1][0] for b in stage_blocks(small, shrunk(channels_2=8))[1])
    torch.testing.assert_close(new_first.weight, first.weight[keep])  # stage 1 keeps all 16 inputs
    torch.testing.assert_close(new_second.weight, second.weight[keep][:, keep])
    torch.testing.assert_close(list(small.children())[-1].weight, list(model.children())[-1].weight[:, keep])
    norm = convs_of(stage_blocks(small, shrunk(channels_2=8))[1][0])[-1][1]
    source_norm = convs_of(stage_blocks(model, ARCH)[1][0])[-1][1]
    torch.testing.assert_close(norm.running_mean, source_norm.running_mean[keep])


@pytest.mark.parametrize("widths", [{"channels_1": 8}, {"channels_1": 12, "channels_2": 4, "blocks_2": 1},
                                    {"stages": 1, "channels_1": 8, "blocks_1": 1}])
def test_pruned_models_run_and_lose_the_parameters_their_widths_say(trained, small_digits, widths):
    model = pruned(trained, small_digits, **widths)
    fresh = SPACE.to_torch(shrunk(**widths), small_digits.input_shape, small_digits.num_classes)
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in fresh.parameters()) < sum(p.numel() for p in trained.parameters())
    recalibrate_batch_norm(model, small_digits.x_train)
    with torch.no_grad():
        assert model.eval()(small_digits.x_val[:5]).shape == (5, small_digits.num_classes)


def test_the_hidden_channels_of_an_inverted_residual_follow_its_expansion_filters(trained, small_digits):
    model = pruned(trained, small_digits, channels_1=8)
    (expand, _), (depthwise, _), (project, _) = convs_of(stage_blocks(model, shrunk(channels_1=8))[0][1])
    (t_expand, _), (t_depthwise, _), _ = convs_of(stage_blocks(trained, ARCH)[0][1])
    assert expand.weight.shape == (16, 8, 1, 1) and depthwise.weight.shape == (16, 1, 3, 3)
    hidden = torch.tensor(sorted(t_expand.weight.abs().flatten(1).sum(1).argsort(descending=True)[:16].tolist()))
    torch.testing.assert_close(depthwise.weight, t_depthwise.weight[hidden])
    assert project.weight.shape == (8, 16, 1, 1)


def test_a_pruned_cnn_exports_load_back_and_match(trained, small_digits):
    model = pruned(trained, small_digits, channels_1=12, channels_2=8, blocks_2=1)
    recalibrate_batch_norm(model, small_digits.x_train).eval()
    spec = model_spec(SPACE.kind, SPACE.spec, shrunk(channels_1=12, channels_2=8, blocks_2=1),
                      small_digits.input_shape, small_digits.num_classes)
    files = {fmt: export_model(spec, model.state_dict(), fmt) for fmt in ("spec", "state_dict", "torchscript",
                                                                          "onnx")}
    x = small_digits.x_val[:32].float()
    with torch.no_grad():
        expected = model(x).numpy()
        loaded = load_trained(files["spec"], io.BytesIO(files["state_dict"]))(x).numpy()
        scripted = torch.jit.load(io.BytesIO(files["torchscript"]))(x).numpy()
    onnx_out = onnxruntime.InferenceSession(files["onnx"]).run(None, {"input": x.numpy()})[0]
    for out in (loaded, scripted, onnx_out):
        np.testing.assert_allclose(out, expected, atol=1e-5)
