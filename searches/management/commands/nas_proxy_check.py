"""Spearman's rho of zero-cost proxies with NAS-Bench-201 test accuracy on sampled cells."""

from django.core.management.base import BaseCommand, CommandError

from searches.benchmarks.nb201 import BenchmarkTableError, Nb201Table
from searches.checks import SpecError
from searches.estimators.proxy_batch import INPUTS, LABELS, ProxyBatchError, proxy_batch
from searches.estimators.proxy_benchmark import (
    CIFAR_CLASSES,
    CIFAR_INPUT,
    PUBLISHED_RHO,
    proxy_correlations,
    sample_cells,
)
from searches.estimators.zero_cost import PROXIES, ProxyError
from searches.spaces.nb201 import NB201Space

INPUT_WORDS = {
    "images": "32x32 crops of scikit-learn's sample photos (china.jpg, flower.jpg)",
    "noise": "standard normal noise",
    "digits": "scikit-learn's 8x8 digits upsampled to 32x32",
}
LABEL_WORDS = {"random": "random labels", "content": "labels from the image content"}


class Command(BaseCommand):
    help = ("Sample NAS-Bench-201 cells, score the untrained networks with zero-cost proxies on one "
            "minibatch, and print each proxy's Spearman rho with the table's CIFAR-10 test accuracy.")

    def add_arguments(self, parser):
        parser.add_argument("--proxy", default="all", help=f"one of {sorted(PROXIES)}, a comma list, or all")
        parser.add_argument("--samples", type=int, default=300, help="cells to sample (the table has 15,625)")
        parser.add_argument("--seed", type=int, default=0, help="seeds the sample, the weights and the minibatch")
        parser.add_argument("--batch", type=int, default=64, help="minibatch size (the papers: 64)")
        parser.add_argument("--inputs", default="images", choices=INPUTS, help="what the minibatch holds")
        parser.add_argument("--labels", default="content", choices=LABELS)
        parser.add_argument("--C", type=int, default=16, help="channels of the first stage (the papers: 16)")
        parser.add_argument("--N", type=int, default=5, help="cells per stage (the papers: 5)")
        parser.add_argument("--table", default=None, help="a NAS-Bench-201 CSV; the shipped table by default")
        parser.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 leaves torch's default")
        parser.add_argument("--workers", type=int, default=1,
                            help="processes scoring cells side by side, one torch thread each (same scores)")

    def handle(self, *args, **opts):
        import torch

        if opts["threads"]:
            torch.set_num_threads(opts["threads"])
        proxies = sorted(PROXIES) if opts["proxy"] == "all" else [p.strip() for p in opts["proxy"].split(",")]
        try:
            table = Nb201Table.load(opts["table"])
            space = NB201Space({"C": opts["C"], "N": opts["N"]})
            if opts["workers"] < 1:
                raise ValueError(f"workers must be at least 1, got {opts['workers']}")
            rows = sample_cells(table, opts["samples"], opts["seed"])
            data = proxy_batch(opts["batch"], opts["seed"], opts["inputs"], opts["labels"])
            self.stdout.write(f"{len(rows)} NAS-Bench-201 cells (seed {opts['seed']}) of {len(table):,}; network "
                              f"C={opts['C']} N={opts['N']}, untrained; input: {INPUT_WORDS[opts['inputs']]} "
                              f"({opts['batch']}, {', '.join(map(str, CIFAR_INPUT))}), {CIFAR_CLASSES} classes, "
                              f"{LABEL_WORDS[opts['labels']]}, seed {opts['seed']}; target: CIFAR-10 test accuracy")
            check = proxy_correlations(rows, proxies, space, opts["batch"], opts["seed"], batch_data=data,
                                       workers=opts["workers"])
        except (BenchmarkTableError, SpecError, ProxyError, ProxyBatchError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{'proxy':<16}{'spearman_rho':>13}{'published':>11}")
        for r in check.correlations:
            published = f"{PUBLISHED_RHO[r.proxy]:.3f}" if r.proxy in PUBLISHED_RHO else "-"
            if r.not_applicable:
                self.stdout.write(f"{r.proxy:<16}{'n/a':>13}{published:>11}  ({r.not_applicable})")
            else:
                self.stdout.write(f"{r.proxy:<16}{r.rho:>13.3f}{published:>11}")
        import os

        self.stdout.write(f"{check.seconds:.1f} s for {len(rows)} cells x {len(proxies)} proxies "
                          f"({check.seconds / len(rows):.2f} s a cell, network builds {check.build_seconds:.1f} s; "
                          f"CPU {check.cpu_seconds:.1f} s, {check.cpu_seconds / len(rows):.2f} s a cell; "
                          f"{opts['workers']} worker(s), {torch.get_num_threads()} thread(s); "
                          f"load {os.getloadavg()[0]:.1f})")
