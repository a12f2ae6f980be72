"""What every one-shot strategy shares: settings, the epoch loop, batches, steps and the result.

A strategy subclasses OneShotSearch and provides `train_epoch` (one pass over the training
split, interleaving its weight and architecture steps), `arch_weights` (its current
distribution over choices) and `derive` (the final architecture). `run(on_epoch)` does the
rest: timing, the per-epoch report, stopping when `on_epoch` returns False (a cancel) or when
the strategy's own criterion says so, and the result.

Resuming: with a `checkpoint_path`, `run` writes the whole state after every epoch (weights,
optimisers, schedules, random generators, the history) and, when the file is there at the start,
continues after its last epoch, so a worker killed mid-search loses one epoch at most. The file holds
tensors and plain values only (read with weights_only: a checkpoint cannot run code). A strategy
with more state than modules and optimisers names its plain fields in `resumable_fields` or adds
the rest with `extra_state` / `load_extra_state`. After a resume the batch order differs from an
uninterrupted run (the validation batches start a fresh cycle).

Determinism: the supernet's initial weights come from torch.manual_seed(seed), and every
random draw afterwards (batch order, sampled paths, dropout) from generators seeded with the
same seed, so a seeded run on the CPU repeats exactly.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import LRScheduler

from ..checks import SpecError
from ..spaces.base import SearchSpace
from ..strategies.settings_checks import (
    SettingInfo,
    check_choice_setting,
    check_float_setting,
    check_int_setting,
    merge_settings,
    read_schema,
)
from ..training.datasets import CLASSIFICATION, DataSplits
from ..training.trainer import resolve_device
from .supernet import Gate, Supernet, path_gates
from .supernets import build_supernet

#: on_epoch(epoch, info) -> False to stop. info holds the epoch's metrics and `arch_weights`.
EpochCallback = Callable[[int, dict], bool | None]

COMPLETED, STOPPED_BY_CALLBACK, EARLY_STOPPED = "completed", "stopped_by_callback", "early_stopped"

COMMON_SETTINGS = {
    "epochs": 10,
    "batch_size": 64,
    # DARTS's weight optimiser: SGD with momentum, cosine schedule, gradient clipping.
    "weight_lr": 0.025,
    "weight_momentum": 0.9,
    "weight_decay": 3e-4,
    "grad_clip": 5.0,
    "device": "cpu",
    "threads": 0,  # torch CPU threads; 0 = leave as is
}

COMMON_SETTINGS_HELP = {
    "epochs": "supernet training epochs", "batch_size": "samples per step", "weight_lr": "SGD learning rate of the "
    "supernet's weights (cosine schedule)", "weight_momentum": "SGD momentum", "weight_decay": "SGD weight decay",
    "grad_clip": "gradient norm clip", "device": "cpu, cuda or auto (cuda when present)",
    "threads": "torch CPU threads (0: leave as is)",
}

#: Inherited accuracy is measured in chunks this large (batch norm uses the chunk's statistics).
EVAL_BATCH = 512
ONESHOT_CHECKPOINT_VERSION = 1


class OneShotCheckpointError(RuntimeError):
    """A supernet checkpoint that cannot be resumed from (damaged, or written with other settings)."""


@dataclass
class OneShotResult:
    strategy: str
    arch: dict
    description: str
    #: One entry per epoch: {decision: {choice label: probability}}.
    arch_weights: list[dict]
    #: One entry per epoch: the metrics passed to on_epoch (arch_weights included).
    history: list[dict]
    #: Architectures evaluated with inherited weights to derive `arch`: [{arch, val_accuracy}].
    candidates: list[dict]
    #: search_seconds (supernet training), derive_seconds, total_seconds, epoch_seconds.
    timings: dict
    stopped: str = COMPLETED
    supernet: Supernet | None = field(default=None, repr=False)

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    def to_dict(self) -> dict:
        """JSON-ready (the supernet is left out)."""
        return {
            "strategy": self.strategy,
            "arch": self.arch,
            "description": self.description,
            "arch_weights": self.arch_weights,
            "history": self.history,
            "candidates": self.candidates,
            "timings": self.timings,
            "stopped": self.stopped,
            "epochs_run": self.epochs_run,
        }


class OneShotSearch:
    name = ""
    label = ""
    #: Plain attributes (numbers, lists, dicts) a resumed run needs besides modules and optimisers.
    resumable_fields: tuple[str, ...] = ()

    def __init__(self, space: SearchSpace, data: DataSplits, settings: dict | None = None, seed: int = 0):
        if data.task != CLASSIFICATION:
            raise SpecError("dataset", f"one-shot search needs a classification task, got {data.task!r}")
        self.space = space
        self.data = data
        self.seed = int(seed)
        self.settings = self.validate_settings(dict(settings or {}))
        if self.settings["threads"]:
            torch.set_num_threads(self.settings["threads"])
        self.device = resolve_device(self.settings["device"])
        torch.manual_seed(self.seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.rng = random.Random(self.seed)
        self.supernet = self.build_supernet().to(self.device)
        self.reset_weight_optimizer(self.settings["epochs"])
        self._val_batches = self._cycle_val_batches()

    def build_supernet(self) -> Supernet:
        """The space's supernet; a strategy that needs another (deeper, partial-channel) overrides this."""
        return build_supernet(self.space, self.data.input_shape, self.data.num_classes)

    def reset_weight_optimizer(self, epochs: int) -> None:
        """A fresh SGD + cosine schedule over `epochs` for the current supernet's weights."""
        self.weight_optimizer = torch.optim.SGD(
            self.supernet.parameters(), lr=self.settings["weight_lr"], momentum=self.settings["weight_momentum"],
            weight_decay=self.settings["weight_decay"])
        self.weight_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.weight_optimizer, T_max=epochs)

    # --- settings ----------------------------------------------------------------------------
    @classmethod
    def strategy_settings(cls) -> dict:
        """The settings a subclass adds to COMMON_SETTINGS, with their defaults."""
        return {}

    #: One line of help per setting the subclass adds, for the form.
    settings_help: dict[str, str] = {}

    @classmethod
    def default_settings(cls) -> dict:
        return {**COMMON_SETTINGS, **cls.strategy_settings()}

    @classmethod
    def settings_schema(cls, space: SearchSpace) -> list[SettingInfo]:
        """Each setting with its default, its range (read off validate_settings' checks) and its help."""
        probe = cls.__new__(cls)
        probe.space = space
        help_texts = {**COMMON_SETTINGS_HELP, **cls.settings_help}
        return read_schema(probe.validate_settings, cls.default_settings(), help_texts)

    def validate_settings(self, settings: dict) -> dict:
        merged = merge_settings(self.default_settings(), settings, f"the {self.name} strategy")
        check_int_setting(merged, "epochs", 1, 10_000)
        check_int_setting(merged, "batch_size", 2, 65_536)
        check_float_setting(merged, "weight_lr", 0.0, 10.0, open_low=True)
        check_float_setting(merged, "weight_momentum", 0.0, 0.999)
        check_float_setting(merged, "weight_decay", 0.0, 1.0)
        check_float_setting(merged, "grad_clip", 0.0, 1e6)
        check_choice_setting(merged, "device", ("cpu", "cuda", "auto"))
        check_int_setting(merged, "threads", 0, 1024)
        self.check_strategy_settings(merged)
        return merged

    def check_strategy_settings(self, settings: dict) -> None:
        """Validate the subclass's own settings (raise SpecError naming the setting)."""

    # --- what a strategy provides ---------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict:
        """One pass over the training split; returns the epoch's metrics."""
        raise NotImplementedError

    def arch_weights(self) -> dict[str, dict[str, float]]:
        """The current distribution over each decision's choices."""
        raise NotImplementedError

    def current_arch(self) -> dict | None:
        """The architecture the strategy would derive now, if that is cheap (reported per epoch)."""
        return None

    def should_stop(self, info: dict) -> bool:
        """The strategy's own early-stopping criterion, checked after each epoch."""
        return False

    def derive(self) -> tuple[dict, list[dict]]:
        """The final architecture and the candidates evaluated to choose it."""
        raise NotImplementedError

    # --- the loop -----------------------------------------------------------------------------
    def run(self, on_epoch: EpochCallback | None = None, checkpoint_path: str = "") -> OneShotResult:
        started = time.perf_counter()
        history = self.load_checkpoint(checkpoint_path) if checkpoint_path and os.path.exists(checkpoint_path) else []
        stopped = COMPLETED
        for epoch in range(len(history) + 1, self.settings["epochs"] + 1):
            epoch_started = time.perf_counter()
            metrics = self.train_epoch(epoch)
            self.weight_schedule.step()
            info = self.epoch_info(epoch, metrics, time.perf_counter() - epoch_started)
            history.append(info)
            if on_epoch is not None and on_epoch(epoch, info) is False:
                stopped = STOPPED_BY_CALLBACK
                break
            if self.should_stop(info):
                stopped = EARLY_STOPPED
                break
            if checkpoint_path:  # after on_epoch: a kill in between repeats this epoch, never skips its row
                self.save_checkpoint(checkpoint_path, history)
        searched = time.perf_counter()
        arch, candidates = self.derive()
        finished = time.perf_counter()
        timings = {"search_seconds": searched - started, "derive_seconds": finished - searched,
                   "total_seconds": finished - started, "epoch_seconds": [h["seconds"] for h in history]}
        return OneShotResult(self.name, arch, self.space.describe(arch), [h["arch_weights"] for h in history],
                             history, candidates, timings, stopped, self.supernet)

    # --- checkpoints ------------------------------------------------------------------------------
    def _parts(self, kind: type) -> dict:
        return {name: value for name, value in sorted(vars(self).items()) if isinstance(value, kind)}

    def checkpoint_state(self, history: list[dict]) -> dict:
        return {
            "version": ONESHOT_CHECKPOINT_VERSION, "strategy": self.name, "settings": self.settings,
            "seed": self.seed, "history": history,
            "fields": {name: getattr(self, name) for name in self.resumable_fields},
            "modules": {name: m.state_dict() for name, m in self._parts(torch.nn.Module).items()},
            "optimizers": {name: o.state_dict() for name, o in self._parts(torch.optim.Optimizer).items()},
            "schedules": {name: s.state_dict() for name, s in self._parts(LRScheduler).items()},
            "rng": {"torch": torch.get_rng_state(), "generator": self.generator.get_state(),
                    "python": self.rng.getstate(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
            "extra": self.extra_state(),
        }

    def save_checkpoint(self, path: str, history: list[dict]) -> None:
        """Written to a temporary file and renamed over the old one: a kill mid-write keeps the last."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
        with open(temporary, "wb") as handle:
            torch.save(self.checkpoint_state(history), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)

    def load_checkpoint(self, path: str) -> list[dict]:
        """Restore the state saved after an epoch; returns the history up to it."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several unrelated types for a damaged file
            raise OneShotCheckpointError(f"cannot read the supernet checkpoint {path}: {exc}") from exc
        wanted = {"version": ONESHOT_CHECKPOINT_VERSION, "strategy": self.name, "seed": self.seed,
                  "settings": _searched_settings(self.settings)}
        for key, value in wanted.items():
            if state.get(key) != value:  # the settings compare without where they run
                saved = _searched_settings(state.get(key)) if key == "settings" else state.get(key)
                if saved != value:
                    raise OneShotCheckpointError(f"the supernet checkpoint {path} was written with {key}="
                                                 f"{saved!r}, not {value!r}; delete it to start over")
        for name, value in state["fields"].items():
            setattr(self, name, value)
        self.rebuild_for_resume()
        for kind, key in ((torch.nn.Module, "modules"), (torch.optim.Optimizer, "optimizers"),
                          (LRScheduler, "schedules")):
            for name, part in self._parts(kind).items():
                part.load_state_dict(state[key][name])
        self.load_extra_state(state["extra"])
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.generator.set_state(state["rng"]["generator"])
        self.rng.setstate(state["rng"]["python"])
        self._val_batches = self._cycle_val_batches()
        return list(state["history"])

    def rebuild_for_resume(self) -> None:
        """After the resumable fields are restored: rebuild what depends on them (P-DARTS: its stage's
        supernet), so that the saved weights fit."""

    def extra_state(self) -> dict:
        """State held outside the strategy's own modules and optimisers (tensors and plain values)."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        """Restore what extra_state saved."""

    def epoch_info(self, epoch: int, metrics: dict, seconds: float) -> dict:
        """The report passed to on_epoch and kept in the history; subclasses add their fields."""
        info = {"epoch": epoch, **metrics, "seconds": seconds, "arch_weights": self.arch_weights()}
        arch = self.current_arch()
        if arch is not None:
            info["derived_arch"] = arch
            info["derived_description"] = self.space.describe(arch)
        return info

    # --- batches --------------------------------------------------------------------------------
    def train_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        yield from self._batches(self.data.x_train, self.data.y_train)

    def next_val_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        return next(self._val_batches)

    def steps_per_epoch(self) -> int:
        return max(1, math.ceil(len(self.data.x_train) / self.settings["batch_size"]))

    def _batches(self, x: torch.Tensor, y: torch.Tensor):
        size = self.settings["batch_size"]
        order = torch.randperm(len(x), generator=self.generator)
        for start in range(0, len(order), size):
            index = order[start:start + size]
            if len(index) < 2 and len(order) > 1:
                continue  # a batch of one breaks batch norm and adds nothing
            yield x[index].to(self.device), y[index].to(self.device)

    def _cycle_val_batches(self):
        while True:
            yield from self._batches(self.data.x_val, self.data.y_val)

    # --- steps and evaluation ----------------------------------------------------------------------
    def weight_step(self, x: torch.Tensor, y: torch.Tensor, gates: dict[str, Gate]) -> tuple[float, int]:
        """One SGD step on the supernet weights through the given gates; (loss, correct)."""
        self.supernet.train()
        self.weight_optimizer.zero_grad(set_to_none=True)
        logits = self.supernet(x, gates)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if self.settings["grad_clip"]:
            torch.nn.utils.clip_grad_norm_(self.supernet.parameters(), self.settings["grad_clip"])
        self.weight_optimizer.step()
        return loss.item(), int((logits.argmax(1) == y).sum())

    def inherited_accuracy(self, arch: dict, split: str = "val") -> float:
        return inherited_accuracy(self.supernet, arch, self.data, split, self.device)

    def evaluate_candidates(self, archs: list[dict]) -> tuple[dict, list[dict]]:
        """The best architecture by inherited validation accuracy (the first of equals)."""
        candidates = [{"arch": arch, "description": self.space.describe(arch),
                       "val_accuracy": self.inherited_accuracy(arch)} for arch in archs]
        best = max(candidates, key=lambda c: c["val_accuracy"])
        return best["arch"], candidates

    def distinct(self, archs: list[dict]) -> list[dict]:
        seen, out = set(), []
        for arch in archs:
            key = self.space.key(arch)
            if key not in seen:
                seen.add(key)
                out.append(arch)
        return out


def _searched_settings(settings) -> dict:
    """The settings that shape the search (a resume on another device or thread count is the same run)."""
    return {k: v for k, v in (settings or {}).items() if k not in ("device", "threads")}


def inherited_accuracy(supernet: Supernet, arch: dict, data: DataSplits, split: str = "val",
                       device: str = "cpu") -> float:
    """Accuracy of the single path `arch` with the supernet's weights, on a split."""
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    gates = path_gates(supernet.space, arch)
    supernet.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), EVAL_BATCH):
            xb, yb = x[start:start + EVAL_BATCH].to(device), y[start:start + EVAL_BATCH].to(device)
            correct += int((supernet(xb, gates).argmax(1) == yb).sum())
    return correct / len(x)


def batch_accuracy(supernet: Supernet, gates: dict[str, Gate], x: torch.Tensor, y: torch.Tensor) -> float:
    supernet.eval()
    with torch.no_grad():
        return float((supernet(x, gates).argmax(1) == y).float().mean())


def averaged(total: float, count: int) -> float | None:
    return total / count if count else None
