"""Torch building blocks shared by the macro CNN, transformer and hybrid spaces.

Only the spaces' to_torch methods import this module, so importing the space
registry (as the web process does) does not import torch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def downsampled_stride(stride: int, height: int, width: int) -> tuple[int, int]:
    """The stride to use on a (height, width) map: a side that is already one pixel
    is not downsampled, so no stride schedule shrinks a map below 1x1."""
    return (stride if height > 1 else 1, stride if width > 1 else 1)


def output_side(side: int, stride: int) -> int:
    """Side length after a 'same'-padded convolution with an odd kernel."""
    return (side + stride - 1) // stride


def conv_bn_act(c_in: int, c_out: int, kernel: int, stride=1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class Residual(nn.Module):
    """x + body(x); used only where the body keeps the shape."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def inverted_residual(c_in: int, c_out: int, kernel: int, stride, expansion: int) -> nn.Sequential:
    """MobileNetV2 block: 1x1 expansion, depthwise kxk, linear 1x1 projection.
    With expansion 1 the expansion conv is left out, as in MobileNetV2's first block."""
    hidden = c_in * expansion
    layers = [conv_bn_act(c_in, hidden, 1)] if expansion != 1 else []
    layers += [conv_bn_act(hidden, hidden, kernel, stride, groups=hidden), conv_bn_act(hidden, c_out, 1, act=False)]
    return nn.Sequential(*layers)


def with_residual_if_shape_kept(body: nn.Module, c_in: int, c_out: int, stride) -> nn.Module:
    keeps_shape = c_in == c_out and tuple(stride) == (1, 1)
    return Residual(body) if keeps_shape else body


class TransformerLayer(nn.Module):
    """Pre-norm self-attention then MLP, each with a residual (ViT / AutoFormer layer)."""

    def __init__(self, dim: int, heads: int, mlp_hidden: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_hidden), nn.GELU(), nn.Linear(mlp_hidden, dim))

    def forward(self, x, mask=None):
        h = self.norm1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class TokenEmbedding(nn.Module):
    """Token ids -> embeddings plus a learned position embedding. Ids arrive as
    floats from the dataset tensors, so they are cast here."""

    def __init__(self, vocab_size: int, dim: int, length: int):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.position = nn.Parameter(torch.zeros(1, length, dim))
        nn.init.trunc_normal_(self.position, std=0.02)

    def forward(self, x):
        return self.tokens(x.long()) + self.position[:, : x.shape[1]]


class FeatureEmbedding(nn.Module):
    """Tabular features -> one token each (FT-Transformer): a per-feature weight and
    bias, so the feature's identity is in its embedding and no position is needed."""

    def __init__(self, features: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(features, dim) * 0.02)
        self.bias = nn.Parameter(torch.zeros(features, dim))

    def forward(self, x):
        return x.flatten(1).unsqueeze(-1) * self.weight + self.bias


class PatchEmbedding(nn.Module):
    """Image -> non-overlapping patch tokens plus a learned position embedding.
    The image is zero-padded on the bottom and right to a whole number of patches."""

    def __init__(self, channels: int, height: int, width: int, patch: int, dim: int):
        super().__init__()
        self.patch = patch
        self.pad_h, self.pad_w = -height % patch, -width % patch
        self.project = nn.Conv2d(channels, dim, patch, patch)
        tokens = ((height + self.pad_h) // patch) * ((width + self.pad_w) // patch)
        self.position = nn.Parameter(torch.zeros(1, tokens, dim))
        nn.init.trunc_normal_(self.position, std=0.02)

    def forward(self, x):
        if self.pad_h or self.pad_w:
            x = F.pad(x, (0, self.pad_w, 0, self.pad_h))
        return self.project(x).flatten(2).transpose(1, 2) + self.position


class FeatureMapTokens(nn.Module):
    """(B, C, H, W) feature map -> (B, H*W, C) tokens plus a learned position embedding."""

    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.position = nn.Parameter(torch.zeros(1, tokens, dim))
        nn.init.trunc_normal_(self.position, std=0.02)

    def forward(self, x):
        return x.flatten(2).transpose(1, 2) + self.position


class TokenStack(nn.Module):
    """Transformer layers over token embeddings, then a final norm and a head.

    Classification mean-pools the tokens into (B, classes) logits; with `causal`
    (language modelling) each position attends only to earlier ones and the head
    gives next-token logits for every position, (B, L, vocab).
    """

    def __init__(self, layers: list, dim: int, head: nn.Module, causal: bool = False, max_length: int = 0):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(dim)
        self.head = head
        self.causal = causal
        if causal:
            mask = torch.triu(torch.ones(max_length, max_length, dtype=torch.bool), diagonal=1)
            self.register_buffer("mask", mask, persistent=False)

    def forward(self, tokens):
        if self.causal:
            mask = self.mask[: tokens.shape[1], : tokens.shape[1]]
            for layer in self.layers:
                tokens = layer(tokens, mask)
        else:
            # Non-causal stacks may also hold Linear width projections between stages (hybrid).
            for layer in self.layers:
                tokens = layer(tokens)
        tokens = self.norm(tokens)
        if not self.causal:
            tokens = tokens.mean(dim=1)
        return self.head(tokens)
