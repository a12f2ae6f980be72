"""The latency measurement protocol, shared by workers, the predictor and the benches.

One measurement: build the runner for the backend (eager PyTorch, TorchScript traced and frozen,
or ONNX Runtime), fix the thread count, run `warmup` untimed calls, then time `runs` calls one by
one, split into `rounds` rounds, and summarise the samples (median, p90, mean, std, min, max over
all of them, and each round's median). Each round starts with untimed calls for 2 ms (caches).

The figure to compare is `latency_ms`: the median of the quietest round. Why rounds: on a shared
or virtual machine the speed of a core changes for tens to hundreds of milliseconds at a time
(other processes, or another VM's vCPU on the same physical core; thread CPU time slows down as
much as wall time, so this is not preemption). A model measured in one burst lands entirely in one
such period, and two measurements of the same model then differ by up to 2x. Rounds spread over
time, and keeping the fastest round's median, follow the timeit advice that the fastest repetition
is the informative one (slower ones measure interference), while the median inside a round still
ignores single interrupted calls. With rounds=1 it is the plain median.

The defaults (30 rounds of 5 runs, at least 0.1 s apart, so a measurement spans 3 s or more) come
from bench/measurement_repeatability.py on a shared 2-vCPU VM (eager, 10 models measured twice):
10 rounds over 0.2 s left 2 of 10 models within 5% at load average 4; 30 rounds over 3 s with the
model kept running between rounds kept 10 of 10 within 5% at load 1-2 and 9 of 10 at load 4.
On a dedicated worker fewer rounds do.

Spreading the rounds: `measure_latency` starts the rounds of one model `round_gap_s` apart, running
the model untimed in between; `measure_latencies` measures several models in interleaved rounds
(round 1 of every model, then round 2, ...), so each model's rounds are spread over the whole
batch. The predictor profiles its layer table the same way.

Conditions that make repeated measurements agree:
  - a fixed thread count (torch.set_num_threads for the measurement, restored after; ONNX Runtime
    gets the same number as intra-op threads and one inter-op thread);
  - the garbage collector switched off while timing, as timeit does;
  - inference mode (no autograd bookkeeping) and the model in eval mode;
  - on a GPU, CUDA events around each call and a synchronize before reading them, because kernel
    launches return before the work is done.
"""

from __future__ import annotations

import gc
import io
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

BACKENDS = ("eager", "torchscript", "onnxruntime")
ROUND_WARMUP_S = 0.002


@dataclass(frozen=True)
class LatencyResult:
    backend: str
    device: str
    batch: int
    threads: int
    runs: int
    warmup: int
    median_ms: float
    p90_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    rounds: int
    round_medians_ms: tuple[float, ...]
    samples_ms: tuple[float, ...]
    notes: str = ""

    @property
    def latency_ms(self) -> float:
        """The figure to compare: the median of the quietest round (see the module docstring)."""
        return min(self.round_medians_ms)

    def to_dict(self, with_samples: bool = False) -> dict:
        data = asdict(self)
        data["latency_ms"] = self.latency_ms
        if not with_samples:
            data.pop("samples_ms")
        return data


# --- inputs, threads, timing ----------------------------------------------------------------------

def example_input(input_shape: tuple, batch: int = 1, vocab_size: int = 0, device: str = "cpu") -> torch.Tensor:
    """A random (batch, *input_shape) input. With vocab_size > 0, token ids in [0, vocab_size)
    stored as floats, as the datasets deliver them (the token embeddings cast them)."""
    generator = torch.Generator().manual_seed(0)
    shape = (batch, *input_shape)
    if vocab_size > 0:
        values = torch.randint(0, vocab_size, shape, generator=generator).float()
    else:
        values = torch.randn(shape, generator=generator)
    return values.to(device)


@contextmanager
def fixed_torch_threads(threads: int) -> Iterator[None]:
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Inference behaviour (BatchNorm running statistics, no dropout), then the caller's mode back."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextmanager
def garbage_collector_paused() -> Iterator[None]:
    """Collect once, then keep the collector off. A full collection takes about 0.1 s with torch
    loaded, so nested uses (already paused) do not collect again."""
    if not gc.isenabled():
        yield
        return
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def time_cpu_calls_ms(run: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        run()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def time_cuda_calls_ms(run: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end))
    return samples


def summarise(samples: list[float]) -> dict:
    return {
        "median_ms": float(np.median(samples)),
        "p90_ms": float(np.percentile(samples, 90)),
        "mean_ms": statistics.fmean(samples),
        "std_ms": statistics.pstdev(samples),
        "min_ms": min(samples),
        "max_ms": max(samples),
    }


