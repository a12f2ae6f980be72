"""Cost targets: where a search gets the costs it minimises or constrains.

A target is a kind plus its specs (plain JSON, stored on the Django HardwareTarget row):

  analytical    counted from the model, no device: {"arithmetic": "fp32"} (energy per MAC, energy.py)
  measured_cpu  timed on this worker's CPU:  {"backend": "eager", "batch": 1, "threads": 1, "runs": 150,
                "warmup": 10, "rounds": 30} (measure.py's protocol and defaults)
  measured_gpu  timed on this worker's CUDA GPU, same specs
  benchmark     looked up in HW-NAS-Bench: {"device": "raspi4" | "pixel3" | "eyeriss" | "fpga"};
                NAS-Bench-201 cells only

`estimate_costs` returns metric -> value. Every kind that has a model also returns the analytical
metrics, so a search can minimise "latency_ms on pixel3" under "params <= 1e5" from one call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from searches.spaces.nb201_cell import arch_to_string  # the NB201 cell owns its decision names

from . import hwnasbench
from .analytical import analytical_costs
from .energy import PICOJOULES_PER_MAC, arithmetic_of_device
from .measure import BACKENDS, measure_latency

NB201_SPACE_KIND = "nb201"
ANALYTICAL_METRICS = ("params", "macs", "flops", "peak_memory_bytes", "activation_bytes",
                      "size_fp32_bytes", "size_int8_bytes", "energy_mj")
MEASURED_METRICS = ("latency_ms", "latency_median_ms", "latency_p90_ms") + ANALYTICAL_METRICS
BENCHMARK_METRICS = ("latency_ms",) + ANALYTICAL_METRICS
# Measurement settings a target may fix, with their defaults and allowed range.
MEASUREMENT_SPECS = {"batch": (1, 1, 4096), "threads": (1, 1, 256), "runs": (150, 1, 100_000),
                     "warmup": (10, 0, 10_000), "rounds": (30, 1, 1000)}


class TargetError(ValueError):
    """A target kind or spec is invalid, or the target cannot cost this architecture."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class TargetKind:
    label: str
    metrics: tuple[str, ...]
    normalise_specs: Callable[[dict], dict]
    estimate: Callable[..., dict]


# --- specs ----------------------------------------------------------------------------------------

def words(options) -> str:
    """"a, b or c": a list as a sentence says it, not as Python prints it."""
    options = [str(o) for o in options]
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} or {options[-1]}"


def choose(what: str, options, given) -> str:
    """The message for a value not among the options; a blank one is a choice not made yet."""
    if given in (None, ""):
        return f"choose a {what}: {words(options)}"
    return f"{given!r} is not a {what} here; choose {words(options)}"


def check_known_fields(specs: dict, allowed: set[str]) -> None:
    if not isinstance(specs, dict):
        raise TargetError("specs", "must be a JSON object")
    unknown = sorted(set(specs) - allowed)
    if unknown:
        raise TargetError(unknown[0], f"is not a setting of this target; its settings are {words(sorted(allowed))}")


def analytical_specs(specs: dict) -> dict:
    check_known_fields(specs, {"arithmetic"})
    arithmetic = specs.get("arithmetic", "fp32")
    if arithmetic not in PICOJOULES_PER_MAC:
        raise TargetError("arithmetic", choose("number format", sorted(PICOJOULES_PER_MAC), arithmetic))
    return {"arithmetic": arithmetic}


def measured_specs(specs: dict) -> dict:
    check_known_fields(specs, {"backend", *MEASUREMENT_SPECS})
    backend = specs.get("backend", "eager")
    if backend not in BACKENDS:
        raise TargetError("backend", choose("backend", list(BACKENDS), backend))
    out = {"backend": backend}
    for name, (default, low, high) in MEASUREMENT_SPECS.items():
        value = specs.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise TargetError(name, f"must be a whole number between {low} and {high}, got {value!r}")
        out[name] = value
    if out["runs"] < out["rounds"]:
        raise TargetError("runs", f"must be at least rounds ({out['rounds']}), got {out['runs']}")
    return out


def benchmark_specs(specs: dict) -> dict:
    check_known_fields(specs, {"device"})
    device = specs.get("device")
    if device not in hwnasbench.DEVICES:
        raise TargetError("device", choose("device", list(hwnasbench.DEVICES), device))
    return {"device": device}


# --- estimators ---------------------------------------------------------------------------------

