"""Cost targets: one call gives a search every metric of an architecture on a target."""

import pytest
import torch
from torch import nn

from devices.costs import hwnasbench
from devices.costs.analytical import analytical_costs
from devices.costs.energy import PICOJOULES_PER_MAC
from devices.costs.targets import (
    ANALYTICAL_METRICS,
    TARGET_KINDS,
    TargetError,
    estimate_costs,
    normalise_target_specs,
)
from searches.spaces.nb201_cell import string_to_arch
from searches.spaces.registry import build_space

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
QUICK = {"runs": 4, "warmup": 1, "rounds": 2}


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3))


def test_analytical_target_returns_the_analytical_metrics():
    model = mlp()
    costs = estimate_costs("analytical", {"arithmetic": "int8"}, "chain_mlp", {}, model, (12,))
    assert set(costs) == set(ANALYTICAL_METRICS) == set(TARGET_KINDS["analytical"].metrics)
    expected = analytical_costs(model, (12,), arithmetic="int8")
    assert costs == {name: expected[name] for name in ANALYTICAL_METRICS}


def test_measured_cpu_adds_latencies():
    costs = estimate_costs("measured_cpu", QUICK, "chain_mlp", {}, mlp(), (12,))
    assert set(costs) == set(TARGET_KINDS["measured_cpu"].metrics)
    assert costs["latency_ms"] > 0
    assert costs["latency_median_ms"] <= costs["latency_p90_ms"]
    assert costs["energy_mj"] == pytest.approx(costs["macs"] * PICOJOULES_PER_MAC["fp32"] * 1e-9)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this host has a GPU")
def test_measured_gpu_on_a_host_without_one_is_a_clear_error():
    with pytest.raises(TargetError, match="CUDA GPU"):
        estimate_costs("measured_gpu", QUICK, "chain_mlp", {}, mlp(), (12,))


def test_benchmark_target_looks_an_nb201_cell_up():
    assert estimate_costs("benchmark", {"device": "pixel3"}, "nb201", CELL, None, (3, 32, 32)) == {
        "latency_ms": hwnasbench.lookup_index(6111).on("pixel3")}


def test_benchmark_target_takes_the_space_decisions_and_a_model():
    arch = string_to_arch(CELL)
    model = build_space("nb201").to_torch(arch, (3, 16, 16), 10)
    costs = estimate_costs("benchmark", {"device": "eyeriss"}, "nb201", arch, model, (3, 16, 16))
    assert costs["latency_ms"] == 7.82354
    assert costs["energy_mj"] == pytest.approx(costs["macs"] * PICOJOULES_PER_MAC["int16"] * 1e-9)


def test_benchmark_target_refuses_other_spaces_clearly():
    with pytest.raises(TargetError, match="NAS-Bench-201 cells only") as error:
        estimate_costs("benchmark", {"device": "raspi4"}, "macro_cnn", {"stages": 1}, mlp(), (12,))
    assert error.value.field == "space"


def test_benchmark_target_reports_a_bad_cell():
    with pytest.raises(TargetError, match="arch string"):
        estimate_costs("benchmark", {"device": "raspi4"}, "nb201", "|conv~0|", None, (3, 32, 32))


@pytest.mark.parametrize(("kind", "specs", "field"), [
    ("benchmark", {"device": "jetson"}, "device"),
    ("benchmark", {}, "device"),
    ("measured_cpu", {"backend": "tflite"}, "backend"),
    ("measured_cpu", {"threads": 0}, "threads"),
    ("measured_cpu", {"runs": 3, "rounds": 5}, "runs"),
    ("measured_cpu", {"batch": True}, "batch"),
    ("analytical", {"arithmetic": "fp8"}, "arithmetic"),
    ("analytical", {"colour": "red"}, "colour"),
    ("quantum", {}, "kind"),
])
def test_bad_specs_name_the_field(kind, specs, field):
    with pytest.raises(TargetError) as error:
        normalise_target_specs(kind, specs)
    assert error.value.field == field


def test_specs_get_their_defaults_and_kinds_have_labels():
    specs = normalise_target_specs("measured_cpu", {"threads": 2})
    assert specs == {"backend": "eager", "batch": 1, "threads": 2, "runs": 150, "warmup": 10, "rounds": 30}
    assert set(TARGET_KINDS) == {"analytical", "measured_cpu", "measured_gpu", "benchmark"}
    assert all(kind.label for kind in TARGET_KINDS.values())