def check_device(device: str) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but this host has no CUDA GPU")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


def runs_per_round(runs: int, rounds: int) -> list[int]:
    """`runs` split as evenly as possible over `rounds` (the first rounds take the remainder)."""
    if rounds < 1 or runs < rounds:
        raise ValueError(f"need 1 <= rounds <= runs, got runs={runs}, rounds={rounds}")
    base, extra = divmod(runs, rounds)
    return [base + (i < extra) for i in range(rounds)]


def rewarm(run: Callable[[], object], seconds: float, device: str) -> None:
    """Untimed calls for at least `seconds` (at least one call). After a pause or other models'
    rounds the first call of a small model runs about 2x slower and the next few about 20% slower
    (caches, measured on our 2-vCPU VM), so a round only starts timing once that has passed."""
    deadline = time.perf_counter() + seconds
    run()
    while time.perf_counter() < deadline:
        run()
    if device == "cuda":
        torch.cuda.synchronize()


def time_interleaved(runs_of: list[Callable[[], object]], *, runs: int, warmup: int, threads: int,
                     device: str = "cpu", rounds: int = 1, round_gap_s: float = 0.0,
                     round_warmup_s: float = ROUND_WARMUP_S) -> list[dict]:
    """Time several callables in interleaved rounds: round r times each callable in turn.

    Each callable first gets `warmup` untimed calls; each of its rounds starts with untimed calls
    for `round_warmup_s` (see rewarm) and times its share of `runs` calls one by one. Rounds start
    at least `round_gap_s` apart; the wait is spent on more untimed calls of the first callable,
    not asleep, because after a sleep even a long warm-up leaves a small model's calls up to 1.7x
    slower for a while (vCPU descheduled and caches cold; seen at load 0.8 on our 2-vCPU VM).
    Returns, per callable, the summary over all its samples, its round medians and its samples.
    """
    if warmup < 0:
        raise ValueError(f"need warmup >= 0, got {warmup}")
    sizes = runs_per_round(runs, rounds)
    check_device(device)
    timer = time_cuda_calls_ms if device == "cuda" else time_cpu_calls_ms
    samples: list[list[float]] = [[] for _ in runs_of]
    round_medians: list[list[float]] = [[] for _ in runs_of]
    with fixed_torch_threads(threads), torch.inference_mode(), garbage_collector_paused():
        for run in runs_of:
            for _ in range(warmup):
                run()
        round_starts_at = time.perf_counter()
        for size in sizes:
            for index, run in enumerate(runs_of):
                wait = round_starts_at - time.perf_counter() if index == 0 else 0.0
                rewarm(run, max(round_warmup_s, wait), device)
                if index == 0:
                    round_starts_at = time.perf_counter() + round_gap_s
                round_samples = timer(run, size)
                samples[index] += round_samples
                round_medians[index].append(float(np.median(round_samples)))
    return [{**summarise(s), "rounds": rounds, "round_medians_ms": tuple(m), "samples_ms": tuple(s)}
            for s, m in zip(samples, round_medians, strict=True)]


def time_callable(run: Callable[[], object], *, runs: int, warmup: int, threads: int,
                  device: str = "cpu", rounds: int = 1, round_gap_s: float = 0.0,
                  round_warmup_s: float = ROUND_WARMUP_S) -> dict:
    """time_interleaved for one callable: its rounds are `round_gap_s` apart."""
    return time_interleaved([run], runs=runs, warmup=warmup, threads=threads, device=device,
                            rounds=rounds, round_gap_s=round_gap_s, round_warmup_s=round_warmup_s)[0]


# --- backends -----------------------------------------------------------------------------------

def eager_runner(model: nn.Module, inputs: torch.Tensor, threads: int) -> tuple[Callable, str]:
    return (lambda: model(inputs)), ""


def torchscript_runner(model: nn.Module, inputs: torch.Tensor, threads: int) -> tuple[Callable, str]:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python values frozen into the graph
        traced = torch.jit.trace(model, (inputs,), check_trace=False)
        try:
            scripted, notes = torch.jit.freeze(traced), "traced and frozen"
        except RuntimeError as error:  # freezing fails on some graphs; the traced module still runs
            scripted, notes = traced, f"traced, not frozen ({error.__class__.__name__})"
    return (lambda: scripted(inputs)), notes


