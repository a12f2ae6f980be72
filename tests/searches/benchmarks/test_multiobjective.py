import numpy as np
import pytest

from searches.benchmarks.multiobjective import (
    cost_of,
    hypervolume,
    hypervolume_regret,
    pareto_reference,
    run_multiobjective_search,
)
from searches.benchmarks.nb201 import Nb201Table


@pytest.fixture(scope="module")
def table():
    return Nb201Table.load()


def test_hypervolume_by_hand():
    # (accuracy, cost), reference (0, 2): (2, 0.5) covers cost 0.5-1 at height 2, (3, 1) cost 1-2 at 3
    points = np.array([[3.0, 1.0], [2.0, 0.5]])
    assert hypervolume(points, (0.0, 2.0)) == pytest.approx(0.5 * 2 + 1 * 3)
    dominated, outside = [1.0, 1.5], [5.0, 3.0]
    assert hypervolume(np.vstack([points, dominated, outside]), (0.0, 2.0)) == pytest.approx(4.0)
    assert hypervolume(np.array([outside]), (0.0, 2.0)) == 0.0


def test_the_whole_table_has_no_regret_and_one_cell_has_much(table):
    everything = np.array([(row.valid_acc, cost_of(row.arch, "raspi4", table)) for row in table.rows])
    assert hypervolume_regret(everything, table, "raspi4") == pytest.approx(0.0)
    best = table.best("valid_acc")
    one = np.array([(best.valid_acc, cost_of(best.arch, "raspi4", table))])
    assert 0.05 < hypervolume_regret(one, table, "raspi4") < 1
    reference = pareto_reference(table, "raspi4").reference
    assert reference == (min(everything[:, 0]), max(everything[:, 1]))


def test_a_search_returns_one_point_per_query_and_is_repeatable(table):
    points = run_multiobjective_search("nsga2", 25, 4, table, "params")
    assert points.shape == (25, 2)
    assert np.array_equal(points, run_multiobjective_search("nsga2", 25, 4, table, "params"))
    with pytest.raises(ValueError, match="unknown cost"):
        run_multiobjective_search("nsga2", 5, 0, table, "gpu")
