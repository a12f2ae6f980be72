"""Macro-CNN supernet: ProxylessNAS-style mixed blocks over the MnasNet-like stage space.

Each block position (stage s, block b) holds one candidate per (block type, kernel, expansion)
combination - ProxylessNAS's MBConv candidates, plus plain convs - all built at the largest
channel count. A candidate's weight is the product of the stage's kernel, block-type and (for
MBConv) expansion gate weights, so each decision keeps its own alpha while the blocks of a
stage share them, as the space shares one choice per stage.

Widths are masked (FBNetV2): a channel choice keeps the first `channels` outputs, and an
MBConv's hidden layer keeps `input channels x expansion`. Depth is mixed as ProxylessNAS
does with its zero op on residual blocks: block b runs with the probability that the stage
has more than b blocks, else the input passes through. The number of stages is mixed at the
head, on pooled features. With a single path this computes `MacroCNNSpace.to_torch`'s network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..spaces import layers as L
from ..spaces.spec_checks import check_image_shape
from .supernet import Gate, Supernet, apply_weight, mask_from_gate, use_batch_statistics


def as_channel_mask(mask: torch.Tensor) -> torch.Tensor:
    return mask.view(1, -1, 1, 1)


def product_of_weights(*weights):
    """Product of gate weights; None when any part does not run, 1.0 when all are unweighted."""
    if any(w is None for w in weights):
        return None
    tensors = [w for w in weights if not isinstance(w, float)]
    if not tensors:
        return 1.0
    out = tensors[0]
    for w in tensors[1:]:
        out = out * w
    return out


class MaskedInvertedResidual(nn.Module):
    """MobileNetV2 block whose hidden channels beyond the active count are kept at zero."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride, expansion: int):
        super().__init__()
        hidden = c_in * expansion
        self.expansion = expansion
        self.expand = L.conv_bn_act(c_in, hidden, 1) if expansion != 1 else None
        self.depthwise = L.conv_bn_act(hidden, hidden, kernel, stride, groups=hidden)
        self.project = L.conv_bn_act(hidden, c_out, 1, act=False)

    def forward(self, x: torch.Tensor, hidden_mask: torch.Tensor) -> torch.Tensor:
        h = x if self.expand is None else self.expand(x) * hidden_mask
        # Batch norm turns an all-zero channel into its shift, so mask again after it.
        h = self.depthwise(h) * hidden_mask
        return self.project(h)


class MixedBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: tuple[int, int], spec: dict):
        super().__init__()
        self.c_in, self.c_out, self.stride = c_in, c_out, stride
        self.variants: list[tuple[str, int, int | None]] = []
        candidates = []
        for block_type in spec["block_types"]:
            for kernel in spec["kernels"]:
                if block_type == "mbconv":
                    for expansion in spec["expansions"]:
                        self.variants.append((block_type, kernel, expansion))
                        candidates.append(MaskedInvertedResidual(c_in, c_out, kernel, stride, expansion))
                else:
                    self.variants.append((block_type, kernel, None))
                    candidates.append(L.conv_bn_act(c_in, c_out, kernel, stride))
        self.candidates = nn.ModuleList(candidates)

    def forward(self, x: torch.Tensor, stage_gates: dict[str, tuple[Gate, tuple]], in_gate: Gate,
                in_sizes: tuple[int, ...]) -> torch.Tensor:
        body = None
        for (block_type, kernel, expansion), candidate in zip(self.variants, self.candidates, strict=True):
            weight = self._variant_weight(stage_gates, block_type, kernel, expansion)
            if weight is None:
                continue
            if expansion is None:
                value = candidate(x)
            else:
                hidden_mask = mask_from_gate(in_gate, in_sizes, self.c_in * expansion, x, scale=expansion)
                value = candidate(x, as_channel_mask(hidden_mask))
            value = apply_weight(weight, value)
            body = value if body is None else body + value
        return body

    @staticmethod
    def _variant_weight(stage_gates, block_type: str, kernel: int, expansion: int | None):
        def weight(key, value):
            gate, choices = stage_gates[key]
            return gate.weight_where(lambda i: choices[i] == value)

        parts = [weight("block", block_type), weight("kernel", kernel)]
        if expansion is not None:
            parts.append(weight("expansion", expansion))
        return product_of_weights(*parts)