def onnx_bytes(model: nn.Module, inputs: torch.Tensor) -> bytes:
    buffer = io.BytesIO()
    # In inference nn.MultiheadAttention takes a fused "fast path" op that has no ONNX export;
    # the exported graph uses the plain ops instead (ONNX Runtime fuses them again).
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        # dynamo=False: the TorchScript-based exporter needs no onnxscript and handles our layers.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (inputs,), buffer, input_names=["input"], dynamo=False)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    return buffer.getvalue()


def onnxruntime_runner(model: nn.Module, inputs: torch.Tensor, threads: int) -> tuple[Callable, str]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ["CPUExecutionProvider"]
    if inputs.is_cuda:
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise RuntimeError("ONNX Runtime on 'cuda' needs onnxruntime-gpu (CUDAExecutionProvider)")
        providers = ["CUDAExecutionProvider"]
    session = ort.InferenceSession(onnx_bytes(model, inputs), options, providers=providers)
    feed = {session.get_inputs()[0].name: inputs.detach().cpu().numpy()}
    notes = f"{providers[0]}, intra_op_threads={threads}"
    if inputs.is_cuda:
        notes += ", input copied from host each run"
    return (lambda: session.run(None, feed)), notes


RUNNER_BUILDERS = {"eager": eager_runner, "torchscript": torchscript_runner, "onnxruntime": onnxruntime_runner}


def measure_latencies(models: list[nn.Module], input_shape: tuple, backend: str = "eager", batch: int = 1,
                      runs: int = 150, warmup: int = 10, threads: int = 1, device: str = "cpu",
                      vocab_size: int = 0, rounds: int = 30, round_gap_s: float = 0.1) -> list[LatencyResult]:
    """Latency of one forward of each model on the same (batch, *input_shape) input, measured in
    interleaved rounds (see the module docstring). Models are put in eval mode for the measurement
    (their modes are restored) and moved to `device`."""
    if backend not in RUNNER_BUILDERS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {list(BACKENDS)}")
    check_device(device)
    inputs = example_input(input_shape, batch, vocab_size, device)
    with ExitStack() as modes:
        runners, notes = [], []
        for model in models:
            modes.enter_context(eval_mode(model.to(device)))
            with fixed_torch_threads(threads):
                run, note = RUNNER_BUILDERS[backend](model, inputs, threads)
            runners.append(run)
            notes.append(note)
        timings = time_interleaved(runners, runs=runs, warmup=warmup, threads=threads, device=device,
                                   rounds=rounds, round_gap_s=round_gap_s)
    return [LatencyResult(backend=backend, device=device, batch=batch, threads=threads, runs=runs,
                          warmup=warmup, notes=note, **timing) for note, timing in zip(notes, timings, strict=True)]


def measure_latency(model: nn.Module, input_shape: tuple, backend: str = "eager", batch: int = 1,
                    runs: int = 150, warmup: int = 10, threads: int = 1, device: str = "cpu",
                    vocab_size: int = 0, rounds: int = 30, round_gap_s: float = 0.1) -> LatencyResult:
    """Latency of one forward of `model` on a (batch, *input_shape) input, per the protocol above:
    `rounds` rounds at least `round_gap_s` apart. The model is put in eval mode for the measurement
    (its mode is restored) and moved to `device`."""
    return measure_latencies([model], input_shape, backend, batch, runs, warmup, threads, device,
                             vocab_size, rounds, round_gap_s)[0]


# --- the host ---------------------------------------------------------------------------------------

def cpu_model_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def physical_core_count() -> int | None:
    """Distinct (package, core) pairs in /proc/cpuinfo; None where that file does not say."""
    cores, package = set(), None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "physical id":
                    package = value.strip()
                elif key.strip() == "core id":
                    cores.add((package, value.strip()))
    except OSError:
        return None
    return len(cores) or None


def gpu_specs() -> dict:
    if not torch.cuda.is_available():
        return {"gpu_name": None, "gpu_memory_bytes": None, "gpu_count": 0}
    properties = torch.cuda.get_device_properties(0)
    return {"gpu_name": properties.name, "gpu_memory_bytes": properties.total_memory,
            "gpu_count": torch.cuda.device_count()}


def host_specs() -> dict:
    """What a worker reports about its machine when it registers."""
    try:
        import onnxruntime
        onnxruntime_version = onnxruntime.__version__
    except ImportError:
        onnxruntime_version = None
    usable_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model_name(),
        "cpu_logical_cores": os.cpu_count(),
        "cpu_physical_cores": physical_core_count(),
        "cpu_usable_cores": usable_cpus,
        **gpu_specs(),
        "python_version": platform.python_version(),
        "torch_version": torch.__version__,
        "cuda_version": torch.version.cuda,
        "onnxruntime_version": onnxruntime_version,
    }
