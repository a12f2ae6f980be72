"""FLOPs and MACs of one forward, counted at the ATen operator level, where nothing is missed.

Module hooks only see modules; arithmetic written inline in a forward() (residual adds, the node
sums of a NAS-Bench-201 cell, F.linear, x @ w) never reaches them. Counting the operators the
forward actually dispatches sees all of it. Two counters run in the same forward:

  matmul FLOPs   torch.utils.flop_counter.FlopCounterMode, torch's own formulas (2 FLOPs per
                 multiply-accumulate of mm, addmm, bmm, baddbmm, convolutions, attention), plus the
                 one formula torch 2.13 lacks: its CPU attention kernel
                 (_scaled_dot_product_flash_attention_for_cpu), counted with torch's sdpa formula.
                 MACs = matmul FLOPs / 2.
  element-wise   ElementwiseCounter, one FLOP per element and step, the rules of
                 devices/costs/analytical.py: bias adds of addmm and convolutions 1; batch norm
                 (inference: scale and shift) 2; layer/group norm 5, +2 when affine; activations 1;
                 softmax 3; add, sub, mul, div 1; pooling: kernel volume per output (adaptive pools
                 and means: every input element once); attention: the scaling of q (1 per q element),
                 the softmax of the scores (3) and the mask add (1 per score) when a mask is given.
Operators that only move data (view, transpose, cat, zeros, embedding lookups) cost nothing.

nn.MultiheadAttention's inference fast path is one fused operator without a formula, so counting
runs with the fast path off (torch.backends.mha); the slow path computes the same function.
"""

from __future__ import annotations

import contextlib
import math
from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

aten = torch.ops.aten


def cpu_attention_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


MATMUL_ADDITIONS = {aten._scaled_dot_product_flash_attention_for_cpu: cpu_attention_flop}


def numel(tensor) -> int:
    return tensor.numel() if isinstance(tensor, torch.Tensor) else 0


def first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for item in value:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


def bias_adds(args, out, bias_index: int) -> int:
    bias = args[bias_index] if len(args) > bias_index else None
    return numel(first_tensor(out)) if isinstance(bias, torch.Tensor) else 0


def pool_flops(args, out) -> int:
    kernel = args[1]
    volume = math.prod(kernel) if isinstance(kernel, (tuple, list)) else kernel
    output = first_tensor(out)
    if isinstance(kernel, (tuple, list)) and len(kernel) == 1:
        volume = kernel[0] ** (output.dim() - 2)  # one size for every spatial axis
    return numel(output) * volume


def attention_elementwise(args, kwargs, out) -> int:
    query, key = args[0], args[1]
    mask = args[3] if len(args) > 3 else kwargs.get("attn_mask")
    *batch, length_q, head_dim = query.shape
    scores = math.prod(batch) * length_q * key.shape[-2]
    return numel(query) + 3 * scores + (scores if isinstance(mask, torch.Tensor) else 0)


def per_output(factor: int):
    return lambda args, kwargs, out: factor * numel(first_tensor(out))


def per_input(args, kwargs, out) -> int:
    return numel(args[0])


def norm_flops(weight_index: int):
    def flops(args, kwargs, out) -> int:
        weight = args[weight_index] if len(args) > weight_index else None
        return (5 + 2 * isinstance(weight, torch.Tensor)) * numel(first_tensor(out))
    return flops


ELEMENTWISE = {
    aten.addmm: lambda args, kwargs, out: bias_adds(args, out, 0),
    aten.convolution: lambda args, kwargs, out: bias_adds(args, out, 2),
    aten.native_batch_norm: per_output(2),
    aten._native_batch_norm_legit: per_output(2),
    aten._native_batch_norm_legit_no_training: per_output(2),
    aten.native_layer_norm: norm_flops(2),
    aten.native_group_norm: norm_flops(1),
    aten._softmax: per_output(3),
    aten._log_softmax: per_output(3),
    aten._scaled_dot_product_flash_attention_for_cpu: attention_elementwise,
    aten._scaled_dot_product_attention_math: attention_elementwise,
    aten.max_pool2d_with_indices: lambda args, kwargs, out: pool_flops(args, out),
    aten.max_pool3d_with_indices: lambda args, kwargs, out: pool_flops(args, out),
    aten.avg_pool2d: lambda args, kwargs, out: pool_flops(args, out),
    aten.avg_pool3d: lambda args, kwargs, out: pool_flops(args, out),
    aten._adaptive_avg_pool2d: per_input,
    aten._adaptive_avg_pool3d: per_input,
    aten.adaptive_max_pool2d: per_input,
    aten.adaptive_max_pool3d: per_input,
    aten.mean: per_input,
    aten.sum: per_input,
}
for _op in ("relu", "relu_", "hardtanh", "hardtanh_", "gelu", "silu", "silu_", "sigmoid", "tanh", "hardswish",
            "hardsigmoid", "elu", "elu_", "leaky_relu", "leaky_relu_", "mish", "_prelu_kernel", "clamp",
            "threshold", "add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "neg", "exp", "sqrt", "rsqrt"):
    ELEMENTWISE[getattr(aten, _op)] = per_output(1)


class ElementwiseCounter(TorchDispatchMode):
    """Counts the element-wise FLOPs of every dispatched operator with a rule in ELEMENTWISE."""

    def __init__(self):
        super().__init__()
        self.flops = 0
        self.by_op: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        rule = ELEMENTWISE.get(func.overloadpacket)
        if rule is not None:
            counted = int(rule(args, kwargs, out))
            self.flops += counted
            self.by_op[str(func.overloadpacket)] += counted
        return out


class FlopCount:
    """Running totals of one counted forward; `snapshot()` reads (macs, flops) so far."""

    def __init__(self, matmul: FlopCounterMode, elementwise: ElementwiseCounter):
        self.matmul, self.elementwise = matmul, elementwise

    def snapshot(self) -> tuple[int, int]:
        matmul_flops = self.matmul.get_total_flops()
        return matmul_flops // 2, matmul_flops + self.elementwise.flops


@contextlib.contextmanager
def counting():
    """Count every operator run inside the block: `with counting() as count: model(x)`, then
    count.snapshot() -> (MACs, FLOPs)."""
    fast_path = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    matmul = FlopCounterMode(display=False, custom_mapping=MATMUL_ADDITIONS)
    elementwise = ElementwiseCounter()
    try:
        with matmul, elementwise:
            yield FlopCount(matmul, elementwise)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)


def count_flops(model: torch.nn.Module, inputs: torch.Tensor) -> tuple[int, int]:
    """(MACs, FLOPs) of one forward of `model` on `inputs` (batch included), without gradients,
    in the model's current mode."""
    with torch.no_grad(), counting() as count:
        model(inputs)
    return count.snapshot()
