"""The differentiable variant: learn a gate per hidden unit under a budget (DSA-like).

DSA (Ning et al., "DSA: More efficient budgeted pruning via differentiable sparsity allocation",
ECCV 2020) learns per-layer keep ratios by gradient descent under a budget. Here each hidden unit
of the trained chain MLP gets a gate sigmoid(theta) multiplying its output (after the activation),
theta starting at `init_logit` (gates near 1: the trained model unchanged). Weights and gates train
together on

    cross entropy + penalty x relu(E[cost] / budget - 1)

where E[cost] is the parameter count (or the MACs) of the MLP with n_i = sum of layer i's gates
units: (n_{i-1} + 1) n_i per layer (MACs: n_{i-1} n_i), differentiable in the gates. The widths
are then read off: layer i keeps the smallest width choice of the space of at least its expected
width (the sum of its gates; at most the trained width), and the units with the largest gates; if the exact cost is
still over the budget, the widest layer steps down a choice until it fits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import SpecError
from .space import PrunedSpace
from .transplant import hidden_layers

GATE_COSTS = ("params", "macs")


def expected_cost(widths: list[torch.Tensor], in_features: int, num_classes: int, metric: str,
                  norm_params: int = 0) -> torch.Tensor:
    """Parameters (weights, biases, `norm_params` per unit) or MACs of a chain MLP of these widths."""
    sizes = [torch.tensor(float(in_features)), *widths, torch.tensor(float(num_classes))]
    total = torch.tensor(0.0)
    for fan_in, fan_out in zip(sizes, sizes[1:], strict=False):
        total = total + fan_in * fan_out + (fan_out if metric == "params" else 0.0)
    if metric == "params":
        total = total + norm_params * sum(widths)
    return total


def learn_gates(model: nn.Module, space, arch: dict, data, metric: str, budget: float, epochs: int = 3,
                lr: float = 1e-3, gate_lr: float = 0.05, penalty: float = 5.0, init_logit: float = 3.0,
                batch_size: int = 64, seed: int = 0, cost_of=None) -> tuple[dict, list[torch.Tensor]]:
    """(pruned architecture, per-layer unit scores = final gates); `model` is trained in place.

    cost_of(arch) -> the exact cost used for the final fit (default: E[cost] at the chosen widths)."""
    if metric not in GATE_COSTS:
        raise SpecError("budget", f"learned gates need a differentiable cost: one of {list(GATE_COSTS)}")
    pruned_space = PrunedSpace(space, arch)
    torch.manual_seed(seed)
    linears, norms, _ = hidden_layers(model)
    thetas = [nn.Parameter(torch.full((linear.out_features,), float(init_logit))) for linear in linears]
    norm_params = 2 if any(n is not None for n in norms) else 0
    activations = [module for module in model.children() if not isinstance(
        module, (nn.Linear, nn.Flatten, nn.BatchNorm1d, nn.LayerNorm, nn.Dropout))][:len(linears)]
    handles = [act.register_forward_hook(lambda _m, _i, out, theta=theta: out * torch.sigmoid(theta))
               for act, theta in zip(activations, thetas, strict=True)]
    optimizer = torch.optim.Adam([{"params": model.parameters(), "lr": lr}, {"params": thetas, "lr": gate_lr}])
    generator = torch.Generator().manual_seed(seed)
    in_features = linears[0].in_features
    try:
        model.train()
        for _ in range(epochs):
            order = torch.randperm(len(data.x_train), generator=generator)
            for start in range(0, len(order), batch_size):
                index = order[start:start + batch_size]
                if len(index) < 2:
                    continue
                widths = [torch.sigmoid(theta).sum() for theta in thetas]
                cost = expected_cost(widths, in_features, data.num_classes, metric, norm_params)
                loss = F.cross_entropy(model(data.x_train[index]), data.y_train[index]) + \
                    penalty * F.relu(cost / budget - 1)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    finally:
        for handle in handles:
            handle.remove()
    gates = [torch.sigmoid(theta.detach()) for theta in thetas]
    choices = dict(pruned_space.complete(arch))
    for i, gate in enumerate(gates, start=1):
        options = pruned_space.decision(f"width_{i}").choices
        needed = round(float(gate.sum()))  # the expected width the cost was computed with
        choices[f"width_{i}"] = min((w for w in options if w >= needed), default=max(options))

    def exact(candidate: dict) -> float:
        if cost_of is not None:
            return cost_of(candidate)
        widths = [torch.tensor(float(candidate[f"width_{i}"])) for i in range(1, candidate["depth"] + 1)]
        return float(expected_cost(widths, in_features, data.num_classes, metric, norm_params))

    while exact(choices) > budget and not fits_smallest(pruned_space, choices):
        step_down_widest(pruned_space, choices)
    return pruned_space.to_arch(choices), gates


def fits_smallest(space: PrunedSpace, choices: dict) -> bool:
    return all(choices[f"width_{i}"] == min(space.decision(f"width_{i}").choices)
               for i in range(1, choices["depth"] + 1))


def step_down_widest(space: PrunedSpace, choices: dict) -> None:
    layers = [i for i in range(1, choices["depth"] + 1)
              if choices[f"width_{i}"] > min(space.decision(f"width_{i}").choices)]
    widest = max(layers, key=lambda i: (choices[f"width_{i}"], -i))
    options = sorted(space.decision(f"width_{widest}").choices)
    choices[f"width_{widest}"] = options[options.index(choices[f"width_{widest}"]) - 1]

