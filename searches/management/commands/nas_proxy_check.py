"""Spearman's rho of zero-cost proxies with NAS-Bench-201 test accuracy on sampled cells."""

from django.core.management.base import BaseCommand, CommandError

from searches.benchmarks.nb201 import BenchmarkTableError, Nb201Table
from searches.checks import SpecError
from searches.estimators.proxy_benchmark import CIFAR_CLASSES, CIFAR_INPUT, proxy_correlations, sample_cells
from searches.estimators.zero_cost import PROXIES, ProxyError
from searches.spaces.nb201 import NB201Space


class Command(BaseCommand):
    help = ("Sample NAS-Bench-201 cells, score the untrained networks with zero-cost proxies on a random "
            "CIFAR-shaped minibatch, and print each proxy's Spearman rho with the table's test accuracy.")

    def add_arguments(self, parser):
        parser.add_argument("--proxy", default="synflow", help=f"one of {sorted(PROXIES)}, or all")
        parser.add_argument("--samples", type=int, default=300, help="cells to sample (the table has 15,625)")
        parser.add_argument("--seed", type=int, default=0, help="seeds the sample, the weights and the minibatch")
        parser.add_argument("--batch", type=int, default=64)
        parser.add_argument("--C", type=int, default=16, help="channels of the first stage (the paper: 16)")
        parser.add_argument("--N", type=int, default=1, help="cells per stage (the paper: 5; 1 is ~5x faster)")
        parser.add_argument("--table", default=None, help="a NAS-Bench-201 CSV; the shipped table by default")
        parser.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 leaves torch's default")

    def handle(self, *args, **opts):
        import torch

        if opts["threads"]:
            torch.set_num_threads(opts["threads"])
        proxies = sorted(PROXIES) if opts["proxy"] == "all" else [opts["proxy"]]
        try:
            table = Nb201Table.load(opts["table"])
            space = NB201Space({"C": opts["C"], "N": opts["N"]})
            rows = sample_cells(table, opts["samples"], opts["seed"])
            self.stdout.write(f"{len(rows)} NAS-Bench-201 cells (seed {opts['seed']}) of {len(table):,}; network "
                              f"C={opts['C']} N={opts['N']}, untrained; input: random normal "
                              f"({opts['batch']}, {', '.join(map(str, CIFAR_INPUT))}), {CIFAR_CLASSES} random "
                              f"labels, seed {opts['seed']}; target: CIFAR-10 test accuracy")
            results = proxy_correlations(rows, proxies, space, opts["batch"], opts["seed"])
        except (BenchmarkTableError, SpecError, ProxyError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{'proxy':<16}{'spearman_rho':>13}{'seconds':>10}")
        for r in results:
            if r.not_applicable:
                self.stdout.write(f"{r.proxy:<16}{'n/a':>13}{'':>10}  ({r.not_applicable})")
            else:
                self.stdout.write(f"{r.proxy:<16}{r.rho:>13.3f}{r.seconds:>10.1f}")
