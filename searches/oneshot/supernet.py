"""Supernets: one network that holds every architecture of a space, with shared weights.

Every decision of the space becomes a *mixed* part of the supernet (a mixed op on an NB201
edge, a mixed width of an MLP layer, a mixed kernel/expansion of a CNN block). A forward pass
takes one `Gate` per decision, which says which choices run and how their outputs combine:

    single path   Gate((i,))                     only choice i runs, its output is used as is
    mixture       Gate((0..n-1), softmax(alpha))  DARTS: every choice runs, outputs weighted
    binarised     Gate((i, j), st_gates)          ProxylessNAS: two sampled choices run; the
                  forward value is one-hot, the gradient reaches alpha (binary-gate trick)

So one module serves every strategy: random one-shot and ENAS train single paths, DARTS
trains the mixture, ProxylessNAS the binarised paths. A choice whose index is not in the gate
is never computed, which is what makes single-path training cheap.

Batch normalisation inside a supernet uses batch statistics only (track_running_stats=False,
as NAS-Bench-201's one-shot baselines do): running statistics would average over every path
trained so far and fit none of them, so an architecture evaluated with inherited weights
would be judged by another path's statistics. Evaluate in large batches for that reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..spaces.base import Decision, SearchSpace

#: The parameter-free op that DARTS never keeps when it discretises an edge.
NONE_OP = "none"
SKIP_OP = "skip_connect"


# --- gates -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Gate:
    """Which choices of one decision run in a forward pass, and their weights.

    weights is None for an unweighted single path; otherwise one weight per index.
    """

    indices: tuple[int, ...]
    weights: torch.Tensor | None = None

    def pairs(self) -> list[tuple[int, torch.Tensor | None]]:
        if self.weights is None:
            return [(self.indices[0], None)]
        return [(i, self.weights[k]) for k, i in enumerate(self.indices)]

    def weight_where(self, predicate) -> torch.Tensor | float | None:
        """Total weight of the running choices whose index satisfies predicate;
        None when no running choice does (so the caller can skip the work)."""
        selected = [w for i, w in self.pairs() if predicate(i)]
        if not selected:
            return None
        if selected[0] is None:
            return 1.0
        return torch.stack(selected).sum()


def apply_weight(weight, value: torch.Tensor) -> torch.Tensor:
    """weight x value, leaving value untouched for an unweighted path (exactly the stand-alone op)."""
    unweighted = weight is None or (isinstance(weight, float) and weight == 1.0)
    return value if unweighted else weight * value


def mask_from_gate(gate: Gate, sizes: tuple[int, ...], length: int, reference: torch.Tensor,
                   scale: int = 1) -> torch.Tensor:
    """Channel mask for a mixed width: sum over running choices of weight x [j < size x scale].

    A hard single path gives a 0/1 mask, i.e. exactly the first `size` channels; a mixture gives
    FBNetV2's weighted mask, which equals the weighted sum of the per-width outputs.
    """
    positions = torch.arange(length, device=reference.device)
    mask = reference.new_zeros(length)
    for index, weight in gate.pairs():
        hard = (positions < sizes[index] * scale).to(reference.dtype)
        mask = mask + (hard if weight is None else weight * hard)
    return mask


def path_gates(space: SearchSpace, arch: dict) -> dict[str, Gate]:
    """Single-path gates for an architecture; inactive decisions get their first choice (unused)."""
    full = space.complete(arch)
    return {d.name: Gate((d.index_of(full[d.name]),)) for d in space.decisions}


def mixture_gates(probabilities: dict[str, torch.Tensor]) -> dict[str, Gate]:
    return {name: Gate(tuple(range(len(p))), p) for name, p in probabilities.items()}


def sample_indices(probabilities: torch.Tensor, count: int, generator: torch.Generator) -> tuple[int, ...]:
    """`count` distinct choices drawn from the distribution (fewer when there are fewer choices)."""
    count = min(count, len(probabilities))
    drawn = torch.multinomial(probabilities.detach().cpu(), count, replacement=False, generator=generator)
    return tuple(int(i) for i in drawn)


def binary_gate(alpha: torch.Tensor, indices: tuple[int, ...], generator: torch.Generator) -> Gate:
    """ProxylessNAS's binarised gate over the sampled choices.

    The sampled choices' probabilities are renormalised among themselves (the others are masked
    out as if absent); one of them is drawn as the active path. Forward: the one-hot gate g.
    Backward: straight through to p, so dL/dalpha_i = sum_j dL/dg_j p_j (delta_ij - p_i), the
    paper's gradient estimate. Both sampled choices run, because dL/dg_j needs output j.
    """
    if len(indices) == 1:
        return Gate(indices)
    probs = torch.softmax(alpha[list(indices)], dim=0)
    active = int(torch.multinomial(probs.detach().cpu(), 1, generator=generator))
    one_hot = torch.zeros_like(probs)
    one_hot[active] = 1.0
    return Gate(indices, one_hot - probs.detach() + probs)


# --- architecture parameters ----------------------------------------------------------------------

def choice_label(value) -> str:
    """Choices as JSON object keys (JSON keys are strings, so 64 and 0.2 become '64' and '0.2')."""
    return str(value)


class ArchitectureParameters(nn.Module):
    """One vector of logits (alpha) per decision; softmax(alpha) is the distribution over choices."""

    def __init__(self, decisions: tuple[Decision, ...], init_scale: float = 1e-3,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.decisions = tuple(decisions)
        # Small random logits (DARTS: 1e-3 x N(0, 1)) break the ties between choices.
        self.alphas = nn.ParameterList(
            nn.Parameter(init_scale * torch.randn(len(d.choices), generator=generator)) for d in self.decisions)

    def alpha(self, name: str) -> nn.Parameter:
        for decision, alpha in zip(self.decisions, self.alphas, strict=True):
            if decision.name == name:
                return alpha
        raise KeyError(name)

    def probabilities(self) -> dict[str, torch.Tensor]:
        return {d.name: torch.softmax(a, dim=0) for d, a in zip(self.decisions, self.alphas, strict=True)}

    def table(self) -> dict[str, dict[str, float]]:
        """{decision: {choice: probability}}, plain floats (what each epoch reports)."""
        with torch.no_grad():
            return probability_table(self.decisions, self.probabilities())

    def mixture_gates(self) -> dict[str, Gate]:
        return mixture_gates(self.probabilities())


def probability_table(decisions, probabilities: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    return {d.name: {choice_label(c): float(p) for c, p in zip(d.choices, probabilities[d.name], strict=True)}
            for d in decisions}


def argmax_arch(space: SearchSpace, probabilities: dict[str, torch.Tensor | list[float]],
                exclude: tuple = ()) -> dict:
    """The most probable choice per decision, skipping `exclude`d choices where a decision has others."""
    choices = {}
    for d in space.decisions:
        probs = [float(p) for p in probabilities[d.name]]
        allowed = [i for i, c in enumerate(d.choices) if c not in exclude] or list(range(len(d.choices)))
        choices[d.name] = d.choices[max(allowed, key=lambda i: probs[i])]
    return space.to_arch(choices)


# --- building blocks ------------------------------------------------------------------------------

class MixedOp(nn.Module):
    """Candidate modules of one decision, indexed like the decision's choices.

    `zero_index` marks the 'none' candidate: it contributes nothing, so it is never computed.
    """

    def __init__(self, candidates: list[nn.Module], zero_index: int | None = None):
        super().__init__()
        self.candidates = nn.ModuleList(candidates)
        self.zero_index = zero_index

    def forward(self, x: torch.Tensor, gate: Gate) -> torch.Tensor:
        out = None
        for index, weight in gate.pairs():
            if index == self.zero_index:
                continue
            value = apply_weight(weight, self.candidates[index](x))
            out = value if out is None else out + value
        if out is None:
            # Only 'none' runs; scale by its weight (0 x) so a mixture still has a graph.
            weight = gate.pairs()[0][1]
            return torch.zeros_like(x) if weight is None else weight * torch.zeros_like(x)
        return out


def use_batch_statistics(module: nn.Module, affine: bool | None = None) -> nn.Module:
    """Replace every BatchNorm in `module` by one that always normalises with batch statistics.

    affine=None keeps each layer's own setting; False drops the learnable scale and shift
    (DARTS does this inside mixed ops, so an op cannot rescale itself against alpha).
    """
    for name, child in module.named_children():
        if isinstance(child, (nn.BatchNorm1d, nn.BatchNorm2d)):
            keep_affine = child.affine if affine is None else affine
            replacement = type(child)(child.num_features, eps=child.eps, momentum=child.momentum,
                                      affine=keep_affine, track_running_stats=False)
            setattr(module, name, replacement)
        else:
            use_batch_statistics(child, affine)
    return module


# --- the base class and the factory ----------------------------------------------------------------

class Supernet(nn.Module):
    """A weight-sharing network over a space; `forward(x, gates)` with one Gate per decision."""

    #: True when the supernet can add DARTS-'s auxiliary skip connection to its mixed edges.
    supports_auxiliary_skip = False

    def __init__(self, space: SearchSpace):
        super().__init__()
        self.space = space
        #: Weight of DARTS-'s auxiliary skip connection (0 = off); only read where supported.
        self.auxiliary_skip_weight = 0.0

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self.space.decisions

    def forward_path(self, x: torch.Tensor, arch: dict) -> torch.Tensor:
        return self(x, path_gates(self.space, arch))

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())
