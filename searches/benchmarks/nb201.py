"""NAS-Bench-201 benchmark mode: answer trials by table lookup instead of training.

The shipped table (data/nb201_cifar10.csv.gz, provenance in data/README.md) holds
all 15,625 cells with their CIFAR-10 validation and test accuracies in percent.
The evaluator reports accuracies in [0, 1], the same scale as the trainer, so a
benchmark trial and a trained trial look alike to strategies and to the UI (which
shows percentages). Searches use val_accuracy only; test accuracy is reported for
the cell with the best validation accuracy, as in the paper's protocol.
"""

from __future__ import annotations

import csv
import gzip
import io
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..checks import SpecError
from ..spaces.nb201 import NB201Space
from ..spaces.nb201_cell import OPS, arch_to_string, string_to_arch
from ..strategies.base import COMPLETE, DEFAULT_OBJECTIVE, TrialRecord
from ..strategies.registry import build_strategy

DEFAULT_TABLE = Path(__file__).parent / "data" / "nb201_cifar10.csv.gz"
REQUIRED_COLUMNS = ("arch", "valid_acc", "test_acc")


class BenchmarkTableError(ValueError):
    """The table cannot be read or lacks what a benchmark needs; the message says why."""


@dataclass(frozen=True)
class Nb201Row:
    arch: str
    valid_acc: float  # percent
    test_acc: float  # percent
    index: int | None = None
    params_m: float | None = None


class Nb201Table:
    def __init__(self, rows: list[Nb201Row]):
        if not rows:
            raise BenchmarkTableError("the table has no rows")
        self.rows = rows
        self._by_arch = {row.arch: row for row in rows}
        self._by_index = {row.index: row for row in rows if row.index is not None}
        self._space: NB201Space | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Nb201Table":
        """Read a CSV (gzip when the name ends in .gz); the shipped table when path is None."""
        path = Path(path) if path is not None else DEFAULT_TABLE
        if not path.is_file():
            raise BenchmarkTableError(f"no table file at {path}")
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rt", newline="") as handle:
                return cls(_parse_rows(handle, path))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise BenchmarkTableError(f"cannot read {path}: {exc}") from exc

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, arch: dict | str) -> Nb201Row:
        """The row of an architecture, given as an arch dict or the official string."""
        text = arch if isinstance(arch, str) else arch_to_string(arch)
        try:
            return self._by_arch[text]
        except KeyError:
            raise BenchmarkTableError(f"architecture {text} is not in the table") from None

    def by_index(self, index: int) -> Nb201Row:
        try:
            return self._by_index[index]
        except KeyError:
            raise BenchmarkTableError(f"index {index} is not in the table") from None

    def best(self, column: str) -> Nb201Row:
        return max(self.rows, key=lambda row: getattr(row, column))

    def space(self) -> NB201Space:
        """The NB201 space over the ops this table uses; the table must hold every one of its cells,
        so that any architecture a strategy proposes can be answered."""
        if self._space is None:
            used = set()
            for row in self.rows:
                try:
                    used.update(string_to_arch(row.arch).values())
                except SpecError as exc:
                    raise BenchmarkTableError(f"row {row.arch!r}: {exc.message}") from exc
            space = NB201Space({"ops": [op for op in OPS if op in used]})
            if len(self._by_arch) != space.size():
                raise BenchmarkTableError(f"the table has {len(self._by_arch):,} distinct cells, but its ops "
                                          f"{space.spec['ops']} make {space.size():,}; it must list every cell")
            self._space = space
        return self._space


def _parse_rows(handle: io.TextIOBase, path: Path) -> list[Nb201Row]:
    reader = csv.DictReader(handle)
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise BenchmarkTableError(f"{path} lacks the column {missing[0]!r}; it needs {list(REQUIRED_COLUMNS)}")
    rows = []
    for line, record in enumerate(reader, start=2):
        try:
            rows.append(Nb201Row(
                arch=record["arch"].strip(),
                valid_acc=float(record["valid_acc"]),
                test_acc=float(record["test_acc"]),
                index=int(record["index"]) if record.get("index") else None,
                params_m=float(record["params_m"]) if record.get("params_m") else None,
            ))
        except (TypeError, ValueError) as exc:
            raise BenchmarkTableError(f"{path}, line {line}: {exc}") from exc
    return rows


class BenchmarkEvaluator:
    """Evaluates an architecture by looking it up: accuracies in [0, 1], params as a count."""

    def __init__(self, table: Nb201Table):
        self.table = table

    def evaluate(self, arch: dict | str) -> dict:
        row = self.table.lookup(arch)
        metrics = {"val_accuracy": row.valid_acc / 100.0, "test_accuracy": row.test_acc / 100.0}
        if row.params_m is not None:
            metrics["params"] = round(row.params_m * 1e6)
        return metrics


def run_search(strategy_name: str, queries: int, seed: int, table: Nb201Table,
               settings: dict | None = None) -> dict:
    """One search of `queries` lookups, asking for one architecture at a time.

    Returns the best-validation cell and its test accuracy (both in percent), and
    that test accuracy after every query (budget-agnostic strategies can be read
    at any smaller budget from it).
    """
    strategy = build_strategy(strategy_name, table.space(), settings, seed, DEFAULT_OBJECTIVE)
    evaluator = BenchmarkEvaluator(table)
    history: list[TrialRecord] = []
    best: Nb201Row | None = None
    best_test_by_query: list[float] = []
    for number in range(1, queries + 1):
        proposals = strategy.ask(history, 1)
        if not proposals:
            break  # the space is exhausted
        arch = proposals[0]
        history.append(TrialRecord(number, arch, COMPLETE, evaluator.evaluate(arch)))
        row = table.lookup(arch)
        if best is None or row.valid_acc > best.valid_acc:
            best = row
        best_test_by_query.append(best.test_acc)
    return {
        "strategy": strategy_name,
        "seed": seed,
        "queries": len(history),
        "best_arch": best.arch if best else None,
        "best_valid_acc": best.valid_acc if best else None,
        "best_test_acc": best.test_acc if best else None,
        "best_test_by_query": best_test_by_query,
    }


def run_seeds(strategy_name: str, queries: int, seeds: int, table: Nb201Table,
              settings: dict | None = None, workers: int = 1) -> list[dict]:
    """run_search for seeds 0..seeds-1, spread over `workers` processes."""
    table.space()  # check the table once, here, rather than in every worker
    if workers <= 1:
        return [run_search(strategy_name, queries, seed, table, settings) for seed in range(seeds)]
    with ProcessPoolExecutor(workers, initializer=_keep_table, initargs=(table,)) as pool:
        jobs = [pool.submit(_run_in_worker, strategy_name, queries, seed, settings) for seed in range(seeds)]
        return [job.result() for job in jobs]


_worker_table: Nb201Table | None = None


def _keep_table(table: Nb201Table) -> None:
    # The table travels to each worker once, not with every job.
    global _worker_table
    _worker_table = table


def _run_in_worker(strategy_name: str, queries: int, seed: int, settings: dict | None) -> dict:
    return run_search(strategy_name, queries, seed, _worker_table, settings)
