"""Analytical costs of a torch model: parameters, MACs, FLOPs, memory, size and energy.

MACs and FLOPs are counted at the ATen operator level by devices/costs/flop_count.py (torch's
FlopCounterMode for the matrix work, one element-wise counter beside it), so arithmetic written inline
in a forward() (residual adds, the node sums of a NAS-Bench-201 cell, F.linear) is counted like any
layer's. Forward hooks on the model's *units* (its leaf modules, plus nn.MultiheadAttention taken
whole, since it calls its projections functionally) attribute the counts to layers and measure memory;
what runs outside every unit is listed as one "(inline in forward)" layer.

Counting rules, per call (batch included):
  MACs (multiply-accumulates) of the matrix-like operators only:
    ConvNd      output elements x (in_channels / groups) x kernel volume (depthwise: groups = in_channels)
    Linear      output elements x in_features
    MultiheadAttention  q, k, v and output projections, plus QK^T and AV: 2 x heads x Lq x Lk x head_dim
    Embedding   0 (a table lookup)
  FLOPs = 2 x MACs + the element-wise work, one FLOP per element and step:
    bias add 1; BatchNorm (inference, folded to scale and shift) 2; LayerNorm/GroupNorm 5
    (mean, centre, square, sum, scale) plus 2 when affine; activations 1 whatever their function;
    add, sub, mul, div 1 (residuals, node sums); softmax 3 (exp, sum, divide); pooling: kernel volume
    per output element (adaptive pools and means: every input element once); attention: q scaling,
    projection biases, softmax, and the mask add when a mask is given.
  uncounted_layers: units with parameters whose calls ran no counted operator (a layer whose
  arithmetic has no formula); embeddings and other data-moving layers are free, not uncounted.

Memory, in bytes of the tensors' own dtypes (fp32 here):
  peak_memory_bytes   the largest input + output of any single unit call: what a runtime that frees
                      each tensor after its last use needs at least. It ignores tensors held for later
                      (a residual's skip input), so for branching networks it is a lower bound.
  activation_bytes    the sum of every unit's output: what a training forward keeps for backward.
Model size: fp32 = 4 bytes per element of every floating tensor in the state dict (parameters and
BatchNorm running statistics). int8 = 1 byte per element of the weight matrices and kernels (tensors of
2 or more dimensions, embeddings included) plus one fp32 scale per output channel, with the 1-D tensors
(biases, norm parameters, running statistics) kept at 4 bytes, as per-channel int8 schemes do.
Energy: MACs x energy per MAC of the arithmetic (devices/costs/energy.py; an estimate).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .energy import energy_mj
from .flop_count import counting
from .measure import eval_mode, example_input

# Layer kinds the latency predictor (predictor.py) groups by.
CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
ACTIVATION_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
                    nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.PReLU)
# Layers that move or drop data without arithmetic.
FREE_TYPES = (nn.Embedding, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Flatten, nn.Unflatten, nn.Identity)
WHOLE_UNIT_TYPES = (nn.MultiheadAttention,)


@dataclass
class LayerCost:
    name: str
    type: str
    macs: int
    flops: int
    input_bytes: int
    output_bytes: int


# --- walking the model -------------------------------------------------------------------------

def iter_units(model: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """The modules that costs are counted on: leaves, and attention blocks taken whole."""
    inside_whole_unit: list[str] = []
    for name, module in model.named_modules():
        if any(name.startswith(prefix + ".") for prefix in inside_whole_unit):
            continue
        if isinstance(module, WHOLE_UNIT_TYPES):
            inside_whole_unit.append(name)
            yield name, module
        elif not any(True for _ in module.children()):
            yield name, module


def iter_tensors(value) -> Iterator[torch.Tensor]:
    """Every tensor in a (possibly nested) tuple/list/dict of hook arguments, each once."""
    seen: set[int] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            if id(item) not in seen:
                seen.add(id(item))
                yield item
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def tensor_bytes(value) -> int:
    return sum(t.numel() * t.element_size() for t in iter_tensors(value))


# --- per-unit counts ------------------------------------------------------------------------------

INLINE = "(inline in forward)"


def trace_unit_costs(model: nn.Module, inputs: torch.Tensor) -> tuple[list[LayerCost], list[str]]:
    """Run one counted forward and return each unit call's cost (plus one INLINE entry for what ran
    outside every unit, when anything did) and the units with parameters that nothing counted."""
    costs: list[LayerCost] = []
    uncounted: list[str] = []
    handles = []
    started: list[tuple[int, int]] = []

    with torch.no_grad(), counting() as count:
        def before(module, args, kwargs):
            started.append(count.snapshot())

        def hook_for(name: str):
            def after(module, args, kwargs, output):
                macs, flops = count.snapshot()
                macs_before, flops_before = started.pop()
                costs.append(LayerCost(name, type(module).__name__, macs - macs_before, flops - flops_before,
                                       tensor_bytes((args, kwargs)), tensor_bytes(output)))
                has_parameters = any(True for _ in module.parameters(recurse=False))
                if has_parameters and flops == flops_before and not isinstance(module, FREE_TYPES):
                    uncounted.append(f"{name} ({type(module).__name__})")
            return after

        for name, module in iter_units(model):
            handles.append(module.register_forward_pre_hook(before, with_kwargs=True))
            handles.append(module.register_forward_hook(hook_for(name), with_kwargs=True))
        try:
            model(inputs)
        finally:
            for handle in handles:
                handle.remove()
        total_macs, total_flops = count.snapshot()
    inline_macs = total_macs - sum(c.macs for c in costs)
    inline_flops = total_flops - sum(c.flops for c in costs)
    if inline_macs or inline_flops:
        costs.append(LayerCost(INLINE, "inline", inline_macs, inline_flops, 0, 0))
    return costs, sorted(set(uncounted))


# --- model-level figures -------------------------------------------------------------------------

def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def stored_tensors(model: nn.Module) -> list[torch.Tensor]:
    return [t for t in model.state_dict().values() if t.is_floating_point()]


def size_fp32_bytes(model: nn.Module) -> int:
    return 4 * sum(t.numel() for t in stored_tensors(model))


def size_int8_bytes(model: nn.Module) -> int:
    total = 0
    for tensor in stored_tensors(model):
        if tensor.dim() >= 2:
            total += tensor.numel() + 4 * tensor.shape[0]  # int8 weights + one fp32 scale per output channel
        else:
            total += 4 * tensor.numel()
    return total


def analytical_costs(model: nn.Module, input_shape: tuple, *, batch: int = 1, vocab_size: int = 0,
                     arithmetic: str = "fp32", include_layers: bool = False) -> dict:
    """Costs of one inference of `model` on a (batch, *input_shape) input, in eval mode.

    vocab_size > 0 feeds token ids (as floats, as the datasets do) instead of random floats.
    Returns params, macs, flops, peak_memory_bytes, activation_bytes, size_fp32_bytes,
    size_int8_bytes, energy_mj (for `arithmetic`) and uncounted_layers; `layers` (one entry per
    unit call) when include_layers is set.
    """
    with eval_mode(model):
        costs, uncounted = trace_unit_costs(model, example_input(input_shape, batch, vocab_size))
    macs = sum(c.macs for c in costs)
    result = {
        "params": parameter_count(model),
        "macs": macs,
        "flops": sum(c.flops for c in costs),
        "peak_memory_bytes": max((c.input_bytes + c.output_bytes for c in costs), default=0),
        "activation_bytes": sum(c.output_bytes for c in costs),
        "size_fp32_bytes": size_fp32_bytes(model),
        "size_int8_bytes": size_int8_bytes(model),
        "energy_mj": energy_mj(macs, arithmetic),
        "uncounted_layers": uncounted,
    }
    if include_layers:
        result["layers"] = [asdict(c) for c in costs]
    return result
