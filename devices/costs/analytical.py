"""Analytical costs of a torch model: parameters, MACs, FLOPs, memory, size and energy.

Counted with forward hooks on the model's *units*: its leaf modules, plus nn.MultiheadAttention
taken whole (it calls its projections functionally, so hooks on its children never fire).

Counting rules, per call of a unit (batch included):
  MACs (multiply-accumulates) of the matrix-like layers only:
    ConvNd      output elements x (in_channels / groups) x kernel volume (depthwise: groups = in_channels)
    Linear      output elements x in_features
    MultiheadAttention  q, k, v and output projections, plus QK^T and AV: 2 x heads x Lq x Lk x head_dim
    Embedding   0 (a table lookup)
  FLOPs = 2 x MACs + the element-wise work, one FLOP per element and step:
    bias add 1; BatchNorm (inference, folded to scale and shift) 2; LayerNorm/GroupNorm 5
    (mean, centre, square, sum, scale) plus 2 when affine; activations 1 whatever their function;
    softmax 3 (exp, sum, divide); pooling: kernel volume per output element (adaptive: every input
    element once); attention: q scaling, projection biases, softmax, and the mask add when a mask is given.
  Not seen by hooks, so not counted: arithmetic written in a forward() method of a container
  (residual adds, position-embedding adds, token mean-pooling). Those are element-wise and small next
  to the MACs; they are listed as uncounted only when they sit in a leaf module with parameters.

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

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .energy import energy_mj
from .measure import eval_mode, example_input

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
BATCHNORM_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
GROUPED_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm)
ACTIVATION_TYPES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
                    nn.Hardswish, nn.Hardsigmoid, nn.Mish, nn.PReLU)
SOFTMAX_TYPES = (nn.Softmax, nn.LogSoftmax)
FIXED_POOL_TYPES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)
ADAPTIVE_POOL_TYPES = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                       nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
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

def conv_macs(module: nn.Module, output: torch.Tensor) -> int:
    per_output = (module.in_channels // module.groups) * math.prod(module.kernel_size)
    return output.numel() * per_output


def linear_macs(module: nn.Linear, output: torch.Tensor) -> int:
    return output.numel() * module.in_features


def attention_shapes(module: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor) -> tuple[int, int, int]:
    """(batch, query length, key length) whatever the layout: batched or not, batch-first or not."""
    if query.dim() == 2:
        return 1, query.shape[0], key.shape[0]
    if module.batch_first:
        return query.shape[0], query.shape[1], key.shape[1]
    return query.shape[1], query.shape[0], key.shape[0]


def attention_is_masked(args: tuple, kwargs: dict) -> bool:
    # forward(query, key, value, key_padding_mask, need_weights, attn_mask, ...)
    padding = args[3] if len(args) > 3 else kwargs.get("key_padding_mask")
    mask = args[5] if len(args) > 5 else kwargs.get("attn_mask")
    return padding is not None or mask is not None


def attention_costs(module: nn.MultiheadAttention, args: tuple, kwargs: dict) -> tuple[int, int]:
    query = args[0] if args else kwargs["query"]
    key = args[1] if len(args) > 1 else kwargs.get("key", query)
    batch, lq, lk = attention_shapes(module, query, key)
    e, heads = module.embed_dim, module.num_heads
    projections = lq * e * e + lk * module.kdim * e + lk * module.vdim * e + lq * e * e
    scores = 2 * lq * lk * e  # QK^T and AV, each heads x Lq x Lk x head_dim
    macs = batch * (projections + scores)
    elementwise = lq * e  # q scaling by 1/sqrt(head_dim)
    elementwise += 3 * heads * lq * lk  # softmax
    if module.in_proj_bias is not None:
        elementwise += (lq + 2 * lk) * e
    if module.out_proj.bias is not None:
        elementwise += lq * e
    if attention_is_masked(args, kwargs):
        elementwise += heads * lq * lk
    return macs, 2 * macs + batch * elementwise


def elementwise_flops(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """FLOPs of the layers without MACs; 0 for layers that only move data."""
    if isinstance(module, BATCHNORM_TYPES):
        return 2 * output.numel()
    if isinstance(module, GROUPED_NORM_TYPES):
        affine = module.elementwise_affine if isinstance(module, nn.LayerNorm) else module.affine
        return (5 + 2 * bool(affine)) * output.numel()
    if isinstance(module, ACTIVATION_TYPES):
        return output.numel()
    if isinstance(module, SOFTMAX_TYPES):
        return 3 * output.numel()
    if isinstance(module, FIXED_POOL_TYPES):
        kernel = module.kernel_size
        dims = int(type(module).__name__[-2])  # MaxPool2d -> 2
        volume = math.prod(kernel) if isinstance(kernel, tuple) else kernel**dims
        return output.numel() * volume
    if isinstance(module, ADAPTIVE_POOL_TYPES):
        return inputs[0].numel()
    return 0


def is_counted(module: nn.Module) -> bool:
    known = CONV_TYPES + (nn.Linear,) + WHOLE_UNIT_TYPES + BATCHNORM_TYPES + GROUPED_NORM_TYPES
    known += ACTIVATION_TYPES + SOFTMAX_TYPES + FIXED_POOL_TYPES + ADAPTIVE_POOL_TYPES + FREE_TYPES
    return isinstance(module, known)


def unit_cost(name: str, module: nn.Module, args: tuple, kwargs: dict, output) -> LayerCost:
    first_output = next(iter_tensors(output))
    if isinstance(module, nn.MultiheadAttention):
        macs, flops = attention_costs(module, args, kwargs)
    else:
        macs = 0
        if isinstance(module, CONV_TYPES):
            macs = conv_macs(module, first_output)
        elif isinstance(module, nn.Linear):
            macs = linear_macs(module, first_output)
        bias = getattr(module, "bias", None)
        bias_adds = first_output.numel() if isinstance(bias, torch.Tensor) and macs else 0
        flops = 2 * macs + bias_adds + elementwise_flops(module, args, first_output)
    return LayerCost(name, type(module).__name__, macs, flops,
                     tensor_bytes((args, kwargs)), tensor_bytes(output))


def trace_unit_costs(model: nn.Module, inputs: torch.Tensor) -> tuple[list[LayerCost], list[str]]:
    """Run one forward and return each unit call's cost and the units we could not count."""
    costs: list[LayerCost] = []
    uncounted: list[str] = []
    handles = []

    def hook_for(name: str):
        def hook(module, args, kwargs, output):
            costs.append(unit_cost(name, module, args, kwargs, output))
        return hook

    for name, module in iter_units(model):
        if not is_counted(module) and any(True for _ in module.parameters(recurse=False)):
            uncounted.append(f"{name} ({type(module).__name__})")
        handles.append(module.register_forward_hook(hook_for(name), with_kwargs=True))
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return costs, uncounted


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
