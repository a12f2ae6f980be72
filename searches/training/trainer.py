"""One training loop for every space and task: AdamW or SGD, cosine schedule, early stopping.

Classification models return (batch, classes) logits, language models (batch, L,
vocab) next-token logits; one loss (cross-entropy over the last axis) serves
both, and language models are also scored by perplexity.

The caller passes an `on_epoch` callback that receives each epoch's metrics and
returns False to stop (cancel or prune requests are checked there, between
epochs). Seeded runs are deterministic on the CPU. On CUDA the loop uses
automatic mixed precision (float16 autocast with a GradScaler).

With `checkpoint_path` set, the complete state (model, optimizer, schedule,
scaler, random generators, history, best weights) is written atomically at every
epoch boundary, after `on_epoch` has seen the epoch, and a later call with the same path and settings resumes where
the last checkpoint left off: a restarted trial ends with the same weights and
metrics as one that never stopped.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from .datasets import LANGUAGE_MODELLING, DataSplits

#: Spec entries that hold width or channel choices (scaled by scale_widths).
WIDTH_KEYS = ("widths", "channels", "embed_dims", "mlp_widths", "conv_widths", "attention_widths")
#: Single widths (not choice lists) that scale the same way.
SCALAR_WIDTH_KEYS = ("C", "stem_channels")
#: Settings that may differ between a run and its resumption without changing the result's meaning.
RESUMABLE_DIFFERENCES = ("device", "threads", "checkpoint_path", "amp")
CHECKPOINT_VERSION = 1


class TrainingError(RuntimeError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    patience: int = 0  # epochs without val improvement before stopping; 0 = off
    seed: int = 0
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    threads: int = 0  # torch CPU threads; 0 = leave as is
    amp: bool = True  # mixed precision; only ever used on CUDA
    checkpoint_path: str = ""  # save every epoch and resume from here; "" = no checkpoints

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float  # next-token accuracy for language models
    seconds: float
    samples_per_s: float
    val_perplexity: float | None = None  # language models only

    def as_metrics(self) -> dict:
        d = asdict(self)
        d.pop("epoch")
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class TrainResult:
    epochs_run: int
    best_epoch: int
    val_accuracy: float
    test_accuracy: float
    params: int
    train_seconds: float
    stopped: str = "completed"  # completed | early_stopped | stopped_by_callback
    history: list = field(default_factory=list)
    val_perplexity: float | None = None  # language models only
    test_perplexity: float | None = None

    def final_metrics(self) -> dict:
        metrics = {
            "val_accuracy": self.val_accuracy,
            "test_accuracy": self.test_accuracy,
            "params": self.params,
            "train_seconds": round(self.train_seconds, 3),
            "epochs": self.epochs_run,
            "best_epoch": self.best_epoch,
        }
        if self.val_perplexity is not None:
            metrics.update(val_perplexity=self.val_perplexity, test_perplexity=self.test_perplexity)
        return metrics


@dataclass
class Progress:
    """What changes from epoch to epoch besides the torch objects; stored in checkpoints."""

    epoch: int = 0
    best_score: float = -math.inf  # val accuracy, or minus val loss for language models
    best_epoch: int = 0
    since_best: int = 0
    seconds: float = 0.0
    finished: str = ""  # "completed" or "early_stopped" once no epoch is left to run
    history: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**asdict(self), "history": [asdict(r) for r in self.history]}

    @classmethod
    def from_dict(cls, data: dict) -> "Progress":
        return cls(**{**data, "history": [EpochResult(**r) for r in data["history"]]})


# --- helpers ------------------------------------------------------------------------------
def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("a CUDA device was asked for, but none is available")
    return name


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def scale_widths(spec: dict, multiplier: float) -> dict:
    """A copy of a space spec with every width/channel choice list scaled (low-fidelity training).

    Values are rounded and kept at 1 or more; choices that collapse onto the same
    value are kept once, since specs reject repeated choices.
    """
    if not multiplier > 0:
        raise TrainingError(f"the width multiplier must be positive, got {multiplier}")
    scaled = dict(spec)
    for key in WIDTH_KEYS:
        values = spec.get(key)
        if isinstance(values, (list, tuple)) and values and all(_is_int(v) for v in values):
            scaled[key] = list(dict.fromkeys(scale_width(v, multiplier) for v in values))
    for key in SCALAR_WIDTH_KEYS:
        if _is_int(spec.get(key)):
            scaled[key] = scale_width(spec[key], multiplier)
    return scaled


def scale_width(value: int, multiplier: float) -> int:
    return max(1, round(value * multiplier))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def task_loss(logits, y):
    """Cross-entropy over the last axis: (B, C) vs (B,) and (B, L, V) vs (B, L) alike."""
    import torch.nn.functional as F

    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def loss_function(task: str):
    """The loss for a task, picked once so that the hot loop does no reshaping it does not need."""
    import torch.nn.functional as F

    return task_loss if task == LANGUAGE_MODELLING else F.cross_entropy


def autocast_context(device: str, amp: bool):
    return autocast_factory(device, amp)()


def autocast_factory(device: str, amp: bool) -> Callable:
    """A callable that opens the precision context of each step: float16 autocast, or nothing."""
    import torch

    if amp:
        return lambda: torch.autocast(device_type=device, dtype=torch.float16)
    return contextlib.nullcontext


def evaluate(model, x, y, device: str, batch_size: int = 512, amp: bool = False) -> tuple[float, float]:
    """(mean cross-entropy per prediction, accuracy) on a split; a prediction is a sample
    for classification and a token for language models."""
    import torch
    import torch.nn.functional as F

    model.eval()
    total_loss = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    with torch.no_grad(), autocast_context(device, amp):
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            logits = model(xb)
            flat = logits.reshape(-1, logits.shape[-1]).float()
            total_loss += F.cross_entropy(flat, yb.reshape(-1), reduction="sum")
            correct += (flat.argmax(-1) == yb.reshape(-1)).sum()
    predictions = max(y.numel(), 1)
    return total_loss.item() / predictions, correct.item() / predictions


def make_optimizer(model, config: TrainConfig):
    import torch

    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9,
                               weight_decay=config.weight_decay, nesterov=True)
    raise TrainingError(f"unknown optimizer {config.optimizer!r}; use adamw or sgd")


def perplexity(loss: float) -> float:
    return math.exp(min(loss, 700.0))  # exp overflows a float past ~709


# --- the loop -----------------------------------------------------------------------------
def train_one_epoch(model, optimizer, scaler, x, y, order, batch_size: int, device: str, amp: bool,
                    loss_fn=task_loss):
    """One pass over the shuffled training split; returns (mean loss, samples seen).

    The loss is summed on the device and read once per epoch: reading it every
    batch would make a GPU wait for each step. Everything that can be decided once
    (loss, precision context) is decided before the loop.
    """
    import torch

    model.train()
    precision = autocast_factory(device, amp)
    loss_sum = torch.zeros((), device=device)
    seen = 0
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        if len(idx) < 2 and len(order) > 1:
            continue  # a batch of one breaks batch norm and adds nothing
        xb, yb = x[idx], y[idx]
        optimizer.zero_grad(set_to_none=True)
        with precision():
            loss = loss_fn(model(xb), yb)
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        loss_sum.add_(loss.detach(), alpha=len(idx))  # in place: no new tensor per step
        seen += len(idx)
    return loss_sum.item() / max(seen, 1), seen


@dataclass
class Run:
    """The live torch objects of one training run."""

    model: object
    optimizer: object
    scheduler: object
    scaler: object  # a GradScaler when mixed precision is on, else None
    generator: object  # shuffles the training split
    best_state: dict | None = None


def start_run(model, config: TrainConfig, device: str, amp: bool) -> Run:
    import torch

    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs))
    scaler = torch.amp.GradScaler("cuda") if amp else None
    return Run(model, optimizer, scheduler, scaler, torch.Generator().manual_seed(config.seed))


def train(model, data: DataSplits, config: TrainConfig,
          on_epoch: Callable[[EpochResult], bool] | None = None) -> TrainResult:
    import torch

    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    amp = config.amp and device.startswith("cuda")
    language_model = data.task == LANGUAGE_MODELLING
    run = start_run(model.to(device), config, device, amp)
    progress = Progress()
    if config.checkpoint_path and os.path.exists(config.checkpoint_path):
        progress = load_checkpoint(config.checkpoint_path, run, config)
    # Moving the training split once, rather than every batch, keeps a GPU fed.
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    x_val, y_val = data.x_val.to(device), data.y_val.to(device)
    stopped = progress.finished or "completed"
    while not progress.finished:
        started = time.perf_counter()
        order = torch.randperm(len(x_train), generator=run.generator).to(device)
        train_loss, seen = train_one_epoch(run.model, run.optimizer, run.scaler, x_train, y_train, order,
                                           config.batch_size, device, amp, loss_function(data.task))
        train_seconds = time.perf_counter() - started
        run.scheduler.step()
        val_loss, val_acc = evaluate(run.model, x_val, y_val, device, amp=amp)
        seconds = time.perf_counter() - started
        result = EpochResult(progress.epoch + 1, train_loss, val_loss, val_acc, seconds,
                             seen / max(train_seconds, 1e-9), perplexity(val_loss) if language_model else None)
        record_epoch(progress, run, result, -val_loss if language_model else val_acc, config)
        # The caller hears of the epoch before it is checkpointed: a crash between the two runs that
        # epoch again on resumption (with the same result), and never leaves it unreported.
        if on_epoch is not None and on_epoch(result) is False:
            stopped = "stopped_by_callback"
            break
        if config.checkpoint_path:
            save_checkpoint(config.checkpoint_path, run, progress, config)
        stopped = progress.finished or stopped
    return finish(run, data, progress, stopped, device, amp, language_model)


def record_epoch(progress: Progress, run: Run, result: EpochResult, score: float, config: TrainConfig) -> None:
    """Add the epoch to the history, keep the best weights, and decide whether training is over."""
    progress.epoch = result.epoch
    progress.seconds += result.seconds
    progress.history.append(result)
    if score > progress.best_score:
        progress.best_score, progress.best_epoch, progress.since_best = score, result.epoch, 0
        run.best_state = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
    else:
        progress.since_best += 1
    if config.patience and progress.since_best >= config.patience:
        progress.finished = "early_stopped"
    elif progress.epoch >= config.epochs:
        progress.finished = "completed"


def finish(run: Run, data: DataSplits, progress: Progress, stopped: str, device: str, amp: bool,
           language_model: bool) -> TrainResult:
    """Restore the best epoch's weights and score them on the test split."""
    started = time.perf_counter()
    if run.best_state is not None:
        run.model.load_state_dict(run.best_state)
    test_loss, test_acc = evaluate(run.model, data.x_test, data.y_test, device, amp=amp)
    best = progress.history[progress.best_epoch - 1] if progress.best_epoch else None
    result = TrainResult(
        epochs_run=len(progress.history),
        best_epoch=progress.best_epoch,
        val_accuracy=best.val_accuracy if best else 0.0,
        test_accuracy=test_acc,
        params=count_params(run.model),
        train_seconds=progress.seconds + time.perf_counter() - started,
        stopped=stopped,
        history=list(progress.history),
    )
    if language_model and best is not None:
        result.val_perplexity, result.test_perplexity = best.val_perplexity, perplexity(test_loss)
    return result