def same_size_probability(in_gate: Gate, in_sizes: tuple, out_gate: Gate, out_sizes: tuple):
    """P(input channels == output channels): the weight of the residual of a stage's first block."""
    total = None
    for i, w_in in in_gate.pairs():
        for j, w_out in out_gate.pairs():
            if in_sizes[i] != out_sizes[j]:
                continue
            w = product_of_weights(1.0 if w_in is None else w_in, 1.0 if w_out is None else w_out)
            total = w if total is None else total + w
    return total


class MacroCNNSupernet(Supernet):
    def __init__(self, space, input_shape: tuple, num_classes: int):
        super().__init__(space)
        spec = space.spec
        c_in, height, width = check_image_shape(input_shape)
        self.stem_channels = spec["stem_channels"]
        self.channel_sizes = tuple(spec["channels"])
        self.max_channels = max(self.channel_sizes)
        self.stem = L.conv_bn_act(c_in, self.stem_channels, 3)
        self.stages = nn.ModuleList()
        c_in = self.stem_channels
        for stage in range(spec["max_stages"]):
            stride = L.downsampled_stride(spec["strides"][stage], height, width)
            blocks = [MixedBlock(c_in if b == 0 else self.max_channels, self.max_channels,
                                 stride if b == 0 else (1, 1), spec) for b in range(spec["max_blocks"])]
            self.stages.append(nn.ModuleList(blocks))
            height, width = L.output_side(height, stride[0]), L.output_side(width, stride[1])
            c_in = self.max_channels
        use_batch_statistics(self)
        self.head = nn.Linear(self.max_channels, num_classes)

    def choices(self, name: str) -> tuple:
        return self.space.decision(name).choices

    def forward(self, x: torch.Tensor, gates: dict[str, Gate]) -> torch.Tensor:
        x = self.stem(x)
        in_gate, in_sizes = Gate((0,)), (self.stem_channels,)
        stage_counts = self.choices("stages")
        deepest = max(stage_counts[i] for i in gates["stages"].indices)
        features = None
        for number, blocks in enumerate(self.stages[:deepest], start=1):
            x = self._stage(x, number, blocks, gates, in_gate, in_sizes)
            in_gate, in_sizes = gates[f"channels_{number}"], self.channel_sizes
            weight = gates["stages"].weight_where(lambda i, n=number: stage_counts[i] == n)
            if weight is not None:
                pooled = apply_weight(weight, F.adaptive_avg_pool2d(x, 1).flatten(1))
                features = pooled if features is None else features + pooled
        return self.head(features)

    def _stage(self, x, number: int, blocks: nn.ModuleList, gates, in_gate: Gate, in_sizes: tuple):
        stage_gates = {key: (gates[f"{key}_{number}"], self.choices(f"{key}_{number}"))
                       for key in ("block", "kernel", "expansion")}
        out_gate = gates[f"channels_{number}"]
        out_mask = as_channel_mask(mask_from_gate(out_gate, self.channel_sizes, self.max_channels, x))
        block_counts = self.choices(f"blocks_{number}")
        for b, block in enumerate(blocks):
            runs = gates[f"blocks_{number}"].weight_where(lambda i, b=b: block_counts[i] > b)
            if runs is None:
                break  # later blocks need even more blocks, so they do not run either
            body = block(x, stage_gates, in_gate, in_sizes) * out_mask
            residual = self._residual_weight(block, b, in_gate, in_sizes, out_gate)
            out = body if residual is None else body + apply_weight(residual, self._widen(x, block.c_out))
            # The first block always runs (a stage has at least one); a later one is skipped with
            # the probability that the stage is shorter, passing its input through.
            skippable = b > 0 and not isinstance(runs, float)
            x = runs * out + (1 - runs) * x if skippable else out
            in_gate, in_sizes = out_gate, self.channel_sizes
        return x

    def _residual_weight(self, block: MixedBlock, b: int, in_gate: Gate, in_sizes: tuple, out_gate: Gate):
        if tuple(block.stride) != (1, 1):
            return None
        if b > 0:
            return 1.0  # later blocks of a stage keep the channel count
        return same_size_probability(in_gate, in_sizes, out_gate, self.channel_sizes)

    @staticmethod
    def _widen(x: torch.Tensor, channels: int) -> torch.Tensor:
        """Zero-pad the channels (a narrower input under a wider max-width output)."""
        missing = channels - x.shape[1]
        return F.pad(x, (0, 0, 0, 0, 0, missing)) if missing > 0 else x
