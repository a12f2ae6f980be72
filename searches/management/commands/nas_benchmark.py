"""Compare search strategies on a NAS-Bench-201 style table, by lookup instead of training."""

import os
import statistics
import time

from django.core.management.base import BaseCommand, CommandError

from searches.benchmarks.nb201 import BenchmarkTableError, Nb201Table, run_seeds
from searches.checks import SpecError
from searches.strategies.registry import STRATEGIES


class Command(BaseCommand):
    help = ("Run each strategy for --seeds searches of --queries table lookups, searching on valid_acc, and "
            "print the mean and sd of the test_acc of the best-validation cell.")

    def add_arguments(self, parser):
        parser.add_argument("--table", default=None,
                            help="CSV or .csv.gz with columns arch, valid_acc, test_acc (percent); "
                                 "default: the shipped NAS-Bench-201 CIFAR-10 table")
        parser.add_argument("--strategy", default="all", help=f"one of {sorted(STRATEGIES)}, or 'all'")
        parser.add_argument("--queries", type=int, default=100, help="architectures evaluated per search")
        parser.add_argument("--seeds", type=int, default=30, help="searches per strategy, seeds 0..N-1")
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes to spread seeds on")

    def handle(self, *args, **opts):
        for name in ("queries", "seeds", "workers"):
            if opts[name] < 1:
                raise CommandError(f"--{name} must be at least 1")
        names = self.strategy_names(opts["strategy"])
        try:
            table = Nb201Table.load(opts["table"])
            table.space()
        except BenchmarkTableError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"{len(table):,} cells; {opts['seeds']} seeds x {opts['queries']} queries per strategy")
        for name in names:
            self.stdout.write(self.benchmark_line(name, table, opts))

    def strategy_names(self, choice: str) -> list[str]:
        if choice == "all":
            return list(STRATEGIES)
        if choice not in STRATEGIES:
            raise CommandError(f"unknown strategy {choice!r}; choose one of {sorted(STRATEGIES)} or 'all'")
        return [choice]

    def benchmark_line(self, name: str, table: Nb201Table, opts: dict) -> str:
        started = time.perf_counter()
        workers = min(opts["workers"], opts["seeds"])
        try:
            results = run_seeds(name, opts["queries"], opts["seeds"], table, workers=workers)
        except SpecError as exc:  # e.g. grid search on a table too large to enumerate
            return f"{name:<13} skipped: {exc}"
        seconds = time.perf_counter() - started
        tests = [r["best_test_acc"] for r in results]
        sd = statistics.stdev(tests) if len(tests) > 1 else 0.0
        return (f"{name:<13} test acc of best-valid cell: mean {statistics.fmean(tests):.2f} sd {sd:.2f} "
                f"({seconds:.1f} s)")
