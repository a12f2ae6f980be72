import numpy as np
import pytest

from searches.checks import SpecError
from searches.spaces.nb201 import NB201Space
from searches.strategies.bananas import Bananas, MLPEnsemble
from searches.strategies.random_search import RandomSearch

from .synthetic import best_score, run, target_score


def additive_data(rows, rng):
    x = np.zeros((rows, 30))
    choice = rng.integers(0, 5, (rows, 6))
    for edge in range(6):
        x[np.arange(rows), edge * 5 + choice[:, edge]] = 1.0
    weights = rng.normal(size=30)
    return x, x @ weights


def test_training_fits_the_data_and_members_disagree_away_from_it():
    rng = np.random.default_rng(0)
    x, y = additive_data(120, rng)
    y = (y - y.mean()) / y.std()
    ensemble = MLPEnsemble.fit(x[:80], y[:80], rng, members=5, hidden=32, steps=150, learning_rate=0.01)
    predictions = ensemble.predict(x)
    assert predictions.shape == (5, 120)
    held_out_error = np.mean((predictions.mean(0)[80:] - y[80:]) ** 2)
    assert held_out_error < 0.2  # the target is additive in the one-hot features: a small MLP learns it
    assert predictions.std(0).mean() > 0  # the spread is the uncertainty the acquisition uses


def test_more_training_lowers_the_training_error():
    rng = np.random.default_rng(1)
    x, y = additive_data(60, rng)
    errors = []
    for steps in (1, 200):
        ensemble = MLPEnsemble.fit(x, y, np.random.default_rng(2), members=3, hidden=16, steps=steps,
                                   learning_rate=0.01)
        errors.append(np.mean((ensemble.predict(x) - y) ** 2))
    assert errors[1] < errors[0] / 2


@pytest.mark.parametrize("acquisition", ["its", "ucb"])
def test_bananas_beats_random_on_a_synthetic_objective(acquisition):
    space = NB201Space()
    seeds = range(5)
    found = [best_score(run(Bananas(space, {"acquisition": acquisition}, seed=s), target_score, 40)) for s in seeds]
    sampled = [best_score(run(RandomSearch(space, seed=s), target_score, 40)) for s in seeds]
    assert sum(found) / len(found) > sum(sampled) / len(sampled) + 1.0


@pytest.mark.parametrize(("name", "value"), [("acquisition", "ei"), ("ensemble_size", 1), ("learning_rate", 0)])
def test_settings_are_checked(name, value):
    with pytest.raises(SpecError) as err:
        Bananas(NB201Space(), {name: value})
    assert err.value.field == name
