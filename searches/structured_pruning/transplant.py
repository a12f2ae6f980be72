"""Build a pruned model from a trained one: keep each layer's most important units, copy their weights.

chain_mlp (Flatten, then per hidden layer Linear [BatchNorm1d | LayerNorm] activation [Dropout],
then the Linear head): layer i keeps the `width_i` units whose incoming weight rows have the
largest L1 norm (Li et al., "Pruning filters for efficient ConvNets", 2017) or the largest given
score (the learned gates of gates.py); the next layer keeps only the columns of those units.
Batch-norm statistics and affine parameters of a kept unit come along. With a shallower depth the
first layers are kept and the head is new (its input units are gone): fine-tuning fits it.

The result is `space.to_torch(pruned_arch)` with weights loaded, so it is an ordinary model of
the space (its state_dict loads into a freshly built model of that architecture).
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import SpecError
from .cnn import prune_macro_cnn
from .space import PrunedSpace
from .transformer import prune_transformer


def hidden_layers(model: nn.Module) -> tuple[list[nn.Linear], list[nn.Module | None], nn.Linear]:
    """The hidden Linear layers, the norm after each (or None), and the head of a chain MLP."""
    modules = list(model.children()) if isinstance(model, nn.Sequential) else []
    linears = [m for m in modules if isinstance(m, nn.Linear)]
    if not linears:
        raise SpecError("model", "not a chain_mlp model: no Linear layers in a Sequential")
    norms: list[nn.Module | None] = []
    for linear in linears[:-1]:
        following = modules[modules.index(linear) + 1]
        norms.append(following if isinstance(following, (nn.BatchNorm1d, nn.LayerNorm)) else None)
    return linears[:-1], norms, linears[-1]


def l1_scores(model: nn.Module) -> list[torch.Tensor]:
    """Per hidden layer, the L1 norm of each unit's incoming weights."""
    linears, _, _ = hidden_layers(model)
    return [linear.weight.detach().abs().sum(dim=1) for linear in linears]


def keep_indices(score: torch.Tensor, count: int) -> torch.Tensor:
    """The `count` highest-scoring units, in their original order (ties: the lower index)."""
    order = sorted(range(len(score)), key=lambda i: (-float(score[i]), i))
    return torch.tensor(sorted(order[:count]), dtype=torch.long)


def prune_model(model: nn.Module, space, arch: dict, pruned_arch: dict, input_shape: tuple, num_classes: int,
                scores: list[torch.Tensor] | None = None, task: str = "classification",
                vocab_size: int = 0) -> nn.Module:
    """A model of `pruned_arch` holding `model`'s weights for the units it keeps (model is not changed)."""
    PrunedSpace(space, arch).validate_arch(pruned_arch)
    pruned = space.to_torch(pruned_arch, input_shape, num_classes, task=task, vocab_size=vocab_size)
    if space.kind == "macro_cnn":
        if scores is not None:
            raise SpecError("strategy", "learned gates are available for chain_mlp models only")
        return prune_macro_cnn(model, arch, pruned, pruned_arch)
    if space.kind == "transformer":
        if scores is not None:
            raise SpecError("strategy", "learned gates are available for chain_mlp models only")
        return prune_transformer(model, pruned, pruned_arch)
    source, source_norms, source_head = hidden_layers(model)
    target, target_norms, target_head = hidden_layers(pruned)
    if len(source) != arch["depth"] or source[0].in_features != target[0].in_features:
        raise SpecError("model", f"the weights do not fit the trained architecture {space.describe(arch)}")
    scores = scores if scores is not None else l1_scores(model)
    previous = torch.arange(source[0].in_features)
    with torch.no_grad():
        for i, (src, dst) in enumerate(zip(source, target, strict=False)):
            kept = keep_indices(scores[i], dst.out_features)
            dst.weight.copy_(src.weight[kept][:, previous])
            dst.bias.copy_(src.bias[kept])
            copy_norm(source_norms[i], target_norms[i], kept)
            previous = kept
        if len(target) == len(source):
            target_head.weight.copy_(source_head.weight[:, previous])
            target_head.bias.copy_(source_head.bias)
    return pruned


def recalibrate_batch_norm(model: nn.Module, x: torch.Tensor, batch_size: int = 256) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics on `x` (no weight changes).

    Pruning a layer's units shifts the next layers' input statistics, so the trained running
    averages no longer fit; a forward pass over some training inputs fixes them (as slimmable
    networks and once-for-all do before evaluating a sub-network)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    saved = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches below
    was_training = model.training
    model.train()
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            if len(x[start:start + batch_size]) > 1:
                model(x[start:start + batch_size])
    for norm, momentum in zip(norms, saved, strict=True):
        norm.momentum = momentum
    model.train(was_training)
    return model


def copy_norm(source: nn.Module | None, target: nn.Module | None, kept: torch.Tensor) -> None:
    if source is None or target is None:
        return
    for name in ("weight", "bias", "running_mean", "running_var"):
        value = getattr(source, name, None)
        if value is not None:
            getattr(target, name).copy_(value[kept])
    if isinstance(source, nn.BatchNorm1d) and source.num_batches_tracked is not None:
        target.num_batches_tracked.copy_(source.num_batches_tracked)
