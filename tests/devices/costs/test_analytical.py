"""Analytical costs against hand counts (see the counting rules in devices/costs/analytical.py)."""

import random

import pytest
import torch
from torch import nn

from devices.costs.analytical import analytical_costs
from devices.costs.energy import PICOJOULES_PER_MAC, arithmetic_of_device, energy_mj
from searches.spaces.registry import build_space


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, batch_first=True):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=batch_first)

    def forward(self, x):
        return self.attn(x, x, x, need_weights=False)[0]


class CrossAttention(nn.Module):
    """Queries are the first 3 tokens, keys and values all 7: Lq != Lk."""

    def __init__(self, dim, heads):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, x):
        return self.attn(x[:, :3], x, x, need_weights=False)[0]


class Tokens(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)

    def forward(self, x):
        return self.embed(x.long())


def test_linear_is_in_times_out_macs_plus_bias():
    costs = analytical_costs(nn.Linear(10, 20), (10,))
    assert costs["macs"] == 200
    assert costs["flops"] == 2 * 200 + 20
    assert costs["params"] == 220


def test_linear_counts_every_position_of_a_sequence_and_the_batch():
    costs = analytical_costs(nn.Linear(10, 20), (7, 10), batch=3)
    assert costs["macs"] == 3 * 7 * 200


def test_conv2d_hand_count():
    costs = analytical_costs(nn.Conv2d(3, 8, 3, padding=1), (3, 8, 8))
    assert costs["macs"] == 8 * 3 * 9 * 64
    assert costs["flops"] == 2 * 8 * 3 * 9 * 64 + 8 * 64
    assert costs["params"] == 8 * 3 * 9 + 8


def test_depthwise_conv_has_one_input_channel_per_output():
    costs = analytical_costs(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), (8, 8, 8))
    assert costs["macs"] == 8 * 64 * 9
    assert costs["flops"] == 2 * 8 * 64 * 9


def test_grouped_and_strided_convs():
    grouped = analytical_costs(nn.Conv2d(8, 16, 3, padding=1, groups=2, bias=False), (8, 8, 8))
    assert grouped["macs"] == 16 * 64 * (4 * 9)
    strided = analytical_costs(nn.Conv2d(3, 4, 3, stride=2, padding=1, bias=False), (3, 8, 8))
    assert strided["macs"] == 4 * 16 * 3 * 9


def test_conv1d_hand_count():
    costs = analytical_costs(nn.Conv1d(4, 6, 5, bias=False), (4, 20))
    assert costs["macs"] == 6 * 16 * 4 * 5  # output length 20 - 5 + 1


def test_small_sequential_sums_its_layers():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 3))
    costs = analytical_costs(model, (3, 4), batch=2)
    assert costs["macs"] == 2 * (12 * 5 + 5 * 3)
    # per sample: linear 2*60+5, BN 2*5, ReLU 5, linear 2*15+3
    assert costs["flops"] == 2 * (125 + 10 + 5 + 33)
    assert costs["params"] == 65 + 10 + 18


def test_a_module_called_twice_is_counted_twice():
    shared = nn.Linear(4, 4, bias=False)
    assert analytical_costs(nn.Sequential(shared, shared), (4,))["macs"] == 2 * 16
    assert analytical_costs(nn.Sequential(shared, shared), (4,))["params"] == 16


def test_pooling_and_norm_flops():
    assert analytical_costs(nn.MaxPool2d(2), (4, 8, 8))["flops"] == 4 * 4 * 4 * 4
    assert analytical_costs(nn.AvgPool2d(3, stride=1, padding=1), (2, 4, 4))["flops"] == 2 * 16 * 9
    assert analytical_costs(nn.AdaptiveAvgPool2d(1), (4, 8, 8))["flops"] == 4 * 64
    assert analytical_costs(nn.LayerNorm(6), (3, 6))["flops"] == 18 * 7
    assert analytical_costs(nn.LayerNorm(6, elementwise_affine=False), (3, 6))["flops"] == 18 * 5
    assert analytical_costs(nn.BatchNorm2d(4), (4, 2, 2))["flops"] == 2 * 16
    assert analytical_costs(nn.GELU(), (10,))["macs"] == 0


