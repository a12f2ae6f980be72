import random

import numpy as np
import pytest

from searches.checks import SpecError
from searches.spaces.nb201 import NB201Space
from searches.strategies.base import COMPLETE, FAILED, TrialRecord
from searches.strategies.nsga2 import NSGA2, crowding_distances, non_dominated_fronts, pareto_front

OBJECTIVES = [{"metric": "val_accuracy", "direction": "max"}, {"metric": "params", "direction": "min"}]
# (accuracy, params): trials 1-4 are the first front, 5-6 the second, 7 the third
POINTS = [(0.9, 900), (0.8, 500), (0.7, 300), (0.5, 100), (0.75, 600), (0.6, 400), (0.55, 700)]


def records(space=None, extra=()):
    space = space or NB201Space()
    rng = random.Random(0)
    out = [TrialRecord(i + 1, space.sample(rng), COMPLETE, {"val_accuracy": a, "params": p})
           for i, (a, p) in enumerate(POINTS)]
    return out + list(extra)


def test_pareto_front_is_the_non_dominated_set():
    failed = TrialRecord(99, {}, FAILED, {})
    assert [r.number for r in pareto_front(records(extra=[failed]), OBJECTIVES)] == [1, 2, 3, 4]


def test_fronts_and_crowding():
    points = np.array([[a, -p] for a, p in POINTS])
    assert non_dominated_fronts(points) == [[0, 1, 2, 3], [4, 5], [6]]
    crowding = crowding_distances(points, [0, 1, 2, 3])
    assert crowding[0] == crowding[3] == float("inf") and 0 < crowding[1] < float("inf")


def test_parents_keep_the_first_front_and_prefer_it():
    strategy = NSGA2(NB201Space(), {"objectives": OBJECTIVES, "population_size": 5})
    parents = [r.number for r, _, _ in strategy.parents(records())]
    assert set(parents[:4]) == {1, 2, 3, 4}
    assert len(parents) == 5 and parents[4] in (5, 6)


def test_children_come_from_the_parents_after_the_first_population():
    space = NB201Space()
    strategy = NSGA2(space, {"objectives": OBJECTIVES, "population_size": 7, "crossover": False}, seed=2)
    history = records(space)
    parent_neighbours = {space.key(n) for r in history for n in space.neighbours(r.arch)}
    assert all(space.key(a) in parent_neighbours for a in strategy.ask(history, 5))


@pytest.mark.parametrize("objectives", [[], [{"metric": "val_accuracy", "direction": "up"}], [{"direction": "max"}],
                                        [{"metric": "params"}, {"metric": "params"}], "val_accuracy"])
def test_bad_objectives_name_the_setting(objectives):
    with pytest.raises(SpecError) as err:
        NSGA2(NB201Space(), {"objectives": objectives})
    assert err.value.field == "objectives"
