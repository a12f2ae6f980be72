"""What does our trainer cost over a bare PyTorch loop (goal: under 5% on the CPU)?

Trains the same model on the same data twice per round: once with
searches/training/trainer.py and once with a hand-written loop that does the same
work (seeded shuffle, AdamW, cosine schedule, a validation pass per epoch and a
test pass at the end) and nothing else, plus the bare loop a second time, whose
difference from the first shows the machine's noise floor. The order rotates
from round to round. The figure is the median over rounds of the trainer/bare
time ratio with a bootstrap 95% interval; the goal counts as met only when the
whole interval is under it. Wall and process CPU time are both shown; on the CPU
the figure is CPU time.
Both loops must report the same losses, which shows they do the same arithmetic.
With CUDA, it also prints samples/s and the GPU utilisation sampled while the
trainer runs.

    .venv/bin/python bench/trainer_overhead.py [--rounds 90] [--epochs 4] [--device cpu|cuda|auto] [--threads 1]
"""

from __future__ import annotations

import argparse
import gc
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from searches.spaces.chain_mlp import ChainMLPSpace  # noqa: E402
from searches.training.datasets import load_builtin  # noqa: E402
from searches.training.trainer import TrainConfig, resolve_device, train  # noqa: E402

ARCH = {"depth": 2, "width_1": 128, "width_2": 128, "activation": "relu", "dropout": 0.0, "norm": "batch"}
GOAL = 0.05


def build_model(data, seed: int):
    torch.manual_seed(seed)
    return ChainMLPSpace({"widths": [128]}).to_torch(ARCH, data.input_shape, data.num_classes)


def bare_loop(model, data, config: TrainConfig, device: str) -> list[float]:
    """The same training as trainer.train, written plainly; returns each epoch's validation loss."""
    torch.manual_seed(config.seed)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    generator = torch.Generator().manual_seed(config.seed)
    x, y = data.x_train.to(device), data.y_train.to(device)
    x_val, y_val = data.x_val.to(device), data.y_val.to(device)
    val_losses = []
    for _ in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator).to(device)
        for start in range(0, len(order), config.batch_size):
            idx = order[start:start + config.batch_size]
            if len(idx) < 2:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
        scheduler.step()
        val_losses.append(bare_evaluate(model, x_val, y_val))
    bare_evaluate(model, data.x_test.to(device), data.y_test.to(device))
    return val_losses


def bare_evaluate(model, x, y, batch_size: int = 512) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            total += F.cross_entropy(model(x[i:i + batch_size]), y[i:i + batch_size], reduction="sum").item()
    return total / len(x)


def timed(function) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result). On a shared machine CPU time is the
    steadier measure of the work done: other processes' load does not count in it."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    gc.collect()
    gc.disable()  # as timeit does: a collection landing in one run but not the other is noise
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - wall, time.process_time() - cpu, result
    finally:
        gc.enable()


class UtilisationSampler:
    """Samples GPU utilisation (%) every 0.1 s in a thread: torch.cuda.utilization (needs pynvml),
    else nvidia-smi; empty when neither works."""

    def __init__(self):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(0.1):
            value = read_utilisation()
            if value is None:
                return
            self.samples.append(value)


