"""What a hardware target answers for an architecture of a search, computed here and written nowhere.

Data access for the cost engine (devices/costs/), one floor below the services: the validation of a
new search, its strategy's hard constraints and the writers in devices/services.py all read costs
through these functions. Benchmark targets (HW-NAS-Bench's edge devices) answer NAS-Bench-201 cells
by table lookup; the analytical target counts the built model; measured targets time it on a worker.
"""

from __future__ import annotations

from searches.benchmarks.registry import BENCHMARKS
from searches.engine_data import ModelInputs, build_model
from searches.models import Search
from searches.spaces.nb201 import NB201Space

from .costs.targets import TARGET_KINDS, estimate_costs, normalise_target_specs
from .models import HardwareTarget

#: Labels of the costs a target can rank architectures by (devices/costs/targets.py names them).
METRIC_LABELS = {
    "latency_ms": "latency (ms)", "latency_median_ms": "median latency (ms)", "latency_p90_ms": "p90 latency (ms)",
    "macs": "MACs", "flops": "FLOPs", "params": "parameters", "peak_memory_bytes": "peak memory",
    "activation_bytes": "activation memory", "size_fp32_bytes": "size (fp32)", "size_int8_bytes": "size (int8)",
    "energy_mj": "energy (mJ)",
}
DEFAULT_METRICS = {HardwareTarget.ANALYTICAL: "macs"}  # the others rank by latency_ms
#: HW-NAS-Bench measured the NAS-Bench-201 cells only, for the paper's CIFAR-10 network.
BENCHMARK_SPACE_KIND = NB201Space.kind
HW_NAS_BENCH_NETWORK = BENCHMARKS["nb201_cifar10"]


def ranking_metrics(kind: str) -> tuple[str, ...]:
    """Costs a target of this kind stores. Benchmark targets store the table's latency only: the
    analytical target has the counts of the search's own model."""
    if kind == HardwareTarget.BENCHMARK:
        return ("latency_ms",)
    return TARGET_KINDS[kind].metrics


def target_applies(target: HardwareTarget, space_kind: str) -> bool:
    return target.kind != HardwareTarget.BENCHMARK or space_kind == BENCHMARK_SPACE_KIND


def not_applicable_reason(target: HardwareTarget, space_kind: str) -> str:
    if target_applies(target, space_kind):
        return ""
    return f"n/a: HW-NAS-Bench has {BENCHMARK_SPACE_KIND} cells only, not {space_kind} architectures"


def cost_metric(target: HardwareTarget) -> tuple[str, str]:
    """(metrics key, label) of the cost a target ranks architectures by."""
    key = target.metric or DEFAULT_METRICS.get(target.kind, "latency_ms")
    return key, METRIC_LABELS.get(key, key)


def in_process_cost_metrics(space_kind: str | None = None) -> dict[str, str]:
    """Costs a search may optimise or bound, by key "<cost>@<target id>": label, ordered by target name;
    only those that apply to `space_kind` when it is given.

    Only targets answered in-process (edge-device tables, analytical counts):
    a measured latency would time whichever host proposes the architecture.
    """
    out = {}
    for target in HardwareTarget.objects.exclude(kind__in=HardwareTarget.MEASURED_KINDS).order_by("name"):
        if space_kind is None or target_applies(target, space_kind):
            key, label = cost_metric(target)
            out[f"{key}@{target.id}"] = f"{label} on {target.name}"
    return out


def arch_costs(search: Search, arch: dict, target: HardwareTarget, model_for=None) -> dict | None:
    """The costs of `arch` of this search on a target, computed here (devices/costs/targets.py), with
    the settings that produced them; None where the target does not apply. Writes nothing and needs
    no trial, so hard constraints can be checked before training. `model_for` (a no-argument callable
    returning (model, ModelInputs)) lets callers build the model once for several targets.

    Benchmark targets get no model: their latency is the table's, for the paper's CIFAR-10 network
    (C=16, N=5), and the counts of the search's own model belong to the analytical target.
    """
    space_kind = search.space.kind
    if not target_applies(target, space_kind):
        return None
    if target.kind == HardwareTarget.BENCHMARK:
        model = None
        inputs = ModelInputs(tuple(HW_NAS_BENCH_NETWORK.input_shape), HW_NAS_BENCH_NETWORK.num_classes)
    else:
        model, inputs = model_for() if model_for else build_model(search, arch)
    costs = estimate_costs(target.kind, target.specs, space_kind, arch, model, inputs.input_shape,
                           inputs.vocab_size)
    return {**costs, **normalise_target_specs(target.kind, target.specs)}


def cost_counter(search: Search, key: str):
    """arch -> its cost named "<cost>@<target id>" (a constraint or objective of the search)."""
    metric, _, target_id = key.partition("@")
    target = HardwareTarget.objects.get(id=int(target_id))
    return lambda arch: arch_costs(search, arch, target)[metric]
