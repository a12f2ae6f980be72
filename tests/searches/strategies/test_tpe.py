import pytest

from searches.checks import SpecError
from searches.spaces.nb201 import NB201Space
from searches.strategies.base import COMPLETE, TrialRecord
from searches.strategies.random_search import RandomSearch
from searches.strategies.tpe import TPE

from .synthetic import best_score, run, target_score


def test_densities_favour_the_good_trials_choices():
    space = NB201Space()
    strategy = TPE(space, {"prior_weight": 1.0})
    good = [{**dict.fromkeys(space.complete({}), "none"), "edge_1<-0": "nor_conv_3x3"}] * 3
    density = strategy.densities(good)["edge_1<-0"]
    assert density["nor_conv_3x3"] == pytest.approx((3 + 0.2) / 4)
    assert density["none"] == pytest.approx(0.2 / 4)
    assert sum(density.values()) == pytest.approx(1.0)


def test_split_keeps_at_least_one_good_trial():
    strategy = TPE(NB201Space(), {"gamma": 0.1})
    trials = [TrialRecord(i, {"a": i}, COMPLETE, {}) for i in (1, 2, 3)]
    good, bad = strategy.split([(0.9, trials[0]), (0.5, trials[1]), (0.1, trials[2])])
    assert good == [{"a": 1}] and bad == [{"a": 2}, {"a": 3}]


def test_tpe_beats_random_on_a_synthetic_objective():
    space = NB201Space()
    seeds = range(6)
    tpe = [best_score(run(TPE(space, seed=s), target_score, 50)) for s in seeds]
    sampled = [best_score(run(RandomSearch(space, seed=s), target_score, 50)) for s in seeds]
    assert sum(tpe) / len(tpe) > sum(sampled) / len(sampled) + 1.0


@pytest.mark.parametrize(("name", "value"),
                         [("gamma", 0.0), ("gamma", 0.9), ("candidates", 0), ("startup_trials", "x")])
def test_settings_are_checked(name, value):
    with pytest.raises(SpecError) as err:
        TPE(NB201Space(), {name: value})
    assert err.value.field == name