def read_utilisation() -> float | None:
    try:
        return float(torch.cuda.utilization())
    except Exception:  # pynvml missing or unsupported: fall back to the command line tool
        pass
    if shutil.which("nvidia-smi") is None:
        return None
    out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", "0"],
                         capture_output=True, text=True)
    try:
        return float(out.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return None


LOOPS = ("trainer", "bare", "bare_again")


def one_round(data, config: TrainConfig, device: str, shift: int) -> dict:
    """{loop: (wall, cpu)} for one run of each loop, plus "same": whether the trainer and the bare
    loop reported the same losses. The bare loop runs twice: its two times differ by noise alone,
    which shows how small a difference the machine can resolve. The order rotates by `shift`."""
    order = LOOPS[shift % 3:] + LOOPS[:shift % 3]
    runs = {}
    for name in order:
        model = build_model(data, config.seed)
        if name == "trainer":
            runs[name] = timed(lambda m=model: [h.val_loss for h in train(m, data, config).history])
        else:
            runs[name] = timed(lambda m=model: bare_loop(m, data, config, device))
    same = all(abs(a - b) < 1e-6 for a, b in zip(runs["trainer"][2], runs["bare"][2], strict=True))
    return {**{name: run[:2] for name, run in runs.items()}, "same": same}


def median_ratio(numerators: list[float], denominators: list[float]) -> tuple[float, float, float]:
    """Median of the per-round ratios and its 95% bootstrap interval (seeded: the same times
    give the same interval)."""
    ratios = [x / y for x, y in zip(numerators, denominators, strict=True)]
    rng = random.Random(0)
    resampled = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(2000))
    return statistics.median(ratios), resampled[50], resampled[1949]


def summarise(rounds: list[dict], clock: int, label: str) -> tuple[float, float, float]:
    """Print one clock's figures (0: wall, 1: CPU); return the trainer/bare median ratio and interval.

    The runs of one round are seconds apart, so their ratio is the least disturbed
    by load drift. bare_again/bare shows what noise alone does to the same figure.
    """
    times = {name: [r[name][clock] for r in rounds] for name in LOOPS}
    medians = {name: statistics.median(values) for name, values in times.items()}
    trainer = median_ratio(times["trainer"], times["bare"])
    noise = median_ratio(times["bare_again"], times["bare"])
    print(f"{label}: median s  trainer {medians['trainer']:.4f}, bare {medians['bare']:.4f}, "
          f"bare again {medians['bare_again']:.4f}")
    print(f"      trainer/bare {trainer[0]:.3f} (95% CI {trainer[1]:.3f}-{trainer[2]:.3f});  noise floor "
          f"bare_again/bare {noise[0]:.3f} (95% CI {noise[1]:.3f}-{noise[2]:.3f})")
    return trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=90)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = load_builtin("digits", 0)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, device=device, seed=0)
    one_round(data, config, device, 0)  # warm-up: first-call costs (allocations, kernels) on neither side
    rounds = [one_round(data, config, device, shift=r) for r in range(args.rounds)]
    print(f"device {device}, torch threads {torch.get_num_threads()}, digits ({len(data.x_train)} training samples), "
          f"MLP 128-128 with batch norm, {args.epochs} epochs, batch {args.batch_size}, "
          f"{args.rounds} rounds (order rotated)")
    wall = summarise(rounds, 0, "wall")
    cpu = summarise(rounds, 1, "cpu")
    ratio, low, high = cpu if device == "cpu" else wall  # a GPU run's cost is its wall time
    verdict = "met" if high - 1 < GOAL else "NOT met" if low - 1 >= GOAL else "not resolved (too noisy)"
    print(f"overhead {100 * (ratio - 1):+.1f}% (95% CI {100 * (low - 1):+.1f}% to {100 * (high - 1):+.1f}%, "
          f"{'CPU' if device == 'cpu' else 'wall'} time), goal < {100 * GOAL:.0f}%: {verdict}; "
          f"same losses in both loops: {all(r['same'] for r in rounds)}")
    if device.startswith("cuda"):
        report_cuda(data, config)


def report_cuda(data, config: TrainConfig) -> None:
    model = build_model(data, config.seed)
    with UtilisationSampler() as sampler:
        result = train(model, data, config)
    per_epoch = [h.samples_per_s for h in result.history]
    utilisation = f"{statistics.mean(sampler.samples):.0f}% mean over {len(sampler.samples)} samples" \
        if sampler.samples else "unavailable (no pynvml or nvidia-smi)"
    print(f"cuda: {torch.cuda.get_device_name()}, samples/s per epoch {[round(s) for s in per_epoch]}, "
          f"GPU utilisation {utilisation}")


if __name__ == "__main__":
    main()
