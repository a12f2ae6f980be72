"""Prune a trained macro CNN (searches/spaces/macro_cnn.py): channels per stage, blocks, stages.

The model is Sequential(stem, block..., AdaptiveAvgPool2d, Flatten, Linear); a block is a conv
(conv_bn_act) or a MobileNetV2 inverted residual (expansion 1x1, depthwise kxk, projection 1x1),
wrapped in Residual when it keeps the shape. A pruned architecture keeps the first `stages` stages,
the first `blocks_s` blocks of each, and `channels_s` output channels per stage:

- every block of a stage writes the same channels (the residuals inside a stage add them), so a
  stage keeps one set of channels: those with the largest L1 norm of the filters that write them,
  summed over the stage's blocks (Li et al., 2017). Stages joined by a residual in the trained
  model (same channels, stride 1) score their channels together, so at equal widths they keep the
  same ones;
- the hidden channels of an inverted residual (input channels x expansion) are kept by the L1 norm
  of the expansion filters (with expansion 1 they are the block's input channels);
- the stem is kept whole; the head keeps the columns of the last stage's kept channels, and is new
  (fine-tuning fits it) when the last stage is pruned away.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import SpecError
from ..spaces.layers import Residual

BLOCK_START = 1  # module 0 is the stem


def body(module: nn.Module) -> nn.Module:
    return module.body if isinstance(module, Residual) else module


def convs_of(block: nn.Module) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """(conv, its batch norm) of each conv_bn_act in a block, in order."""
    block = body(block)
    parts = [block] if isinstance(block[0], nn.Conv2d) else list(block)
    return [(part[0], part[1]) for part in parts]


def stage_blocks(model: nn.Sequential, arch: dict) -> list[list[nn.Module]]:
    """The blocks of each stage of a macro CNN of `arch`."""
    modules, out, index = list(model.children()), [], BLOCK_START
    for stage in range(1, arch["stages"] + 1):
        out.append(modules[index:index + arch[f"blocks_{stage}"]])
        index += arch[f"blocks_{stage}"]
    return out


def keep_top(score: torch.Tensor, count: int) -> torch.Tensor:
    """The `count` highest-scoring channels, in their original order (ties: the lower index)."""
    order = sorted(range(len(score)), key=lambda i: (-float(score[i]), i))
    return torch.tensor(sorted(order[:count]), dtype=torch.long)


def filter_l1(conv: nn.Conv2d) -> torch.Tensor:
    return conv.weight.detach().abs().flatten(1).sum(dim=1)


def stage_scores(stages: list[list[nn.Module]]) -> list[torch.Tensor]:
    """Per stage, the L1 norm of the filters writing each output channel, summed over its blocks and
    over the stages a trained residual joins to it."""
    own = [sum(filter_l1(convs_of(block)[-1][0]) for block in blocks) for blocks in stages]
    joined = list(own)
    group_start = 0
    for s in range(1, len(stages) + 1):
        ends_group = s == len(stages) or not isinstance(stages[s][0], Residual)
        if ends_group:
            total = sum(own[group_start:s])
            for i in range(group_start, s):
                joined[i] = total
            group_start = s
    return joined


def copy_conv(src: tuple[nn.Conv2d, nn.BatchNorm2d], dst: tuple[nn.Conv2d, nn.BatchNorm2d], out_kept, in_kept):
    (src_conv, src_bn), (dst_conv, dst_bn) = src, dst
    weight = src_conv.weight[out_kept]
    if src_conv.groups == 1:
        weight = weight[:, in_kept]
    dst_conv.weight.copy_(weight)
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst_bn, name).copy_(getattr(src_bn, name)[out_kept])
    dst_bn.num_batches_tracked.copy_(src_bn.num_batches_tracked)


def copy_block(src: nn.Module, dst: nn.Module, in_kept: torch.Tensor, out_kept: torch.Tensor) -> None:
    src_convs, dst_convs = convs_of(src), convs_of(dst)
    if len(src_convs) != len(dst_convs):
        raise SpecError("model", "the trained block and the pruned block differ in kind")
    if len(src_convs) == 1:  # a plain conv block
        copy_conv(src_convs[0], dst_convs[0], out_kept, in_kept)
        return
    if len(src_convs) == 3:  # expansion, depthwise, projection
        hidden = dst_convs[0][0].out_channels
        hidden_kept = keep_top(filter_l1(src_convs[0][0]), hidden)
        copy_conv(src_convs[0], dst_convs[0], hidden_kept, in_kept)
    else:  # expansion 1: the depthwise conv works on the block's input channels
        hidden_kept = in_kept
    copy_conv(src_convs[-2], dst_convs[-2], hidden_kept, hidden_kept)
    copy_conv(src_convs[-1], dst_convs[-1], out_kept, hidden_kept)


def prune_macro_cnn(model: nn.Module, arch: dict, pruned: nn.Module, pruned_arch: dict) -> nn.Module:
    """Fill `pruned` (a fresh model of `pruned_arch`) with `model`'s weights for what it keeps."""
    source, target = stage_blocks(model, arch), stage_blocks(pruned, pruned_arch)
    scores = stage_scores(source)
    src_modules, dst_modules = list(model.children()), list(pruned.children())
    with torch.no_grad():
        dst_modules[0].load_state_dict(src_modules[0].state_dict())  # the stem is not pruned
        in_kept = torch.arange(convs_of(src_modules[0])[0][0].out_channels)
        for s, blocks in enumerate(target):
            out_kept = keep_top(scores[s], pruned_arch[f"channels_{s + 1}"])
            for b, block in enumerate(blocks):
                copy_block(source[s][b], block, in_kept, out_kept)
                in_kept = out_kept
        src_head, dst_head = src_modules[-1], dst_modules[-1]
        if pruned_arch["stages"] == arch["stages"]:
            dst_head.weight.copy_(src_head.weight[:, in_kept])
            dst_head.bias.copy_(src_head.bias)
    return pruned
