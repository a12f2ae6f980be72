import random

import pytest

from searches.checks import SpecError
from searches.spaces.nb201 import NB201Space
from searches.strategies.base import COMPLETE, FAILED, TrialRecord
from searches.strategies.evolution import RegularizedEvolution
from searches.strategies.random_search import RandomSearch

from .synthetic import best_score, run, target_score


def history_of(space, scores, rng_seed=0, states=None):
    rng = random.Random(rng_seed)
    seen, history = set(), []
    for i, score in enumerate(scores):
        arch = space.sample(rng)
        while space.key(arch) in seen:
            arch = space.sample(rng)
        seen.add(space.key(arch))
        state = states[i] if states else COMPLETE
        metrics = {"val_accuracy": score} if state == COMPLETE else {}
        history.append(TrialRecord(i + 1, arch, state, metrics))
    return history


def test_aging_removes_the_oldest_even_when_it_is_the_best():
    space = NB201Space()
    strategy = RegularizedEvolution(space, {"population_size": 4, "sample_size": 2})
    history = history_of(space, [0.99, 0.1, 0.2, 0.3, 0.4])
    members = [t.number for _, t in strategy.population(history)]
    assert members == [2, 3, 4, 5]


def test_population_is_rebuilt_in_trial_number_order_and_skips_unfinished_trials():
    space = NB201Space()
    strategy = RegularizedEvolution(space, {"population_size": 3, "sample_size": 2})
    history = history_of(space, [0.5, 0.6, 0.7, 0.8, 0.9], states=[COMPLETE, COMPLETE, FAILED, COMPLETE, COMPLETE])
    shuffled = [history[i] for i in (4, 0, 3, 2, 1)]
    assert [t.number for _, t in strategy.population(shuffled)] == [2, 4, 5]


def test_a_whole_population_tournament_mutates_the_best_member():
    space = NB201Space()
    strategy = RegularizedEvolution(space, {"population_size": 5, "sample_size": 5}, seed=3)
    history = history_of(space, [0.1, 0.9, 0.3, 0.2, 0.4])
    best_neighbours = {space.key(a) for a in space.neighbours(history[1].arch)}
    for arch in strategy.ask(history, 4):
        assert space.key(arch) in best_neighbours


def test_first_population_size_proposals_are_random_not_mutations():
    space = NB201Space()
    strategy = RegularizedEvolution(space, {"population_size": 10, "sample_size": 10}, seed=1)
    history = history_of(space, [0.9, 0.1])
    best_neighbours = {space.key(a) for a in space.neighbours(history[0].arch)}
    proposals = strategy.ask(history, 8)
    assert sum(space.key(a) in best_neighbours for a in proposals) < 3


def test_sample_size_cannot_exceed_the_population():
    with pytest.raises(SpecError) as err:
        RegularizedEvolution(NB201Space(), {"population_size": 5, "sample_size": 6})
    assert err.value.field == "sample_size"


def test_evolution_beats_random_on_a_synthetic_objective():
    space = NB201Space()
    seeds = range(6)
    evolved = [best_score(run(RegularizedEvolution(space, seed=s), target_score, 60)) for s in seeds]
    sampled = [best_score(run(RandomSearch(space, seed=s), target_score, 60)) for s in seeds]
    assert sum(evolved) / len(evolved) > sum(sampled) / len(sampled) + 1.0
