import pytest

from searches.benchmarks.nb201 import Nb201Row, Nb201Table
from searches.benchmarks.registry import BENCHMARKS, Benchmark, benchmark_evaluator, get_benchmark
from searches.checks import SpecError
from searches.spaces.registry import SPACES

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
OTHER = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture
def fresh_cache():
    benchmark_evaluator.cache_clear()
    yield
    benchmark_evaluator.cache_clear()


def test_the_shipped_benchmark_says_what_it_needs():
    bench = BENCHMARKS["nb201_cifar10"]
    assert (bench.key, bench.label, bench.space_kind, bench.input_shape, bench.num_classes) == (
        "nb201_cifar10", "NAS-Bench-201 CIFAR-10 (table lookup, no training)", "nb201", (3, 32, 32), 10)
    assert all(key == b.key and b.space_kind in SPACES for key, b in BENCHMARKS.items())
    with pytest.raises(AttributeError):
        bench.key = "other"  # frozen


def test_the_evaluator_answers_from_the_benchmarks_table_once_per_process(fresh_cache):
    evaluator = benchmark_evaluator("nb201_cifar10")
    assert evaluator.evaluate(BEST)["test_accuracy"] == pytest.approx(0.943733)
    assert benchmark_evaluator("nb201_cifar10") is evaluator


def test_the_evaluator_is_the_one_of_its_key(monkeypatch, fresh_cache):
    tiny = Nb201Table([Nb201Row(OTHER, valid_acc=50.0, test_acc=40.0)])
    loads = []
    monkeypatch.setitem(BENCHMARKS, "tiny", Benchmark("tiny", "Tiny", "nb201", (3, 8, 8), 2,
                                                      lambda: loads.append(1) or tiny))
    assert benchmark_evaluator("tiny").evaluate(OTHER) == {"val_accuracy": 0.5, "test_accuracy": 0.4}
    benchmark_evaluator("tiny")
    assert loads == [1]
    assert benchmark_evaluator("tiny") is not benchmark_evaluator("nb201_cifar10")


def test_an_unknown_benchmark_is_named(fresh_cache):
    for ask in (get_benchmark, benchmark_evaluator):
        with pytest.raises(SpecError) as err:
            ask("nb201_imagenet")
        assert err.value.field == "benchmark"
        assert err.value.message == "unknown benchmark 'nb201_imagenet'; choose one of ['nb201_cifar10']"
