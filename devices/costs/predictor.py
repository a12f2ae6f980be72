"""Latency predictor: a per-device table of layer latencies plus a fitted overhead (nn-Meter, FBNet).

Building the table: run the network once with hooks on its units (leaf modules, attention blocks
whole; see analytical.iter_units), record each unit call's module and inputs, and time every call
whose key - type + configuration + input shapes - is not in the table yet, in isolation, with the
measurement protocol of measure.py. Keys repeat a lot across a space, so each is profiled once.

Predicting: look every unit call of a network up in the table and combine the sums with a linear
model fitted on a few whole networks that were measured end to end:

    latency = intercept + sum over terms of coefficient x term

The terms are `layers_ms` (the sum of the table latencies, nn-Meter's and FBNet's predictor) and,
optionally, `container_calls` (how many Python container modules - Sequential, residual blocks - run:
the per-call interpreter cost that profiling leaves in isolation never sees). The fit minimises
*relative* squared error, because the target is a relative bound (within +-10%).

Scope: eager PyTorch, the backend the whole networks are measured on. The table stores the settings
it was profiled with (device, threads, batch) and the host, and is JSON, so it can be stored per device.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from torch import nn

from .analytical import iter_units
from .measure import eval_mode, example_input, host_specs, time_callable

TERMS = ("layers_ms", "container_calls")
STORED_FIELDS = ("device", "threads", "batch", "runs_per_round", "rounds", "warmup", "round_gap_s",
                 "host", "coefficients", "entries")


@dataclass
class UnitCall:
    key: str
    module: nn.Module
    args: tuple
    kwargs: dict


# --- keys -------------------------------------------------------------------------------------------

def describe_value(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')}{list(value.shape)}"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(describe_value(v) for v in value) + ")"
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    return type(value).__name__


def module_config(module: nn.Module) -> str:
    """The settings that decide a unit's speed. extra_repr covers torch's layers except attention,
    whose repr omits the head count; parameter shapes cover custom layers with an empty repr."""
    if isinstance(module, nn.MultiheadAttention):
        config = (f"embed_dim={module.embed_dim}, num_heads={module.num_heads}, kdim={module.kdim}, "
                  f"vdim={module.vdim}, batch_first={module.batch_first}, bias={module.in_proj_bias is not None}")
    else:
        config = module.extra_repr()
    shapes = ",".join(str(list(p.shape)) for p in module.parameters(recurse=False))
    return f"{config}; params={shapes}" if shapes else config


def unit_key(module: nn.Module, args: tuple, kwargs: dict) -> str:
    inputs = describe_value(args)
    if kwargs:
        inputs += " " + ", ".join(f"{k}={describe_value(v)}" for k, v in sorted(kwargs.items()))
    return f"{type(module).__name__}({module_config(module)}) <- {inputs}"


# --- recording a network's calls -----------------------------------------------------------------------

def record_calls(model: nn.Module, inputs: torch.Tensor) -> tuple[list[UnitCall], int]:
    """One forward (call it in eval mode): every unit call (module, inputs, key) and the number of container calls."""
    calls: list[UnitCall] = []
    container_calls = 0
    units = dict(iter_units(model))
    unit_ids = {id(m) for m in units.values()}
    handles = []

    def on_unit(module, args, kwargs, output):
        calls.append(UnitCall(unit_key(module, args, kwargs), module, args, kwargs))

    def on_container(module, args):
        nonlocal container_calls
        container_calls += 1

    for name, module in model.named_modules():
        if id(module) in unit_ids:
            handles.append(module.register_forward_hook(on_unit, with_kwargs=True))
        elif not any(name.startswith(unit + ".") for unit in units if unit):
            handles.append(module.register_forward_pre_hook(on_container))
    try:
        with torch.inference_mode():
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return calls, container_calls


# --- the table ------------------------------------------------------------------------------------------

@dataclass
class LatencyTable:
    """Per-device layer latencies (milliseconds, as LatencyResult.latency_ms) and the fitted overhead."""

    device: str = "cpu"
    threads: int = 1
    batch: int = 1
    runs_per_round: int = 5
    rounds: int = 10
    warmup: int = 3
    round_gap_s: float = 0.01
    entries: dict[str, float] = field(default_factory=dict)
    coefficients: dict[str, float] = field(default_factory=lambda: {"intercept": 0.0, "layers_ms": 1.0})
    host: dict = field(default_factory=dict)

    def profile_calls(self, calls: list[UnitCall]) -> None:
        """Time each distinct key in isolation and store the median of its quietest round.

        The rounds go round-robin over the keys, so each key's rounds are spread in time without
        idle pauses (the pause only pads a round shorter than round_gap_s); see measure.py for why.
        """
        distinct = list({call.key: call for call in calls}.values())
        round_medians: dict[str, list[float]] = {call.key: [] for call in distinct}
        for _ in range(self.rounds):
            started = time.perf_counter()
            for call in distinct:
                timing = time_callable(partial(call.module, *call.args, **call.kwargs), runs=self.runs_per_round,
                                       warmup=self.warmup, threads=self.threads, device=self.device)
                round_medians[call.key].append(timing["median_ms"])
            time.sleep(max(0.0, self.round_gap_s - (time.perf_counter() - started)))
        for key, medians in round_medians.items():
            self.entries[key] = min(medians)

    def network_terms(self, model: nn.Module, input_shape: tuple, vocab_size: int = 0,
                      profile_missing: bool = True) -> dict[str, float]:
        """The network's terms; unit calls missing from the table are profiled first (or raise KeyError)."""
        if not self.host:
            self.host = host_specs()
        inputs = example_input(input_shape, self.batch, vocab_size, self.device)
        with eval_mode(model.to(self.device)):
            calls, container_calls = record_calls(model, inputs)
            missing = [call for call in calls if call.key not in self.entries]
            if missing and not profile_missing:
                raise KeyError(f"no table entry for {missing[0].key}")
            self.profile_calls(missing)
        return {"layers_ms": sum(self.entries[c.key] for c in calls), "container_calls": float(container_calls)}

    def predict_from_terms(self, terms: dict[str, float]) -> float:
        return self.coefficients["intercept"] + sum(
            value * terms[name] for name, value in self.coefficients.items() if name != "intercept")

    def predict_ms(self, model: nn.Module, input_shape: tuple, vocab_size: int = 0,
                   profile_missing: bool = True) -> float:
        return self.predict_from_terms(self.network_terms(model, input_shape, vocab_size, profile_missing))

    def fit_overhead(self, samples: Iterable[tuple[dict[str, float], float]],
                     terms: tuple[str, ...] = ("layers_ms",)) -> dict[str, float]:
        """Least squares of relative error over (network terms, measured ms) pairs; sets the coefficients."""
        unknown = set(terms) - set(TERMS)
        if unknown:
            raise ValueError(f"unknown terms {sorted(unknown)}; choose from {list(TERMS)}")
        samples = list(samples)
        if len(samples) < len(terms) + 1:
            raise ValueError(f"need at least {len(terms) + 1} measured networks to fit {len(terms) + 1} coefficients")
        measured = np.array([ms for _, ms in samples])
        design = np.array([[1.0, *(t[name] for name in terms)] for t, _ in samples])
        solution, *_ = np.linalg.lstsq(design / measured[:, None], np.ones(len(samples)), rcond=None)
        self.coefficients = {"intercept": float(solution[0]), **{n: float(v) for n, v in zip(terms, solution[1:])}}
        return self.coefficients

    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in STORED_FIELDS}, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LatencyTable:
        data = json.loads(text)
        return cls(**{name: data[name] for name in STORED_FIELDS})