# --- checkpoints ----------------------------------------------------------------------------
def resumable_settings(config: TrainConfig) -> dict:
    settings = asdict(config)
    for name in RESUMABLE_DIFFERENCES:
        settings.pop(name)
    return settings


def save_checkpoint(path: str, run: Run, progress: Progress, config: TrainConfig) -> None:
    """Write the whole state to a temporary file and rename it over the old checkpoint,
    so that a crash mid-write leaves the previous checkpoint intact."""
    import torch

    state = {
        "version": CHECKPOINT_VERSION,
        "settings": resumable_settings(config),
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler is not None else None,
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "shuffle": run.generator.get_state(),
        },
        "progress": progress.to_dict(),
        "best_state": run.best_state,
    }
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        torch.save(state, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_checkpoint(path: str, run: Run, config: TrainConfig) -> Progress:
    """Restore a run from its checkpoint (weights_only: a checkpoint cannot run code)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several unrelated types for a damaged file
        raise TrainingError(f"cannot read the checkpoint {path}: {exc}") from exc
    if state.get("version") != CHECKPOINT_VERSION:
        raise TrainingError(f"the checkpoint {path} has an unknown version {state.get('version')!r}")
    changed = {k: (v, state["settings"].get(k)) for k, v in resumable_settings(config).items()
               if state["settings"].get(k) != v}
    if changed:
        name, (now, then) = next(iter(changed.items()))
        raise TrainingError(f"the checkpoint {path} was written with {name}={then!r}, not {now!r}; "
                            "delete it to train from scratch")
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if run.scaler is not None and state["scaler"]:
        run.scaler.load_state_dict(state["scaler"])
    restore_rng(state["rng"], run)
    device = next(iter(run.model.state_dict().values())).device
    best = state["best_state"]
    run.best_state = {k: v.to(device) for k, v in best.items()} if best is not None else None
    return Progress.from_dict(state["progress"])


def restore_rng(rng: dict, run: Run) -> None:
    import torch

    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    run.generator.set_state(rng["shuffle"])
