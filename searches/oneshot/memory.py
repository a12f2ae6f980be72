"""What a supernet's training step holds in memory, measured from autograd itself.

`tracemalloc` cannot see torch's CPU tensors (they come from c10's allocator, not Python's), so
the activations are counted where they live: every tensor autograd saves for the backward pass
of one forward, through `torch.autograd.graph.saved_tensors_hooks`, each storage once. Those
saved activations are what grows with ops x channels x batch - the part of DARTS' memory that
PC-DARTS' partial channels cut - and they are exact and repeatable, unlike a process's RSS.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .supernet import Gate, Supernet


@dataclass(frozen=True)
class StepMemory:
    #: bytes of the distinct tensor storages autograd saved for one training step's backward pass
    saved_activation_bytes: int
    #: bytes of the supernet's parameters (the weights; their gradients take as much again)
    parameter_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.saved_activation_bytes + 2 * self.parameter_bytes


def training_step_memory(supernet: Supernet, x: torch.Tensor, y: torch.Tensor, gates: dict[str, Gate]) -> StepMemory:
    """Memory of one forward + loss through `gates` (nothing is updated)."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    supernet.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = F.cross_entropy(supernet(x, gates), y)
    del loss
    parameters = sum(p.numel() * p.element_size() for p in supernet.parameters())
    return StepMemory(sum(storages.values()), parameters)