def model_costs(model, input_shape: tuple, vocab_size: int, arithmetic: str) -> dict:
    if model is None:
        raise TargetError("model", "this target counts costs on the model, and none was given")
    costs = analytical_costs(model, tuple(input_shape), vocab_size=vocab_size, arithmetic=arithmetic)
    return {name: costs[name] for name in ANALYTICAL_METRICS}


def estimate_analytical(specs, space_kind, arch, model, input_shape, vocab_size) -> dict:
    return model_costs(model, input_shape, vocab_size, specs["arithmetic"])


def estimate_measured(device: str, specs, model, input_shape, vocab_size) -> dict:
    costs = model_costs(model, input_shape, vocab_size, arithmetic_of_device("gpu" if device == "cuda" else "cpu"))
    result = measure_latency(model, tuple(input_shape), specs["backend"], specs["batch"], specs["runs"],
                             specs["warmup"], specs["threads"], device, vocab_size, specs["rounds"])
    return {"latency_ms": result.latency_ms, "latency_median_ms": result.median_ms,
            "latency_p90_ms": result.p90_ms, **costs}


def estimate_measured_cpu(specs, space_kind, arch, model, input_shape, vocab_size) -> dict:
    return estimate_measured("cpu", specs, model, input_shape, vocab_size)


def estimate_measured_gpu(specs, space_kind, arch, model, input_shape, vocab_size) -> dict:
    import torch

    if not torch.cuda.is_available():
        raise TargetError("target", "measured_gpu needs a worker with a CUDA GPU; this one has none")
    return estimate_measured("cuda", specs, model, input_shape, vocab_size)


def nb201_arch_string(arch) -> str:
    """The official arch string of an NB201 cell given as that string or as the space's decisions."""
    if isinstance(arch, str):
        return arch
    return arch_to_string(arch)


def estimate_benchmark(specs, space_kind, arch, model, input_shape, vocab_size) -> dict:
    if space_kind != NB201_SPACE_KIND:
        raise TargetError("space", f"HW-NAS-Bench has latencies for NAS-Bench-201 cells only, "
                                   f"not for the {space_kind!r} space; use an analytical or measured target")
    try:
        latency = hwnasbench.latency_ms(specs["device"], arch=nb201_arch_string(arch))
    except (hwnasbench.UnknownArchitecture, KeyError) as error:
        raise TargetError("arch", str(error)) from error
    costs = {}
    if model is not None:
        costs = model_costs(model, input_shape, vocab_size, arithmetic_of_device(specs["device"]))
    return {"latency_ms": latency, **costs}


TARGET_KINDS: dict[str, TargetKind] = {
    "analytical": TargetKind("Analytical (counted, no device)", ANALYTICAL_METRICS,
                             analytical_specs, estimate_analytical),
    "measured_cpu": TargetKind("Measured on a worker's CPU", MEASURED_METRICS, measured_specs,
                               estimate_measured_cpu),
    "measured_gpu": TargetKind("Measured on a worker's GPU", MEASURED_METRICS, measured_specs,
                               estimate_measured_gpu),
    "benchmark": TargetKind("HW-NAS-Bench edge device (NAS-Bench-201 cells)", BENCHMARK_METRICS,
                            benchmark_specs, estimate_benchmark),
}


def lookup_target_kind(kind: str) -> TargetKind:
    if kind not in TARGET_KINDS:
        raise TargetError("kind", f"unknown cost target {kind!r}; choose one of {sorted(TARGET_KINDS)}")
    return TARGET_KINDS[kind]



def normalise_target_specs(kind: str, specs: dict | None) -> dict:
    """The specs with defaults filled in; TargetError names a bad field (for the web form)."""
    return lookup_target_kind(kind).normalise_specs(specs or {})


def estimate_costs(target_kind: str, target_specs: dict | None, space_kind: str, arch, model,
                   input_shape: tuple, vocab_size: int = 0) -> dict:
    """metric -> value for one architecture on one target.

    arch is the space's architecture dict (an NB201 cell may also be given as its arch string);
    model is space.to_torch(arch, input_shape, ...) and may be None for a benchmark target, which
    then returns only latency_ms. The keys are `TARGET_KINDS[kind].metrics` (benchmark without a
    model: latency_ms only).
    """
    kind = lookup_target_kind(target_kind)
    specs = kind.normalise_specs(target_specs or {})
    return kind.estimate(specs, space_kind, arch, model, input_shape, vocab_size)
