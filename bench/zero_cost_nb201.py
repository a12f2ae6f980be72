"""Zero-cost proxies on NAS-Bench-201 CIFAR-10: the published table side by side, and an ablation.

  headline   every proxy with the check's defaults (nas_proxy_check: C=16, N=5, one batch of 64
             32x32 crops of scikit-learn's sample photos, content labels), Spearman rho with the
             table's test accuracy over a random sample of cells, a 95% bootstrap interval, and the
             published figure (Abdelfattah et al. 2021, all 15,625 cells).
  speed      CPU seconds a cell: each proxy on its own (a forward, and a backward where needed, per
             proxy) against compute_proxies (one shared forward and backward), all proxies and
             without grasp (whose Hessian-gradient product is most of the cost).
  ablation   why snip and grad_norm come out where they do: the same cells scored under each
             setting of one factor at a time: cell depth N (1, 5), input (noise, photo crops,
             digits), labels (random, content / true digit labels), the loss (cross-entropy,
             MSE to one-hot), batch norm (train-mode batch statistics as the papers, eval mode,
             removed), and the per-parameter reduction (sum |g w|, sum g w, per-layer L2 norms
             summed, one global L2 norm, sum |g|), all read from the same gradients.

    .venv/bin/python bench/zero_cost_nb201.py headline --samples 300 --seed 0 --threads 1
    .venv/bin/python bench/zero_cost_nb201.py speed --samples 10 --seed 0 --threads 1
    .venv/bin/python bench/zero_cost_nb201.py ablation --samples 200 --seed 0 --threads 1
    .venv/bin/python bench/zero_cost_nb201.py ablation-fg --samples 60 --seed 0 --threads 1

  ablation-fg   the same for fisher and grasp (and snip, grad_norm from the same gradients): per
             row one forward, the loss gradients with create_graph and one Hessian-gradient
             product; the rows add the softmax temperature of Wang et al.'s GraSP code (T=200;
             Abdelfattah et al. use T=1) and the columns grasp's sign convention (-theta H g,
             the published score; +theta H g; sum |theta H g|) and fisher's reduction (per
             channel, as Theis et al. and Abdelfattah et al.; per element).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from searches.benchmarks.nb201 import Nb201Table  # noqa: E402
from searches.estimators.proxy_batch import proxy_batch  # noqa: E402
from searches.estimators.proxy_benchmark import (  # noqa: E402
    CIFAR_CLASSES,
    CIFAR_INPUT,
    PUBLISHED_RHO,
    keep_freed_memory,
    proxy_correlations,
    sample_cells,
    spearman,
)
from searches.estimators.zero_cost import (  # noqa: E402
    PROXIES,
    compute_proxies,
    compute_proxy,
    remove_batch_norm,
    weighted_layers,
)
from searches.spaces.nb201 import NB201Space  # noqa: E402
from searches.spaces.nb201_cell import string_to_arch  # noqa: E402

REDUCTIONS = {
    "snip: sum |g w| (paper)": lambda pairs: sum(float((w * g).abs().sum()) for w, g in pairs),
    "snip: sum g w (signed)": lambda pairs: sum(float((w * g).sum()) for w, g in pairs),
    "grad_norm: sum of layer L2 (paper)": lambda pairs: sum(float(g.norm()) for _, g in pairs),
    "grad_norm: global L2": lambda pairs: float(torch.sqrt(sum((g**2).sum() for _, g in pairs))),
    "grad_norm: sum |g| (L1)": lambda pairs: sum(float(g.abs().sum()) for _, g in pairs),
}


def bootstrap_interval(scores, accuracies, draws: int = 1000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    scores, accuracies = np.asarray(scores), np.asarray(accuracies)
    values = []
    for _ in range(draws):
        pick = rng.integers(0, len(scores), len(scores))
        values.append(spearman(list(scores[pick]), list(accuracies[pick])))
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def headline(args) -> None:
    table = Nb201Table.load()
    rows = sample_cells(table, args.samples, args.seed)
    names = [name for name in PROXIES if name != "decoder_params"]
    check = proxy_correlations(rows, names, NB201Space({"C": 16, "N": 5}), 64, args.seed)
    accuracies = [row.test_acc for row in rows]
    print(f"{len(rows)} cells (seed {args.seed}), C=16 N=5, batch: 64 photo crops, content labels; "
          f"{check.seconds:.0f} s ({check.seconds / len(rows):.2f} s a cell, {torch.get_num_threads()} thread(s))")
    print(f"{'proxy':<12}{'rho':>8}{'95% CI':>18}{'published':>11}{'|diff|':>8}")
    for r in check.correlations:
        low, high = bootstrap_interval(r.scores, accuracies)
        published = PUBLISHED_RHO.get(r.proxy)
        diff = f"{abs(r.rho - published):.3f}" if published is not None else "-"
        print(f"{r.proxy:<12}{r.rho:>8.3f}{f'[{low:.3f}, {high:.3f}]':>18}"
              f"{(f'{published:.3f}' if published is not None else '-'):>11}{diff:>8}")


def speed(args) -> None:
    """CPU seconds a cell (time.process_time: what other processes on the machine do not inflate)
    of each proxy alone, of every proxy through compute_proxies (one shared forward and backward),
    and of the parts of that shared pass; the labels are those of nas_proxy_check --labels random."""
    rows = sample_cells(Nb201Table.load(), args.samples, args.seed)
    names = [name for name in PROXIES if name != "decoder_params"]
    space = NB201Space({"C": 16, "N": 5})
    x, y = proxy_batch(64, args.seed, labels="random")
    keep_freed_memory()
    alone = dict.fromkeys(names, 0.0)
    parts = {"shared, all proxies": names,
             "shared without grasp": [n for n in names if n != "grasp"],
             "shared: snip, grad_norm, fisher": ["snip", "grad_norm", "fisher"]}
    shared = dict.fromkeys(parts, 0.0)
    build = 0.0
    compute_proxies(names, space.to_torch(string_to_arch(rows[0].arch), CIFAR_INPUT, CIFAR_CLASSES), x, y)  # warm-up
    for row in rows:
        started = time.process_time()
        torch.manual_seed(args.seed)
        model = space.to_torch(string_to_arch(row.arch), CIFAR_INPUT, CIFAR_CLASSES)
        build += time.process_time() - started
        one_by_one = {}
        for name in names:
            started = time.process_time()
            one_by_one[name] = compute_proxy(name, model, x, y, seed=args.seed)
            alone[name] += time.process_time() - started
        for label, subset in parts.items():
            started = time.process_time()
            together = compute_proxies(subset, model, x, y, seed=args.seed)
            shared[label] += time.process_time() - started
            assert together == {name: one_by_one[name] for name in subset}, row.arch
    cells = len(rows)
    print(f"{cells} cells (seed {args.seed}), C=16 N=5, batch 64 photo crops, random labels, "
          f"{torch.get_num_threads()} thread(s); CPU seconds a cell; load {os.getloadavg()[0]:.1f}")
    print(f"{'network build':<34}{build / cells:>7.3f}")
    for name in names:
        print(f"{name + ' alone':<34}{alone[name] / cells:>7.3f}")
    print(f"{'sum of the proxies alone':<34}{sum(alone.values()) / cells:>7.3f}")
    for label in parts:
        print(f"{label:<34}{shared[label] / cells:>7.3f}")
    print("same scores shared and alone: yes")


def setting_scores(model, x, y, loss: str, bn: str) -> dict[str, float]:
    """Every reduction of the loss gradients of one model under one loss and batch-norm mode."""
    model = copy.deepcopy(model)
    if bn == "removed":
        model = remove_batch_norm(model)
    model.train(bn != "eval")
    weights = [w for _, w in weighted_layers(model)]
    output = model(x)
    if loss == "cross-entropy":
        value = F.cross_entropy(output, y)
    else:
        value = F.mse_loss(output, F.one_hot(y, CIFAR_CLASSES).float())
    grads = torch.autograd.grad(value, weights, allow_unused=True)
    pairs = [(w.detach(), g) for w, g in zip(weights, grads, strict=True) if g is not None]
    return {name: reduce(pairs) for name, reduce in REDUCTIONS.items()}


BASE = {"N": 5, "inputs": "images", "labels": "content", "loss": "cross-entropy", "bn": "train"}
SETTINGS = [
    ("defaults (N=5, photo crops, content labels, CE, BN train)", {}),
    ("N=1", {"N": 1}),
    ("noise input, random labels", {"inputs": "noise", "labels": "random"}),
    ("N=1, noise input, random labels (the old check)", {"N": 1, "inputs": "noise", "labels": "random"}),
    ("photo crops, random labels", {"labels": "random"}),
    ("digits, true labels", {"inputs": "digits"}),
    ("digits, random labels", {"inputs": "digits", "labels": "random"}),
    ("MSE loss", {"loss": "mse"}),
    ("BN eval mode", {"bn": "eval"}),
    ("BN removed", {"bn": "removed"}),
]


def ablation(args) -> None:
    table = Nb201Table.load()
    rows = sample_cells(table, args.samples, args.seed)
    accuracies = [row.test_acc for row in rows]
    print(f"{len(rows)} cells (seed {args.seed}), C=16, batch 64; Spearman rho with CIFAR-10 test accuracy "
          f"(published: snip {PUBLISHED_RHO['snip']}, grad_norm {PUBLISHED_RHO['grad_norm']})")
    print(f"{'setting':<58}" + "".join(f"{name.split(': ')[1][:14]:>16}" for name in REDUCTIONS))
    print(f"{'':<58}" + "".join(f"{name.split(': ')[0]:>16}" for name in REDUCTIONS))
    chosen = args.settings if args.settings else range(len(SETTINGS))
    for label, change in (SETTINGS[i] for i in chosen):
        setting = {**BASE, **change}
        started = time.perf_counter()
        x, y = proxy_batch(64, args.seed, setting["inputs"], setting["labels"])
        space = NB201Space({"C": 16, "N": setting["N"]})
        columns: dict[str, list[float]] = {name: [] for name in REDUCTIONS}
        for row in rows:
            torch.manual_seed(args.seed)
            model = space.to_torch(string_to_arch(row.arch), CIFAR_INPUT, CIFAR_CLASSES)
            torch.manual_seed(args.seed)
            for name, value in setting_scores(model, x, y, setting["loss"], setting["bn"]).items():
                columns[name].append(value)
        cells = "".join(f"{spearman(columns[name], accuracies):>16.3f}" for name in REDUCTIONS)
        print(f"{label:<58}{cells}   ({time.perf_counter() - started:.0f} s)", flush=True)


FG_SETTINGS = [
    ("defaults (N=5, photo crops, content labels, CE, BN train, T=1)", {}),
    ("T=200 (Wang et al.'s GraSP code)", {"temperature": 200.0}),
    ("photo crops, random labels", {"labels": "random"}),
    ("BN eval mode", {"bn": "eval"}),
    ("MSE loss", {"loss": "mse"}),
    ("N=1", {"N": 1}),
    ("noise input, random labels", {"inputs": "noise", "labels": "random"}),
    ("digits, true labels", {"inputs": "digits"}),
]
FG_COLUMNS = ("snip", "grad_norm", "fisher/channel", "fisher/element", "grasp -tHg", "grasp +tHg", "grasp |tHg|")


def fisher_grasp_scores(model, x, y, loss: str, bn: str, temperature: float) -> dict[str, float]:
    """snip, grad_norm, two fisher reductions and three grasp sign conventions from one forward."""
    from torch import nn

    model = copy.deepcopy(model)
    if bn == "removed":
        model = remove_batch_norm(model)
    model.train(bn != "eval")
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    outputs: dict[int, torch.Tensor] = {}
    handles = [m.register_forward_hook(lambda m, i, o: outputs.__setitem__(id(m), o)) for m in layers]
    logits = model(x) / temperature
    for handle in handles:
        handle.remove()
    value = (F.cross_entropy(logits, y) if loss == "cross-entropy"
             else F.mse_loss(logits, F.one_hot(y, CIFAR_CLASSES).float()))
    weights = [m.weight for m in layers]
    acts = [outputs[id(m)] for m in layers]
    grads = torch.autograd.grad(value, weights + acts, allow_unused=True, create_graph=True)
    w_grads, a_grads = grads[:len(weights)], grads[len(weights):]
    pairs = [(w, g) for w, g in zip(weights, w_grads, strict=True) if g is not None]
    scores = {"snip": sum(float((w.detach() * g.detach()).abs().sum()) for w, g in pairs),
              "grad_norm": sum(float(g.detach().norm()) for _, g in pairs)}
    channel = element = 0.0
    for a, g in zip(acts, a_grads, strict=True):
        if g is None:
            continue
        product = (a.detach() * g.detach())
        per_channel = product.sum(tuple(range(2, product.dim()))) if product.dim() > 2 else product
        channel += float(0.5 * per_channel.pow(2).mean(0).sum())
        element += float(0.5 * product.pow(2).mean(0).sum())
    scores["fisher/channel"], scores["fisher/element"] = channel, element
    z = sum((g.detach() * g).sum() for _, g in pairs)
    hg = torch.autograd.grad(z, [w for w, _ in pairs], allow_unused=True) if z.requires_grad else [None] * len(pairs)
    products = [w.detach() * h for (w, _), h in zip(pairs, hg, strict=True) if h is not None]
    scores["grasp -tHg"] = -sum(float(p.sum()) for p in products)
    scores["grasp +tHg"] = -scores["grasp -tHg"]
    scores["grasp |tHg|"] = sum(float(p.abs().sum()) for p in products)
    return scores


def ablation_fisher_grasp(args) -> None:
    rows = sample_cells(Nb201Table.load(), args.samples, args.seed)
    accuracies = [row.test_acc for row in rows]
    print(f"{len(rows)} cells (seed {args.seed}), C=16, batch 64, {torch.get_num_threads()} thread(s); Spearman rho "
          f"with CIFAR-10 test accuracy (published: fisher {PUBLISHED_RHO['fisher']}, grasp {PUBLISHED_RHO['grasp']}, "
          f"snip {PUBLISHED_RHO['snip']}, grad_norm {PUBLISHED_RHO['grad_norm']}); load {os.getloadavg()[0]:.1f}")
    print(f"{'setting':<64}" + "".join(f"{name:>15}" for name in FG_COLUMNS))
    chosen = args.settings if args.settings else range(len(FG_SETTINGS))
    base = {**BASE, "temperature": 1.0}
    for label, change in (FG_SETTINGS[i] for i in chosen):
        setting = {**base, **change}
        started = time.perf_counter()
        x, y = proxy_batch(64, args.seed, setting["inputs"], setting["labels"])
        space = NB201Space({"C": 16, "N": setting["N"]})
        columns: dict[str, list[float]] = {name: [] for name in FG_COLUMNS}
        for row in rows:
            torch.manual_seed(args.seed)
            model = space.to_torch(string_to_arch(row.arch), CIFAR_INPUT, CIFAR_CLASSES)
            torch.manual_seed(args.seed)
            scores = fisher_grasp_scores(model, x, y, setting["loss"], setting["bn"], setting["temperature"])
            for name in FG_COLUMNS:
                columns[name].append(scores[name])
        cells = "".join(f"{spearman(columns[name], accuracies):>15.3f}" for name in FG_COLUMNS)
        print(f"{label:<64}{cells}   ({time.perf_counter() - started:.0f} s, load {os.getloadavg()[0]:.1f})",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("headline", "speed", "ablation", "ablation-fg"))
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--settings", type=int, nargs="*", help="ablation: run only these rows (0-based)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    {"headline": headline, "speed": speed, "ablation": ablation,
     "ablation-fg": ablation_fisher_grasp}[args.part](args)


if __name__ == "__main__":
    main()
