"""One training loop for every space: AdamW or SGD, cosine schedule, early stopping.

The caller passes an `on_epoch` callback that receives each epoch's metrics and
returns False to stop (cancel or prune requests are checked there, between
epochs). Seeded runs are deterministic on the CPU.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable

from .datasets import DataSplits


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

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    seconds: float
    samples_per_s: float

    def as_metrics(self) -> dict:
        d = asdict(self)
        d.pop("epoch")
        return d


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

    def final_metrics(self) -> dict:
        return {
            "val_accuracy": self.val_accuracy,
            "test_accuracy": self.test_accuracy,
            "params": self.params,
            "train_seconds": round(self.train_seconds, 3),
            "epochs": self.epochs_run,
            "best_epoch": self.best_epoch,
        }


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("a CUDA device was asked for, but none is available")
    return name


def count_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def evaluate(model, x, y, device: str, batch_size: int = 512) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy) on a split."""
    import torch
    import torch.nn.functional as F

    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            logits = model(xb)
            total_loss += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
    return total_loss / len(x), correct / len(x)


def make_optimizer(model, config: TrainConfig):
    import torch

    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9,
                               weight_decay=config.weight_decay, nesterov=True)
    raise TrainingError(f"unknown optimizer {config.optimizer!r}; use adamw or sgd")


def train(model, data: DataSplits, config: TrainConfig,
          on_epoch: Callable[[EpochResult], bool] | None = None) -> TrainResult:
    import torch
    import torch.nn.functional as F

    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    model = model.to(device)
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs))
    gen = torch.Generator().manual_seed(config.seed)
    x_train, y_train = data.x_train, data.y_train
    best_acc, best_epoch, best_state, since_best = -1.0, 0, None, 0
    history: list[EpochResult] = []
    stopped = "completed"
    started = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        running, seen = 0.0, 0
        for i in range(0, len(order), config.batch_size):
            idx = order[i:i + config.batch_size]
            if len(idx) < 2 and len(order) > 1:
                continue  # a batch of one breaks batch norm and adds nothing
            xb, yb = x_train[idx].to(device), y_train[idx].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(idx)
            seen += len(idx)
        scheduler.step()
        val_loss, val_acc = evaluate(model, data.x_val, data.y_val, device)
        seconds = time.perf_counter() - t0
        result = EpochResult(epoch, running / max(seen, 1), val_loss, val_acc, seconds, seen / max(seconds, 1e-9))
        history.append(result)
        if val_acc > best_acc:
            best_acc, best_epoch, since_best = val_acc, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
        if on_epoch is not None and on_epoch(result) is False:
            stopped = "stopped_by_callback"
            break
        if config.patience and since_best >= config.patience:
            stopped = "early_stopped"
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    _, test_acc = evaluate(model, data.x_test, data.y_test, device)
    return TrainResult(len(history), best_epoch, best_acc, test_acc, count_params(model),
                       time.perf_counter() - started, stopped, history)
