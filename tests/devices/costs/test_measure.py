"""The measurement protocol: backends, statistics, threads, batches, interleaving."""

import time

import pytest
import torch
from torch import nn

from devices.costs.measure import (
    BACKENDS,
    host_specs,
    measure_latencies,
    measure_latency,
    runs_per_round,
    time_callable,
)

FAST = {"runs": 6, "warmup": 1, "rounds": 2, "round_gap_s": 0.0}


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(4, 2))


class Spy(nn.Module):
    """Records the batch size and thread count it runs with."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.seen = []

    def forward(self, x):
        self.seen.append((x.shape[0], torch.get_num_threads()))
        return self.linear(x)


class Sleeper(nn.Module):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [1, 3])
def test_each_backend_returns_consistent_statistics(backend, batch):
    result = measure_latency(small_cnn(), (3, 8, 8), backend=backend, batch=batch, **FAST)
    assert result.backend == backend and result.batch == batch
    assert len(result.samples_ms) == 6 and len(result.round_medians_ms) == 2
    assert 0 < result.min_ms <= result.median_ms <= result.p90_ms <= result.max_ms
    assert result.latency_ms == min(result.round_medians_ms)
    assert result.std_ms >= 0 and result.mean_ms > 0
    assert "samples_ms" not in result.to_dict() and result.to_dict()["latency_ms"] == result.latency_ms


def test_thread_count_is_fixed_during_the_measurement_and_restored_after():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        spy = Spy()
        measure_latency(spy, (4,), threads=1, **FAST)
        assert {threads for _, threads in spy.seen} == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_batch_b_reaches_the_model_and_mode_is_restored():
    spy = Spy().train()
    measure_latency(spy, (4,), batch=5, **FAST)
    assert {batch for batch, _ in spy.seen} == {5}
    assert spy.training


def test_a_slower_model_measures_slower_and_results_keep_model_order():
    slow, fast = measure_latencies([Sleeper(0.002), Sleeper(0.0)], (2,), **FAST)
    assert slow.latency_ms >= 2.0
    assert fast.latency_ms < slow.latency_ms


def test_rounds_split_the_runs_and_are_spread_in_time():
    assert runs_per_round(10, 3) == [4, 3, 3]
    with pytest.raises(ValueError):
        runs_per_round(2, 3)
    started = time.perf_counter()
    timing = time_callable(lambda: None, runs=4, warmup=0, threads=1, rounds=4, round_gap_s=0.01)
    assert time.perf_counter() - started >= 0.03  # three gaps between four rounds
    assert len(timing["round_medians_ms"]) == 4


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="backend"):
        measure_latency(small_cnn(), (3, 8, 8), backend="tflite", **FAST)
    with pytest.raises(ValueError, match="threads"):
        measure_latency(small_cnn(), (3, 8, 8), threads=0, **FAST)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this host has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        measure_latency(small_cnn(), (3, 8, 8), device="cuda", **FAST)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("backend", ["eager", "torchscript"])
def test_cuda_events_time_a_gpu_model(backend):
    result = measure_latency(small_cnn(), (3, 8, 8), backend=backend, device="cuda", **FAST)
    assert result.device == "cuda" and 0 < result.median_ms <= result.p90_ms


def test_host_specs_describe_this_machine():
    specs = host_specs()
    assert specs["cpu_logical_cores"] >= 1 and specs["cpu_model"]
    assert specs["torch_version"] == torch.__version__
    assert specs["gpu_name"] is None or isinstance(specs["gpu_memory_bytes"], int)
    assert (specs["gpu_count"] > 0) == torch.cuda.is_available()
