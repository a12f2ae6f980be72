"""Zero-cost proxies on the transformer and hybrid spaces against briefly trained accuracy.

For each task (searches/estimators/space_proxy_study.py): a seeded sample of architectures of the
space's default spec, each built once with the seed, scored untrained by every proxy on one
minibatch of 64 training samples (true labels), then trained for --epochs with the project's
trainer (AdamW, cosine schedule, batch 64); printed: Spearman rho and Kendall tau of each proxy
with the best-epoch validation accuracy (params, flops and decoder_params are size baselines),
the spread of the trained accuracies (a flat spread makes the correlations meaningless), the wall
time and the machine load.

  hybrid-digits        hybrid conv + attention on scikit-learn's 8x8 digits (1, 8, 8)
  transformer-digits   the transformer on the same digits as a sequence of 4x4 patch tokens
  transformer-parity   the transformer on parity of 15 bits (a sequence of bit tokens)

    .venv/bin/python bench/zero_cost_spaces.py --archs 50 --epochs 4 --seed 0 --workers 2
    .venv/bin/python bench/zero_cost_spaces.py --tasks transformer-parity --archs 12 --epochs 15 --workers 2
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from searches.estimators.space_proxy_study import (  # noqa: E402
    SIZE_BASELINES,
    STUDY_TASKS,
    SpaceStudy,
    StudyError,
    study_space,
)


def number(value: float | None) -> str:
    return "nan" if value is None or math.isnan(value) else f"{value:.3f}"


def report(study: SpaceStudy) -> None:
    s = study.spread
    proxy_s = sum(o.proxy_seconds for o in study.outcomes)
    train_s = sum(o.train_seconds for o in study.outcomes)
    print(f"\n== {study.task}: {len(study.outcomes)} architectures (seed {study.seed}), {study.epochs} epoch(s), "
          f"data fraction {study.data_fraction:g}; {study.seconds:.1f} s wall over {study.workers} worker(s) "
          f"(proxies {proxy_s:.1f} s, training {train_s:.1f} s, summed over architectures); "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"trained val accuracy: min {s.low:.3f}, median {s.median:.3f}, max {s.high:.3f}, "
          f"stdev {s.stdev:.3f}, {s.distinct} distinct values; "
          f"most common class {s.chance:.3f} (+- {s.chance_margin:.3f})")
    for note in study.notes:
        print(f"NOTE: {note}")
    print(f"{'proxy':<22}{'spearman_rho':>13}{'kendall_tau':>13}")
    for f in study.figures:
        label = f"{f.proxy} (size)" if f.proxy in SIZE_BASELINES else f.proxy
        if f.not_applicable:
            print(f"{label:<22}{'n/a':>13}{'n/a':>13}  ({f.not_applicable})")
        else:
            print(f"{label:<22}{number(f.rho):>13}{number(f.tau):>13}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=list(STUDY_TASKS), choices=list(STUDY_TASKS))
    parser.add_argument("--archs", type=int, default=50, help="architectures sampled per task")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="seeds the sample, the weights, the batch and training")
    parser.add_argument("--data-fraction", type=float, default=1.0, help="of the training split")
    parser.add_argument("--workers", type=int, default=1, help="processes of one torch thread each")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    print(f"zero-cost proxies vs briefly trained accuracy; {args.workers} worker(s) of 1 thread; "
          f"load at start {os.getloadavg()[0]:.1f}")
    for task in args.tasks:
        try:
            study = study_space(task, args.archs, args.epochs, args.seed, data_fraction=args.data_fraction,
                                workers=args.workers)
        except (StudyError, ValueError) as exc:
            sys.exit(f"{task}: {exc}")
        report(study)
        sys.stdout.flush()
    print(f"\ntotal {time.perf_counter() - started:.1f} s; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
