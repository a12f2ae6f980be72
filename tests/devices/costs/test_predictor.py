"""The layer-table latency predictor."""

import random
import statistics

import pytest
from torch import nn

from devices.costs.measure import example_input, measure_latencies
from devices.costs.predictor import LatencyTable, record_calls, unit_key
from searches.spaces.registry import build_space

INPUT = (8,)


def quick_table():
    return LatencyTable(runs_per_round=3, rounds=3, warmup=1, round_gap_s=0.0)


def tiny_mlp_space():
    return build_space("chain_mlp", {"min_depth": 1, "max_depth": 3, "widths": [8, 32, 128],
                                     "activations": ["relu", "gelu"], "dropouts": [0.0], "norms": ["none"]})


def distinct_models(space, count, seed=0):
    rng, seen, models = random.Random(seed), set(), []
    while len(models) < count:
        arch = space.sample(rng)
        if space.key(arch) not in seen:
            seen.add(space.key(arch))
            models.append(space.to_torch(arch, INPUT, 4))
    return models


def test_keys_separate_configurations_and_shapes():
    x8, x16 = example_input((8,)), example_input((16,))
    assert unit_key(nn.Linear(8, 4), (x8,), {}) == unit_key(nn.Linear(8, 4), (x8,), {})
    assert unit_key(nn.Linear(8, 4), (x8,), {}) != unit_key(nn.Linear(8, 5), (x8,), {})
    assert unit_key(nn.ReLU(), (x8,), {}) != unit_key(nn.ReLU(), (x16,), {})
    two, four = nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 4)
    assert unit_key(two, (x8,), {}) != unit_key(four, (x8,), {})


def test_each_key_is_profiled_once_and_missing_keys_can_be_refused():
    table = quick_table()
    table.network_terms(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)), INPUT)
    assert len(table.entries) == 2
    table.network_terms(nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)), INPUT)
    assert len(table.entries) == 2  # same Linear(8, 8) and ReLU on the same shape, same keys
    with pytest.raises(KeyError, match="Linear"):
        table.network_terms(nn.Sequential(nn.Linear(8, 3)), INPUT, profile_missing=False)


class Residual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def test_recording_sees_units_containers_and_the_tensor_functions_containers_call():
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), Residual(nn.Linear(8, 8)))
    calls, containers = record_calls(model.eval(), example_input(INPUT))
    assert [c.key.split("(")[0] for c in calls[:3]] == ["Linear", "ReLU", "Linear"]
    assert calls[-1].key.endswith("add() <- (float32[1, 8],float32[1, 8])")  # the residual add
    assert len(calls) == 4
    assert containers == 2  # the Sequential and the Residual


def test_conv_bn_activation_blocks_are_timed_as_one_fused_kernel():
    block = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU6())
    mlp = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))  # two main layers: not one kernel
    model = nn.Sequential(block, nn.AdaptiveAvgPool2d(1), nn.Flatten(), mlp)
    calls, _ = record_calls(model.eval(), example_input((3, 4, 4)))
    names = [c.key.split("(")[0] for c in calls]
    assert names == ["Sequential", "AdaptiveAvgPool2d", "Flatten", "Linear", "ReLU", "Linear"]
    assert "Conv2d(3, 4" in calls[0].key and "BatchNorm2d(4" in calls[0].key and "ReLU6()" in calls[0].key


def test_fit_recovers_a_known_linear_overhead():
    table = quick_table()
    samples = [({"layers_ms": s, "container_calls": c}, 0.05 + 1.2 * s + 0.01 * c)
               for s, c in [(0.1, 1), (0.2, 3), (0.4, 2), (0.8, 5), (1.6, 4)]]
    coefficients = table.fit_overhead(samples, terms=("layers_ms", "container_calls"))
    assert coefficients == pytest.approx({"intercept": 0.05, "layers_ms": 1.2, "container_calls": 0.01})
    assert table.predict_from_terms({"layers_ms": 1.0, "container_calls": 2}) == pytest.approx(1.27)
    with pytest.raises(ValueError, match="at least"):
        table.fit_overhead(samples[:1])


def test_table_of_a_tiny_mlp_space_predicts_within_a_loose_bound():
    space = tiny_mlp_space()
    models = distinct_models(space, 16)
    table = quick_table()
    table.profile_networks(models, INPUT)
    measured = [r.latency_ms for r in measure_latencies(models, INPUT, runs=9, warmup=2, rounds=3, round_gap_s=0)]
    terms = [table.network_terms(m, INPUT, profile_missing=False) for m in models]
    # The raw sum of the table already tracks the whole networks (no calibration yet).
    raw_ratios = [t["layers_ms"] / ms for t, ms in zip(terms, measured, strict=True)]
    assert 0.5 < statistics.median(raw_ratios) < 2.0
    table.fit_overhead(zip(terms[:8], measured[:8], strict=True))
    errors = [abs(table.predict_from_terms(t) / ms - 1) for t, ms in zip(terms[8:], measured[8:], strict=True)]
    assert statistics.median(errors) < 0.3


def test_json_round_trip_keeps_the_table_and_its_predictions():
    table = quick_table()
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 2))
    table.fit_overhead([({"layers_ms": 0.1}, 0.12), ({"layers_ms": 0.2}, 0.21), ({"layers_ms": 0.4}, 0.43)])
    prediction = table.predict_ms(model, INPUT)
    restored = LatencyTable.from_json(table.to_json())
    assert restored == table
    assert restored.predict_ms(model, INPUT, profile_missing=False) == prediction
    assert restored.host["cpu_model"]
