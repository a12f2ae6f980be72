"""DARTS, P-DARTS and PC-DARTS on digits in one run (NAS-Bench-201 cell space, CPU, one thread).

For each method: the search time, the memory of one supernet training step (PC-DARTS and P-DARTS
against DARTS as a ratio), the skip connections in the derived cell, and the derived cell's
stand-alone accuracy (trained from scratch, briefly, with the project's trainer: every cell the
same budget and seed).

Memory is counted by searches/oneshot/memory.py: the bytes of the distinct tensors autograd saves
for the backward pass of one training forward through the full mixture (torch's saved-tensor
hooks; tracemalloc cannot see torch's CPU allocator), plus parameters. P-DARTS' figure is its
largest stage (its last: the deepest supernet, though with the fewest ops).

    .venv/bin/python bench/oneshot_seeds.py            # several minutes on a busy 2-core machine
    .venv/bin/python bench/oneshot_seeds.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from searches.oneshot.darts import skip_count  # noqa: E402
from searches.oneshot.memory import StepMemory, training_step_memory  # noqa: E402
from searches.oneshot.ranking import standalone_results  # noqa: E402
from searches.oneshot.registry import build_oneshot  # noqa: E402
from searches.spaces.nb201 import NB201Space  # noqa: E402
from searches.training.datasets import load_builtin  # noqa: E402
from searches.training.trainer import TrainConfig  # noqa: E402

MEMORY_BATCH = 64


def plans(epochs: int) -> list[tuple[str, str, dict]]:
    return [
        ("DARTS-V1", "darts", {"epochs": epochs}),
        ("P-DARTS", "pdarts", {"epochs": epochs}),
        ("PC-DARTS K=4", "pcdarts", {"epochs": epochs, "partial_channels": 4}),
    ]


def step_memory(search) -> StepMemory:
    x, y = search.data.x_train[:MEMORY_BATCH], search.data.y_train[:MEMORY_BATCH]
    return training_step_memory(search.supernet, x, y, search.mixture_gates())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=2, help="N, cells per stage of the retrained network")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=6, help="search epochs (P-DARTS: shared by its 3 stages)")
    parser.add_argument("--standalone-epochs", type=int, default=3)
    args = parser.parse_args()
    epochs, standalone_epochs = (3, 1) if args.quick else (args.epochs, args.standalone_epochs)
    torch.set_num_threads(1)
    started = time.perf_counter()
    data = load_builtin("digits", 0)
    space = NB201Space({"C": args.channels, "N": args.cells})
    print(f"digits: {len(data.x_train)} train / {len(data.x_val)} val / {len(data.x_test)} test; NB201 "
          f"C={args.channels} N={args.cells}; search {epochs} epochs; stand-alone {standalone_epochs} epochs; "
          f"{args.seeds} seed(s); 1 thread", flush=True)
    rows = []
    for seed in range(args.seeds):
        config = TrainConfig(epochs=standalone_epochs, seed=seed)
        for label, name, settings in plans(epochs):
            search = build_oneshot(name, space, data, settings, seed)
            memories = [step_memory(search)]

            def on_epoch(epoch, info, search=search, memories=memories, label=label, seed=seed):
                print(f"    [{label} seed {seed}] epoch {epoch:2d} {info['seconds']:5.1f}s "
                      f"skips={info['skip_count']} {info['derived_description']}", flush=True)
                memories.append(step_memory(search))  # P-DARTS: this epoch's stage supernet

            result = search.run(on_epoch)
            trained = standalone_results(space, [result.arch], data, config)[0]
            peak = max(memories, key=lambda m: m.saved_activation_bytes)
            rows.append((label, seed, result, trained, peak))
            print(f"  {label} seed {seed}: {result.timings['search_seconds']:.1f}s, test {trained.test_accuracy:.3f}",
                  flush=True)
    print_table(rows)
    print(f"Total bench time {time.perf_counter() - started:.0f}s")


def print_table(rows) -> None:
    darts = {seed: peak for label, seed, _, _, peak in rows if label == "DARTS-V1"}
    print(f"\n{'method':14s} {'seed':>4s} {'search s':>8s} {'act MiB':>8s} {'x DARTS':>7s} {'param KiB':>9s} "
          f"{'skips':>5s} {'val':>6s} {'test':>6s}  cell")
    for label, seed, result, trained, peak in rows:
        ratio = peak.saved_activation_bytes / darts[seed].saved_activation_bytes
        print(f"{label:14s} {seed:4d} {result.timings['search_seconds']:8.1f} "
              f"{peak.saved_activation_bytes / 2**20:8.2f} {ratio:7.2f} {peak.parameter_bytes / 2**10:9.1f} "
              f"{skip_count(result.arch):5d} {trained.val_accuracy:6.3f} {trained.test_accuracy:6.3f}  "
              f"{result.description}")
    print(f"act MiB: autograd-saved activations of one supernet training step (batch {MEMORY_BATCH}, full mixture); "
          "P-DARTS: its largest stage. val/test: the derived cell trained stand-alone from scratch.")


if __name__ == "__main__":
    main()
