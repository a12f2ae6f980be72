"""One-shot NAS on digits with the NAS-Bench-201 cell space (small C, N=1, CPU).

In one run:
  1. the one-shot searches - random one-shot, ENAS, DARTS-V1 (first order) without a collapse
     mitigation, with DARTS+ early stopping and with DARTS-'s auxiliary skip;
  2. the stand-alone accuracy of each derived cell, every cell trained from scratch with the
     project's trainer and the same budget (TrainConfig below);
  3. Kendall's tau between the supernet-inherited validation accuracy and the stand-alone accuracy
     of the architectures random one-shot evaluated to derive its cell (uniform samples);
  4. random search given the same CPU time as a one-shot search (the mean over the searches
     above): uniform cells trained stand-alone with the same budget, best by validation accuracy.
     Its cells are the uniform samples of step 3, in the order they were drawn (more are drawn
     when the time allows), so no cell is trained twice;
  5. the supernet's search time against training the same number of cells stand-alone.

Everything runs on one CPU thread, so the times compare. Run from the repository root:

    .venv/bin/python bench/oneshot_digits.py            # about 6-10 minutes on a busy 2-core machine
    .venv/bin/python bench/oneshot_digits.py --quick    # about 1-2 minutes, a smoke run
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from searches.oneshot import run_oneshot  # noqa: E402
from searches.oneshot.darts import skip_count  # noqa: E402
from searches.oneshot.ranking import kendall_tau, standalone_results  # noqa: E402
from searches.spaces.nb201 import NB201Space  # noqa: E402
from searches.training.datasets import load_builtin  # noqa: E402
from searches.training.trainer import TrainConfig  # noqa: E402


@dataclass(frozen=True)
class Budget:
    standalone_epochs: int
    single_path_epochs: int  # random one-shot and ENAS: cheap epochs (one path per batch)
    darts_epochs: int  # DARTS runs every op on every batch, about 5x a single-path epoch
    controller_steps: int
    ranking_archs: int


BUDGETS = {
    "default": Budget(standalone_epochs=4, single_path_epochs=30, darts_epochs=20, controller_steps=10,
                      ranking_archs=20),
    "quick": Budget(standalone_epochs=2, single_path_epochs=6, darts_epochs=4, controller_steps=5,
                    ranking_archs=6),
}


def search_plans(budget: Budget) -> list[tuple[str, str, dict]]:
    darts = {"epochs": budget.darts_epochs, "order": 1}  # arch_lr: the strategy's default, 0.015
    return [
        ("random one-shot", "random_oneshot", {"epochs": budget.single_path_epochs,
                                               "derive_samples": budget.ranking_archs}),
        ("ENAS", "enas", {"epochs": budget.single_path_epochs, "controller_steps": budget.controller_steps,
                          "derive_samples": 10}),
        ("DARTS-V1, no mitigation", "darts", darts),
        ("DARTS-V1 + DARTS+ stop at 2 skips", "darts", {**darts, "early_stop_skips": 2}),
        ("DARTS-V1 + DARTS- auxiliary skip", "darts", {**darts, "auxiliary_skip": True}),
    ]


def progress(label: str):
    def on_epoch(epoch: int, info: dict) -> bool:
        derived = info.get("derived_description", "")
        skips = f" skips={info['skip_count']}" if "skip_count" in info else ""
        print(f"    [{label}] epoch {epoch:2d} {info['seconds']:5.1f}s train_acc={info['train_accuracy']:.3f}"
              f"{skips} {derived}", flush=True)
        return True

    return on_epoch


class StandaloneCache:
    """Stand-alone training results by architecture: a cell met twice is trained once (same seed)."""

    def __init__(self, space, data, config: TrainConfig):
        self.space, self.data, self.config = space, data, config
        self.results: dict[str, object] = {}

    def train(self, archs: list[dict]) -> list:
        missing = [a for a in archs if self.space.key(a) not in self.results]
        for arch, result in zip(missing, standalone_results(self.space, missing, self.data, self.config),
                                strict=True):
            self.results[self.space.key(arch)] = result
        return [self.results[self.space.key(a)] for a in archs]


def random_search_within(seconds: float, first_archs: list[dict], standalone: StandaloneCache, space,
                         rng: random.Random) -> tuple[dict, object, int, float]:
    """Train uniform cells in order until `seconds` of training are spent; the best by validation."""
    spent, trained, best = 0.0, 0, None
    queue = list(first_archs)
    while spent < seconds:
        arch = queue.pop(0) if queue else space.sample(rng)
        result = standalone.train([arch])[0]
        spent += result.train_seconds
        trained += 1
        if best is None or result.val_accuracy > best[1].val_accuracy:
            best = (arch, result)
    return best[0], best[1], trained, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 1-2 minute smoke run")
    parser.add_argument("--channels", type=int, default=8, help="C of the NB201 network (default 8)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    budget = BUDGETS["quick" if args.quick else "default"]
    torch.set_num_threads(1)
    started = time.perf_counter()

    data = load_builtin("digits", args.seed)
    space = NB201Space({"C": args.channels, "N": 1})
    config = TrainConfig(epochs=budget.standalone_epochs, seed=args.seed)
    standalone = StandaloneCache(space, data, config)
    print(f"digits: {len(data.x_train)} train / {len(data.x_val)} val / {len(data.x_test)} test; "
          f"NB201 C={args.channels} N=1; stand-alone budget {budget.standalone_epochs} epochs; 1 thread")

    results = {}
    for label, name, settings in search_plans(budget):
        print(f"  searching: {label} {settings}", flush=True)
        results[label] = run_oneshot(name, space, data, settings, args.seed, progress(label))

    print("  training the derived cells stand-alone", flush=True)
    derived = {label: standalone.train([r.arch])[0] for label, r in results.items()}

    ranking = results["random one-shot"]
    archs = [c["arch"] for c in ranking.candidates]
    inherited = [c["val_accuracy"] for c in ranking.candidates]
    print(f"  training the {len(archs)} ranking cells stand-alone", flush=True)
    trained = standalone.train(archs)
    tau_val, p_val = kendall_tau(inherited, [r.val_accuracy for r in trained])
    tau_test, p_test = kendall_tau(inherited, [r.test_accuracy for r in trained])

    one_shot_seconds = sum(r.timings["total_seconds"] for r in results.values()) / len(results)
    print(f"  random search with {one_shot_seconds:.0f}s of training", flush=True)
    rs_arch, rs_result, rs_cells, rs_seconds = random_search_within(
        one_shot_seconds, archs, standalone, space, random.Random(args.seed + 1))

    print_table(space, results, derived, rs_arch, rs_result, rs_cells, rs_seconds)
    print_darts_trajectories(results)
    print(f"\nKendall tau, supernet-inherited val accuracy vs stand-alone accuracy, {len(archs)} uniform cells "
          f"(random one-shot supernet): tau = {tau_val:+.3f} vs val (p = {p_val:.2f}), "
          f"{tau_test:+.3f} vs test (p = {p_test:.2f})")
    print(f"  inherited val accuracy range {min(inherited):.3f}-{max(inherited):.3f}; "
          f"stand-alone test range {min(r.test_accuracy for r in trained):.3f}-"
          f"{max(r.test_accuracy for r in trained):.3f}")
    supernet_seconds = ranking.timings["total_seconds"]
    standalone_seconds = sum(r.train_seconds for r in trained)
    print(f"Search time for {len(archs)} cells: supernet {supernet_seconds:.1f}s (training "
          f"{ranking.timings['search_seconds']:.1f}s + inherited evaluation {ranking.timings['derive_seconds']:.1f}s) "
          f"vs stand-alone {standalone_seconds:.1f}s ({standalone_seconds / supernet_seconds:.1f}x)")
    print(f"Total bench time {time.perf_counter() - started:.0f}s")


def print_table(space, results, derived, rs_arch, rs_result, rs_cells, rs_seconds) -> None:
    print(f"\n{'method':36s} {'search s':>8s} {'epochs':>6s} {'skips':>5s} {'val':>6s} {'test':>6s}  cell")
    for label, result in results.items():
        trained = derived[label]
        stopped = "*" if result.stopped == "early_stopped" else ""
        print(f"{label:36s} {result.timings['total_seconds']:8.1f} {result.epochs_run:5d}{stopped:1s} "
              f"{skip_count(result.arch):5d} {trained.val_accuracy:6.3f} {trained.test_accuracy:6.3f}  "
              f"{result.description}")
    label = f"random search ({rs_cells} cells)"
    print(f"{label:36s} {rs_seconds:8.1f} {'':>6s} {skip_count(rs_arch):5d} {rs_result.val_accuracy:6.3f} "
          f"{rs_result.test_accuracy:6.3f}  {space.describe(rs_arch)}")
    print("val/test: stand-alone accuracy, every cell trained with the same budget and seed; "
          "* stopped early by the DARTS+ criterion")


def print_darts_trajectories(results) -> None:
    print("\nDARTS: skip connections in the derived cell after each epoch")
    for label, result in results.items():
        if result.strategy == "darts":
            print(f"  {label:36s} {' '.join(str(info['skip_count']) for info in result.history)}")


if __name__ == "__main__":
    main()
