"""Latency predictor: a per-device table of layer latencies plus a fitted overhead (nn-Meter, FBNet).

Building the table: run the network once and record every call that costs time - each call of a
unit through forward hooks (leaf modules, attention blocks whole, and fused kernels: a Sequential of
one conv/linear with its BatchNorm and activations, timed whole as nn-Meter times fused kernels), and each
tensor function that a container's own forward() calls (residual adds, NB201's node sums, reshapes,
token mean-pooling) through a TorchFunctionMode. Then time every call whose key - type +
configuration + input shapes - is not in the table yet, in isolation, with the measurement protocol
of measure.py. Keys repeat a lot across a space, so each is profiled once.

Predicting: look every call of a network up in the table and combine the sums with a linear model
fitted on a few whole networks that were measured end to end:

    latency = intercept + sum over terms of coefficient x term

The terms are `layers_ms` (the sum of the table latencies, nn-Meter's and FBNet's predictor) and,
optionally, `container_calls` (how many Python container modules - Sequential, residual blocks - run:
the per-call interpreter cost that profiling calls in isolation never sees) and `output_mb` (the
activations the calls write: fresh memory in a whole network, a reused buffer when one call is timed
over and over). The fit minimises *relative* squared error, because the target is a relative bound.

Scope: eager PyTorch, the backend the whole networks are measured on. The table stores the settings
it was profiled with (device, threads, batch) and the host, and is JSON, so it can be stored per device.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .analytical import ACTIVATION_TYPES, BATCHNORM_TYPES, CONV_TYPES, iter_units, tensor_bytes
from .measure import eval_mode, example_input, host_specs, time_interleaved

TERMS = ("layers_ms", "container_calls", "output_mb")
MAIN_TYPES = CONV_TYPES + (nn.Linear,)
FUSABLE_TYPES = BATCHNORM_TYPES + ACTIVATION_TYPES
STORED_FIELDS = ("device", "threads", "batch", "runs_per_round", "rounds", "warmup", "round_gap_s",
                 "host", "coefficients", "entries")


@dataclass
class UnitCall:
    """One call to time: a unit module, or a tensor function a container's forward() calls itself."""

    key: str
    fn: Callable
    args: tuple
    kwargs: dict
    output_bytes: int


# --- units ------------------------------------------------------------------------------------------

def is_fused_kernel(module: nn.Module) -> bool:
    """A Sequential of one conv or linear layer with BatchNorm and activations around it: the
    pattern inference runtimes fuse, which nn-Meter's kernel detection times as one kernel.
    Timing it whole captures what its layers share (the output of one is the input of the next)."""
    if not isinstance(module, nn.Sequential) or len(module) < 2:
        return False
    if any(any(True for _ in layer.children()) for layer in module):
        return False
    main = [layer for layer in module if isinstance(layer, MAIN_TYPES)]
    return len(main) == 1 and all(isinstance(layer, FUSABLE_TYPES + MAIN_TYPES) for layer in module)


def predictor_units(model: nn.Module) -> dict[str, nn.Module]:
    """analytical.iter_units, with each fused kernel taken whole instead of its layers."""
    fused = [name for name, module in model.named_modules() if is_fused_kernel(module)]

    def inside_fused(name: str) -> bool:
        return any(name.startswith(prefix + ".") or not prefix for prefix in fused if prefix != name)

    units = {name: module for name, module in model.named_modules() if name in fused}
    units.update((name, module) for name, module in iter_units(model) if not inside_fused(name))
    return units


# --- keys -------------------------------------------------------------------------------------------

