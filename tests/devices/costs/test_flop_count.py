"""FLOPs counted at the operator level (devices/costs/flop_count.py) against hand counts, against
torch's FlopCounterMode, and the one count shared by the flops proxy, the analytical target and
the one-shot latency terms."""

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from devices.costs.analytical import INLINE, analytical_costs
from devices.costs.flop_count import count_flops
from searches.estimators.zero_cost import compute_proxy
from searches.oneshot.latency import analytical_mmacs
from searches.spaces.nb201 import NB201Space
from searches.spaces.nb201_cell import string_to_arch
from searches.spaces.nb201_modules import Cell

torch.set_num_threads(1)


class Residual(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear = nn.Linear(dim, dim)

    def forward(self, x):
        return x + self.linear(x)  # the add is inline: no module sees it


class FunctionalLinear(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_out, d_in))

    def forward(self, x):
        return F.linear(x, self.weight) @ torch.ones(self.weight.shape[0], 2)


def test_inline_residual_add_is_counted():
    macs, flops = count_flops(Residual(6), torch.randn(3, 6))
    assert macs == 3 * 36
    assert flops == 2 * 3 * 36 + 3 * 6 + 3 * 6  # matmul, bias, residual add


def test_functional_matmuls_are_counted():
    macs, flops = count_flops(FunctionalLinear(5, 4), torch.randn(2, 5))
    assert macs == 2 * 5 * 4 + 2 * 4 * 2
    assert flops == 2 * macs


def test_nb201_node_sums_are_counted():
    # Every edge a skip: node 1 = x, node 2 = x + x, node 3 = x + x + x: three adds of C x H x W.
    skips = string_to_arch("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|"
                           "skip_connect~2|")
    macs, flops = count_flops(Cell(skips, 4), torch.randn(1, 4, 5, 5))
    assert (macs, flops) == (0, 3 * 4 * 25)


def test_nb201_cell_hand_count():
    # node1 = conv3x3(x); node2 = conv1x1(x) + skip(node1); node3 = pool(x) + conv3x3(node1) + skip(node2)
    arch = string_to_arch("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|"
                          "skip_connect~2|")
    c, hw = 4, 6 * 6
    conv3, conv1 = c * hw * c * 9, c * hw * c
    relu_bn = c * hw * (1 + 2)  # ReLU, then batch norm (scale and shift)
    pool = c * hw * 9
    adds = 3 * c * hw  # one add at node 2, two at node 3
    macs, flops = count_flops(Cell(arch, c).eval(), torch.randn(1, c, 6, 6))
    assert macs == 2 * conv3 + conv1
    assert flops == 2 * macs + 3 * relu_bn + pool + adds


def test_matmul_part_agrees_with_torch_flop_counter():
    space = NB201Space({"C": 8, "N": 2})
    model = space.to_torch(space.sample(random.Random(3)), (3, 16, 16), 10).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad(), FlopCounterMode(display=False) as reference:
        model(x)
    assert 2 * count_flops(model, x)[0] == reference.get_total_flops() > 0


def test_attention_with_weights_runs_the_slow_path_and_is_counted():
    attention = nn.MultiheadAttention(8, 2, batch_first=True).eval()

    class WithWeights(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = attention

        def forward(self, x):
            return self.attn(x, x, x)[0]

    macs, _ = count_flops(WithWeights(), torch.randn(1, 5, 8))
    assert macs == 4 * 5 * 64 + 2 * 5 * 5 * 8


def test_analytical_costs_list_inline_work_as_one_layer():
    space = NB201Space({"C": 4, "N": 1})
    model = space.to_torch(string_to_arch("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|"
                                          "skip_connect~1|skip_connect~2|"), (3, 8, 8), 10)
    costs = analytical_costs(model, (3, 8, 8), include_layers=True)
    inline = [layer for layer in costs["layers"] if layer["name"] == INLINE]
    # three cells (one per stage) of three adds each, plus the two residual reductions' adds
    per_stage = [(4, 64), (8, 16), (16, 4)]
    expected = sum(3 * c * hw for c, hw in per_stage) + sum(c * hw for c, hw in per_stage[1:])
    assert [layer["flops"] for layer in inline] == [expected]
    assert costs["flops"] == sum(layer["flops"] for layer in costs["layers"])


@pytest.mark.parametrize("seed", [0, 1])
def test_one_count_for_the_proxy_the_analytical_target_and_the_latency_terms(seed):
    space = NB201Space({"C": 8, "N": 1})
    model = space.to_torch(space.sample(random.Random(seed)), (3, 16, 16), 10)
    x = torch.randn(4, 3, 16, 16)
    macs = analytical_costs(model, (3, 16, 16))["macs"]
    assert compute_proxy("flops", model, x, None) == macs
    assert analytical_mmacs(model, (3, 16, 16)) == pytest.approx(macs / 1e6)
