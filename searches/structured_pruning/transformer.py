"""Prune a trained transformer (searches/spaces/transformer.py): MLP widths per layer, and layers.

The model is Sequential(embedding, TokenStack(layers, norm, head)); a layer is pre-norm attention
then an MLP Linear(dim, hidden) GELU Linear(hidden, dim). A pruned architecture keeps the first
`depth` layers and, in layer i, the MLP hidden units with the largest L1 norm of their incoming
weights (Li et al., 2017; the MLP half of Michel et al.'s and NViT's transformer pruning); the
second Linear keeps their columns. The embedding, attention, norms and head are copied whole: the
embedding width is the same, so even with fewer layers the head reads the same features.

Heads are kept as trained: in this space a layer's heads split its fixed embedding width
(nn.MultiheadAttention), so fewer heads means wider heads, not a subset of the trained ones.
"""

from __future__ import annotations

import torch
from torch import nn

from .cnn import keep_top


def prune_transformer(model: nn.Module, pruned: nn.Module, pruned_arch: dict) -> nn.Module:
    """Fill `pruned` (a fresh model of `pruned_arch`) with `model`'s weights for what it keeps."""
    source_embedding, source_stack = model
    target_embedding, target_stack = pruned
    with torch.no_grad():
        target_embedding.load_state_dict(source_embedding.state_dict())
        target_stack.norm.load_state_dict(source_stack.norm.state_dict())
        target_stack.head.load_state_dict(source_stack.head.state_dict())
        for source, target in zip(source_stack.layers, target_stack.layers, strict=False):
            for name in ("norm1", "attn", "norm2"):
                getattr(target, name).load_state_dict(getattr(source, name).state_dict())
            copy_mlp(source.mlp, target.mlp)
    return pruned


def copy_mlp(source: nn.Sequential, target: nn.Sequential) -> None:
    (src_in, _, src_out), (dst_in, _, dst_out) = source, target
    kept = keep_top(src_in.weight.detach().abs().sum(dim=1), dst_in.out_features)
    dst_in.weight.copy_(src_in.weight[kept])
    dst_in.bias.copy_(src_in.bias[kept])
    dst_out.weight.copy_(src_out.weight[:, kept])
    dst_out.bias.copy_(src_out.bias)
