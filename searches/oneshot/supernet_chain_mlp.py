"""Chain-MLP supernet: max-width layers whose outputs are masked to the chosen width.

Per layer (as in FBNetV2's channel masking, and slimmable / once-for-all weight slicing):
one Linear of the largest width; a width choice keeps its first `width` units and zeroes the
rest. A zero unit feeds nothing into the next layer, so the next Linear acts as its sliced
stand-alone counterpart, and a mixture of widths is a weighted mask (the weighted sum of the
masked outputs, computed in one matmul). Depth is mixed at the head: the output of layer d
is used with the probability of depth d. Activation, dropout and normalisation are mixed ops.
A single path therefore computes the stand-alone MLP of `ChainMLPSpace.to_torch` exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .supernet import Gate, MixedOp, Supernet, apply_weight, mask_from_gate

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class MaskedLayerNorm(nn.Module):
    """LayerNorm over the active units only: statistics weighted by the width mask."""

    def __init__(self, features: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.mask = None  # set by the layer before each call

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.mask if self.mask is not None else torch.ones_like(x[0])
        total = mask.sum().clamp_min(self.eps)
        mean = (x * mask).sum(dim=1, keepdim=True) / total
        var = (((x - mean) ** 2) * mask).sum(dim=1, keepdim=True) / total
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class ElasticLayer(nn.Module):
    def __init__(self, in_features: int, max_width: int, spec: dict):
        super().__init__()
        self.linear = nn.Linear(in_features, max_width)
        # Not a MixedOp: 'none' here is the identity, not a zero op, and layer norm needs the mask.
        self.norms = nn.ModuleList(self._norm(kind, max_width) for kind in spec["norms"])
        self.activations = MixedOp([ACTIVATIONS[kind]() for kind in spec["activations"]])
        self.dropouts = MixedOp([nn.Dropout(p) if p > 0 else nn.Identity() for p in spec["dropouts"]])

    @staticmethod
    def _norm(kind: str, width: int) -> nn.Module:
        if kind == "batch":
            return nn.BatchNorm1d(width, track_running_stats=False)
        if kind == "layer":
            return MaskedLayerNorm(width)
        return nn.Identity()

    def forward(self, x: torch.Tensor, width_mask: torch.Tensor, gates: dict[str, Gate]) -> torch.Tensor:
        h = self.linear(x)
        h = self._normalise(h, width_mask, gates["norm"])
        h = self.activations(h, gates["activation"]) * width_mask
        return self.dropouts(h, gates["dropout"])

    def _normalise(self, h: torch.Tensor, width_mask: torch.Tensor, gate: Gate) -> torch.Tensor:
        out = None
        for index, weight in gate.pairs():
            candidate = self.norms[index]
            if isinstance(candidate, MaskedLayerNorm):
                candidate.mask = width_mask
            value = apply_weight(weight, candidate(h))
            out = value if out is None else out + value
        return out


class ChainMLPSupernet(Supernet):
    def __init__(self, space, input_shape: tuple, num_classes: int):
        super().__init__(space)
        spec = space.spec
        self.widths = tuple(spec["widths"])
        self.max_width = max(self.widths)
        self.depths = space.decision("depth").choices
        in_features = math.prod(input_shape)
        self.layers = nn.ModuleList(
            ElasticLayer(in_features if i == 0 else self.max_width, self.max_width, spec)
            for i in range(spec["max_depth"]))
        self.head = nn.Linear(self.max_width, num_classes)

    def forward(self, x: torch.Tensor, gates: dict[str, Gate]) -> torch.Tensor:
        h = x.flatten(1)
        depth_gate = gates["depth"]
        deepest = max(self.depths[i] for i in depth_gate.indices)
        features = None
        for number, layer in enumerate(self.layers[:deepest], start=1):
            mask = mask_from_gate(gates[f"width_{number}"], self.widths, self.max_width, h)
            h = layer(h, mask, gates)
            weight = depth_gate.weight_where(lambda i, n=number: self.depths[i] == n)
            if weight is not None:
                term = apply_weight(weight, h)
                features = term if features is None else features + term
        return self.head(features)