def describe_value(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')}{list(value.shape)}"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(describe_value(v) for v in value) + ")"
    if value is None or isinstance(value, (bool, int, float, str, slice)):
        return repr(value)
    return type(value).__name__


def describe_inputs(args: tuple, kwargs: dict) -> str:
    inputs = describe_value(args)
    if kwargs:
        inputs += " " + ", ".join(f"{k}={describe_value(v)}" for k, v in sorted(kwargs.items()))
    return inputs


def module_config(module: nn.Module) -> str:
    """The settings that decide a unit's speed. extra_repr covers torch's layers except attention,
    whose repr omits the head count; parameter shapes cover custom layers with an empty repr;
    a fused kernel is described by its layers."""
    if is_fused_kernel(module):
        return " | ".join(f"{type(layer).__name__}({module_config(layer)})" for layer in module)
    if isinstance(module, nn.MultiheadAttention):
        config = (f"embed_dim={module.embed_dim}, num_heads={module.num_heads}, kdim={module.kdim}, "
                  f"vdim={module.vdim}, batch_first={module.batch_first}, bias={module.in_proj_bias is not None}")
    else:
        config = module.extra_repr()
    shapes = ",".join(str(list(p.shape)) for p in module.parameters(recurse=False))
    return f"{config}; params={shapes}" if shapes else config


def unit_key(module: nn.Module, args: tuple, kwargs: dict) -> str:
    return f"{type(module).__name__}({module_config(module)}) <- {describe_inputs(args, kwargs)}"


def function_key(func: Callable, args: tuple, kwargs: dict) -> str:
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
    return f"{name}() <- {describe_inputs(args, kwargs)}"


# --- recording a network's calls -----------------------------------------------------------------------

def returns_tensor(result) -> bool:
    if isinstance(result, (tuple, list)):
        return any(isinstance(item, torch.Tensor) for item in result)
    return isinstance(result, torch.Tensor)


class CallRecorder(TorchFunctionMode):
    """Sees every tensor function called during a forward. Those called outside units - the residual
    adds, node sums, reshapes and poolings written in containers' forward() - become calls of their own;
    those inside units are the unit's business. Units are recorded by the hooks of record_calls."""

    def __init__(self):
        super().__init__()
        self.calls: list[UnitCall] = []
        self.unit_depth = 0
        self.container_calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        if self.unit_depth == 0 and returns_tensor(result):
            self.calls.append(UnitCall(function_key(func, args, kwargs), func, args, kwargs, tensor_bytes(result)))
        return result


def record_calls(model: nn.Module, inputs: torch.Tensor) -> tuple[list[UnitCall], int]:
    """One forward (call it in eval mode): every call to time, in order, and the number of container calls."""
    recorder = CallRecorder()
    units = predictor_units(model)
    unit_ids = {id(m) for m in units.values()}
    handles = []

    def enter_unit(module, args):
        recorder.unit_depth += 1

    def leave_unit(module, args, kwargs, output):
        recorder.calls.append(UnitCall(unit_key(module, args, kwargs), module, args, kwargs, tensor_bytes(output)))
        recorder.unit_depth -= 1  # after the key: reading shapes is itself a tensor function

    def enter_container(module, args):
        recorder.container_calls += 1

    for name, module in model.named_modules():
        if id(module) in unit_ids:
            handles.append(module.register_forward_pre_hook(enter_unit))
            handles.append(module.register_forward_hook(leave_unit, with_kwargs=True))
        elif not any(name.startswith(unit + ".") for unit in units if unit):
            handles.append(module.register_forward_pre_hook(enter_container))
    try:
        with torch.inference_mode(), recorder:
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return recorder.calls, recorder.container_calls


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
    round_gap_s: float = 0.02
    entries: dict[str, float] = field(default_factory=dict)
    coefficients: dict[str, float] = field(default_factory=lambda: {"intercept": 0.0, "layers_ms": 1.0})
    host: dict = field(default_factory=dict)

    def profile_calls(self, calls: list[UnitCall]) -> None:
        """Time each distinct key not in the table, in isolation, in interleaved rounds (measure.py),
        and store the median of its quietest round."""
        distinct = [c for c in {call.key: call for call in calls}.values() if c.key not in self.entries]
        if not distinct:
            return
        if not self.host:
            self.host = host_specs()
        timings = time_interleaved([partial(c.fn, *c.args, **c.kwargs) for c in distinct],
                                   runs=self.runs_per_round * self.rounds, warmup=self.warmup,
                                   threads=self.threads, device=self.device, rounds=self.rounds,
                                   round_gap_s=self.round_gap_s)
        for call, timing in zip(distinct, timings, strict=True):
            self.entries[call.key] = min(timing["round_medians_ms"])

    def profile_networks(self, models: list[nn.Module], input_shape: tuple, vocab_size: int = 0) -> int:
        """Profile the missing keys of many networks at once (their rounds interleave, so each key's
        rounds spread over the whole profile); returns how many keys were added."""
        before = len(self.entries)
        inputs = example_input(input_shape, self.batch, vocab_size, self.device)
        calls: list[UnitCall] = []
        with ExitStack() as modes:
            for model in models:
                modes.enter_context(eval_mode(model.to(self.device)))
                calls += record_calls(model, inputs)[0]
            self.profile_calls(calls)
        return len(self.entries) - before

    def network_terms(self, model: nn.Module, input_shape: tuple, vocab_size: int = 0,
                      profile_missing: bool = True) -> dict[str, float]:
        """The network's terms; calls missing from the table are profiled first (or raise KeyError)."""
        inputs = example_input(input_shape, self.batch, vocab_size, self.device)
        with eval_mode(model.to(self.device)):
            calls, container_calls = record_calls(model, inputs)
            missing = [call for call in calls if call.key not in self.entries]
            if missing and not profile_missing:
                raise KeyError(f"no table entry for {missing[0].key}")
            self.profile_calls(missing)
        return {"layers_ms": sum(self.entries[c.key] for c in calls), "container_calls": float(container_calls),
                "output_mb": sum(c.output_bytes for c in calls) / 1e6}

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
        fitted = dict(zip(terms, (float(v) for v in solution[1:]), strict=True))
        self.coefficients = {"intercept": float(solution[0]), **fitted}
        return self.coefficients

    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in STORED_FIELDS}, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LatencyTable:
        data = json.loads(text)
        return cls(**{name: data[name] for name in STORED_FIELDS})

