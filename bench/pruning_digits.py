"""Structured pruning of a trained chain MLP on digits: accuracy against parameters and latency.

In one run:
  1. train the unpruned MLP (`--arch` widths, batch norm, ReLU) from scratch;
  2. for each budget (a share of the unpruned parameter count): a pruning search with regularised
     evolution (`--trials` candidates) and with the learned gates (one candidate), each candidate
     pruned from the trained model by L1 norm (gates: by gate value) and fine-tuned `--finetune`
     epochs; the best by validation accuracy is reported;
  3. the same widths trained from scratch with the unpruned model's full budget.

Latency: eager CPU, batch 1, one thread, median of interleaved rounds (devices/costs/measure.py).

    .venv/bin/python bench/pruning_digits.py            # a few minutes on a busy 2-core machine
    .venv/bin/python bench/pruning_digits.py --quick
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from devices.costs.measure import measure_latencies  # noqa: E402
from searches.spaces.chain_mlp import ChainMLPSpace  # noqa: E402
from searches.structured_pruning import run_pruning_search  # noqa: E402
from searches.structured_pruning.search import cost_function  # noqa: E402
from searches.training.datasets import load_builtin  # noqa: E402
from searches.training.trainer import TrainConfig, train  # noqa: E402

WIDTHS = [16, 32, 48, 64, 96, 128, 192, 256]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--arch", default="256,256,128", help="trained widths, comma-separated")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of the unpruned model")
    parser.add_argument("--finetune", type=int, default=3, help="fine-tuning epochs of a pruned model")
    parser.add_argument("--trials", type=int, default=8, help="evolution candidates per budget")
    parser.add_argument("--budgets", default="0.5,0.25,0.1", help="shares of the unpruned parameters")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.finetune, args.trials, args.budgets = 4, 1, 3, "0.25"
    torch.set_num_threads(1)
    started = time.perf_counter()
    data = load_builtin("digits", args.seed)
    widths = [int(w) for w in args.arch.split(",")]
    space = ChainMLPSpace({"widths": WIDTHS, "max_depth": len(widths), "norms": ["batch"], "dropouts": [0.0],
                           "activations": ["relu"]})
    arch = {"depth": len(widths), **{f"width_{i}": w for i, w in enumerate(widths, start=1)},
            "activation": "relu", "dropout": 0.0, "norm": "batch"}
    params = cost_function(space, "params", data.input_shape, data.num_classes)
    torch.manual_seed(args.seed)
    model = space.to_torch(arch, data.input_shape, data.num_classes)
    full = train(model, data, TrainConfig(epochs=args.epochs, seed=args.seed))
    print(f"digits {len(data.x_train)}/{len(data.x_val)}/{len(data.x_test)}; unpruned {space.describe(arch)}: "
          f"{params(arch):.0f} params, val {full.val_accuracy:.3f} test {full.test_accuracy:.3f} "
          f"({args.epochs} epochs, {full.train_seconds:.0f}s)", flush=True)
    rows = [("unpruned", "", arch, full.val_accuracy, full.test_accuracy, None, model)]
    for share in [float(b) for b in args.budgets.split(",")]:
        budget = {"metric": "params", "max": share * params(arch)}
        finetune = TrainConfig(epochs=args.finetune, seed=args.seed, lr=1e-3)
        for method, settings in (("evolution", {"strategy": "evolution", "trials": args.trials}),
                                 ("gates", {"strategy": "gates"})):
            candidates = run_pruning_search(model, space, arch, data, budget, finetune=finetune, seed=args.seed,
                                            keep_models=True, **settings)
            best = max(candidates, key=lambda c: c.val_accuracy)
            print(f"  {share:.0%} {method}: {len(candidates)} candidates, best {best.description} "
                  f"val {best.val_accuracy:.3f} (as pruned {best.pruned_val_accuracy:.3f})", flush=True)
            rows.append((f"{share:.0%} {method}", "pruned + fine-tuned", best.arch, best.val_accuracy,
                         best.test_accuracy, best.pruned_val_accuracy, best.model))
            torch.manual_seed(args.seed)
            scratch_model = space.to_torch(best.arch, data.input_shape, data.num_classes)
            scratch = train(scratch_model, data, TrainConfig(epochs=args.epochs, seed=args.seed))
            rows.append((f"{share:.0%} {method}", f"from scratch, {args.epochs} ep", best.arch, scratch.val_accuracy,
                         scratch.test_accuracy, None, scratch_model))
    latencies = measure_latencies([row[-1] for row in rows], data.input_shape, runs=100, rounds=10)
    print(f"\n{'budget / method':18s} {'model':22s} {'params':>7s} {'lat us':>7s} {'pruned':>6s} {'val':>6s} "
          f"{'test':>6s}  widths")
    for (label, kind, a, val, test, pruned_val, _), latency in zip(rows, latencies, strict=True):
        shown = "" if pruned_val is None else f"{pruned_val:.3f}"
        print(f"{label:18s} {kind:22s} {params(a):7.0f} {latency.median_ms * 1000:7.1f} {shown:>6s} {val:6.3f} "
              f"{test:6.3f}  {space.describe(a)}")
    print(f"pruned: validation accuracy right after pruning, before fine-tuning ({args.finetune} epochs, lr 1e-3). "
          "lat us: eager CPU latency, batch 1, 1 thread, median.")
    print(f"Total bench time {time.perf_counter() - started:.0f}s; load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