def test_self_attention_hand_count():
    # L=5, E=8, 2 heads: q, k, v, out projections 4 * 5 * 8 * 8; QK^T and AV 2 * 5 * 5 * 8.
    costs = analytical_costs(SelfAttention(8, 2), (5, 8))
    assert costs["macs"] == 4 * 5 * 64 + 2 * 5 * 5 * 8
    # element-wise: q scaling 5*8, softmax 3*2*5*5, in-projection biases 3*5*8, output bias 5*8
    assert costs["flops"] == 2 * costs["macs"] + 40 + 150 + 120 + 40
    assert costs["params"] == 4 * 64 + 4 * 8


def test_attention_with_different_query_and_key_lengths():
    costs = analytical_costs(CrossAttention(8, 2), (7, 8))
    assert costs["macs"] == 3 * 64 + 7 * 64 + 7 * 64 + 3 * 64 + 2 * 3 * 7 * 8


def test_sequence_first_attention_reads_the_batch_from_dimension_one():
    batch_first = analytical_costs(SelfAttention(8, 2, batch_first=True), (5, 8), batch=3)
    # input (3, 5, 8) read as L=3, N=5 when batch_first is False
    seq_first = analytical_costs(SelfAttention(8, 2, batch_first=False), (5, 8), batch=3)
    assert batch_first["macs"] == 3 * (4 * 5 * 64 + 2 * 25 * 8)
    assert seq_first["macs"] == 5 * (4 * 3 * 64 + 2 * 9 * 8)


def test_embeddings_cost_no_macs_but_count_parameters():
    costs = analytical_costs(Tokens(100, 16), (12,), vocab_size=100)
    assert costs["macs"] == 0
    assert costs["params"] == 1600


def test_peak_memory_is_the_largest_input_plus_output_of_one_layer():
    assert analytical_costs(nn.Linear(10, 20), (10,))["peak_memory_bytes"] == 4 * (10 + 20)
    model = nn.Sequential(nn.Linear(10, 50), nn.ReLU(), nn.Linear(50, 2))
    costs = analytical_costs(model, (10,))
    assert costs["peak_memory_bytes"] == 4 * (50 + 50)  # the ReLU
    assert costs["activation_bytes"] == 4 * (50 + 50 + 2)


def test_model_sizes_fp32_and_int8():
    linear = analytical_costs(nn.Linear(10, 20), (10,))
    assert linear["size_fp32_bytes"] == 4 * 220
    assert linear["size_int8_bytes"] == 200 + 4 * 20 + 4 * 20  # int8 weights, fp32 scales, fp32 bias
    norm = analytical_costs(nn.BatchNorm1d(5), (5,), batch=2)
    assert norm["size_fp32_bytes"] == 4 * 4 * 5  # weight, bias, running mean and variance


def test_energy_is_macs_times_energy_per_mac():
    assert PICOJOULES_PER_MAC["fp32"] == pytest.approx(4.6)
    assert PICOJOULES_PER_MAC["int8"] == pytest.approx(0.23)
    assert energy_mj(10**9, "fp32") == pytest.approx(4.6)  # 1e9 MACs * 4.6 pJ = 4.6 mJ
    costs = analytical_costs(nn.Linear(10, 20), (10,), arithmetic="int8")
    assert costs["energy_mj"] == pytest.approx(200 * 0.23e-9)
    assert arithmetic_of_device("eyeriss") == "int16"
    with pytest.raises(ValueError, match="arithmetic"):
        energy_mj(1, "fp8")


def test_training_mode_is_restored():
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    analytical_costs(model, (4,))
    assert model.training


SPACE_INPUTS = [
    ("chain_mlp", (16,), 0),
    ("macro_cnn", (3, 16, 16), 0),
    ("transformer", (3, 16, 16), 0),
    ("transformer", (12,), 50),
    ("hybrid", (3, 16, 16), 0),
    ("nb201", (3, 16, 16), 0),
]


@pytest.mark.parametrize(("kind", "input_shape", "vocab_size"), SPACE_INPUTS)
def test_every_space_is_costed(kind, input_shape, vocab_size):
    space = build_space(kind)
    rng = random.Random(0)
    for _ in range(3):
        model = space.to_torch(space.sample(rng), input_shape, 10, vocab_size=vocab_size)
        costs = analytical_costs(model, input_shape, vocab_size=vocab_size, include_layers=True)
        assert costs["params"] == sum(p.numel() for p in model.parameters())
        assert costs["macs"] == sum(layer["macs"] for layer in costs["layers"]) > 0
        assert costs["flops"] >= 2 * costs["macs"]
        assert 0 < costs["peak_memory_bytes"] <= costs["activation_bytes"] + 4 * torch.Size(input_shape).numel()
        assert costs["size_int8_bytes"] < costs["size_fp32_bytes"]
