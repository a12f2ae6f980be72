import numpy as np
import pytest

from searches.checks import SpecError
from searches.engine_setup import strategy_settings_for
from searches.spaces.chain_mlp import ChainMLPSpace
from searches.strategies.base import COMPLETE, TrialRecord
from searches.strategies.motpe import MultiObjectiveTPE, hypervolume_contributions, pareto_order
from searches.strategies.registry import build_strategy

OBJECTIVES = [{"metric": "acc", "direction": "max"}, {"metric": "cost", "direction": "min"}]


def record(number, acc, cost, arch=None):
    return TrialRecord(number, arch or {"n": number}, COMPLETE, {"acc": acc, "cost": cost})


def test_hypervolume_contributions_are_the_areas_only_each_point_covers():
    # (acc, -cost), higher better on both. The middle point alone covers acc in (1, 2] and
    # -cost in (-3, -1]: 1 x 2. The extremes bound the front.
    points = np.array([[3.0, -3.0], [2.0, -1.0], [1.0, 0.0], [2.5, -2.5]])
    contributions = hypervolume_contributions(points[:3])
    assert contributions[1] == pytest.approx(2.0)
    assert np.isinf(contributions[0]) and np.isinf(contributions[2])
    # a fourth point between the first two takes (2.5 - 2) x (-2.5 - -3) = 0.25 and shrinks the middle's
    assert hypervolume_contributions(points)[[1, 3]] == pytest.approx([1.0 * 1.5, 0.25])


def test_pareto_order_puts_the_front_first_and_its_extremes_before_its_middle():
    records = [record(1, 0.5, 5.0), record(2, 0.9, 9.0), record(3, 0.7, 6.0), record(4, 0.4, 8.0),
               record(5, 0.3, 1.0)]
    order = [r.number for r in pareto_order(records, OBJECTIVES)]
    assert set(order[:4]) == {1, 2, 3, 5} and order[-1] == 4  # 4 is dominated by 1
    assert set(order[:2]) == {2, 5}  # the extremes of the front


def test_motpe_proposes_what_its_front_holds():
    space = ChainMLPSpace({"min_depth": 1, "max_depth": 1, "widths": [4, 8, 16, 32], "activations": ["relu"],
                           "dropouts": [0.0], "norms": ["none"]})
    strategy = MultiObjectiveTPE(space, {"objectives": OBJECTIVES, "startup_trials": 4, "gamma": 0.25,
                                         "candidates": 50}, seed=0)
    history = []
    for number in range(1, 13):
        width = [4, 8, 16, 32][number % 4]
        arch = space.to_arch({**space.complete({}), "width_1": width})
        # width 16 is accurate and cheap; the others are dominated by it
        acc, cost = (0.9 - 0.01 * number, 1.0) if width == 16 else (0.5, 2.0 + number)
        history.append(TrialRecord(number, arch, COMPLETE, {"acc": acc, "cost": cost}))
    assert [t.arch["width_1"] for t in pareto_order(history, OBJECTIVES)[:3]] == [16, 16, 16]
    good = strategy.densities([t.arch for t in pareto_order(history, OBJECTIVES)[:3]])
    assert max(good["width_1"], key=good["width_1"].get) == 16


def test_motpe_checks_its_objectives():
    space = ChainMLPSpace()
    with pytest.raises(SpecError, match="direction"):
        build_strategy("motpe", space, {"objectives": [{"metric": "acc", "direction": "up"}]})


def test_a_search_passes_its_objectives_to_every_multi_objective_strategy():
    objectives = [{"metric": "val_accuracy", "direction": "max"}, {"metric": "params", "direction": "min"}]
    for name in ("nsga2", "motpe"):
        assert strategy_settings_for(name, {}, objectives)["objectives"] == objectives
    assert "objectives" not in strategy_settings_for("tpe", {}, objectives)


def test_motpe_search_on_the_benchmark_beats_random_on_average():
    from searches.benchmarks.multiobjective import hypervolume_regret, run_multiobjective_search
    from searches.benchmarks.nb201 import Nb201Table

    table = Nb201Table.load()
    regret = {name: np.mean([hypervolume_regret(run_multiobjective_search(name, 60, seed, table, "fpga"),
                                                table, "fpga") for seed in range(3)])
              for name in ("motpe", "random")}
    assert 0 < regret["motpe"] < regret["random"] < 1
