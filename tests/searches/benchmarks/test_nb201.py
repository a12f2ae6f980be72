import gzip

import pytest

from searches.benchmarks.nb201 import (
    DEFAULT_TABLE,
    BenchmarkEvaluator,
    BenchmarkTableError,
    Nb201Table,
    run_search,
    run_seeds,
)
from searches.spaces.nb201_cell import string_to_arch

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def table():
    return Nb201Table.load()


def test_shipped_table_loads_with_every_cell(table):
    assert DEFAULT_TABLE.name.endswith(".csv.gz")
    assert len(table) == 15625 and table.space().size() == 15625
    best = table.best("test_acc")
    assert best.index == 6111 and best.test_acc == pytest.approx(94.3733) and best.arch == BEST
    assert table.best("valid_acc").index == 6111
    assert table.by_index(6111) is best


def test_lookup_by_string_or_dict(table):
    assert table.lookup(BEST) is table.lookup(string_to_arch(BEST))
    with pytest.raises(BenchmarkTableError):
        table.lookup("|none~0|+|none~0|none~1|+|none~0|none~1|bogus~2|")


def test_evaluator_reports_fractions_like_the_trainer(table):
    metrics = BenchmarkEvaluator(table).evaluate(string_to_arch(BEST))
    assert metrics == {"val_accuracy": pytest.approx(0.916067), "test_accuracy": pytest.approx(0.943733),
                       "params": 1073466}


def test_run_search_reports_the_best_valid_cell_and_its_test_accuracy(table):
    result = run_search("random", 30, seed=0, table=table)
    assert result["queries"] == 30 and len(result["best_test_by_query"]) == 30
    best = table.lookup(result["best_arch"])
    assert result["best_valid_acc"] == best.valid_acc and result["best_test_acc"] == best.test_acc
    assert run_search("random", 30, seed=0, table=table) == result


def test_run_seeds_in_worker_processes_matches_one_process(table):
    assert run_seeds("evolution", 12, 2, table, workers=2) == run_seeds("evolution", 12, 2, table)


def test_table_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(BenchmarkTableError, match="no table file"):
        Nb201Table.load(tmp_path / "missing.csv")
    no_test = tmp_path / "no_test.csv"
    no_test.write_text(f"arch,valid_acc\n{BEST},91.0\n")
    with pytest.raises(BenchmarkTableError, match="test_acc"):
        Nb201Table.load(no_test)
    partial = tmp_path / "partial.csv.gz"
    with gzip.open(partial, "wt") as handle:
        handle.write(f"arch,valid_acc,test_acc\n{BEST},91.0,94.0\n")
    with pytest.raises(BenchmarkTableError, match="must list every cell"):
        Nb201Table.load(partial).space()
