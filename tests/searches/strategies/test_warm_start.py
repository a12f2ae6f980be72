import random

from searches.spaces.nb201 import NB201Space
from searches.strategies.base import CANCELLED, COMPLETE, FAILED, PRUNED, RUNNING, TrialRecord
from searches.strategies.evolution import RegularizedEvolution
from searches.strategies.registry import STRATEGIES, build_strategy
from searches.strategies.warm_start import warm_start_history


def prior_trials(space, count):
    rng = random.Random(1)
    return [TrialRecord(n, space.sample(rng), COMPLETE, {"val_accuracy": n / 100, "params": 1000})
            for n in range(1, count + 1)]


def test_prior_trials_are_renumbered_below_one_in_their_order():
    space = NB201Space()
    prior = prior_trials(space, 3) + [TrialRecord(1, {"x": 1}, PRUNED), TrialRecord(2, {"x": 2}, FAILED)]
    warm = warm_start_history(prior)
    assert [t.number for t in warm] == [-5, -4, -3, -2, -1]
    assert [t.arch for t in warm] == [t.arch for t in prior]


def test_unevaluated_trials_are_dropped_and_a_repeated_architecture_keeps_its_latest_result():
    arch = {"edge": "a"}
    prior = [TrialRecord(1, arch, COMPLETE, {"val_accuracy": 0.1}), TrialRecord(2, {"edge": "b"}, RUNNING),
             TrialRecord(3, {"edge": "c"}, CANCELLED), TrialRecord(4, arch, COMPLETE, {"val_accuracy": 0.7})]
    warm = warm_start_history(prior)
    assert len(warm) == 1 and warm[0].metrics == {"val_accuracy": 0.7} and warm[0].number == -1


def test_no_strategy_proposes_a_warm_started_architecture():
    space = NB201Space({"ops": ["none", "skip_connect"]})  # 64 architectures
    rng = random.Random(0)
    prior = [TrialRecord(n, space.sample(rng), COMPLETE, {"val_accuracy": rng.random(), "params": 10})
             for n in range(1, 40)]
    warm = warm_start_history(prior)
    warm_keys = {space.key(t.arch) for t in warm}
    for name in STRATEGIES:
        proposals = build_strategy(name, space, seed=1).ask(warm, 64)
        keys = {space.key(a) for a in proposals}
        assert not keys & warm_keys, name
        assert len(keys) == 64 - len(warm_keys), name  # everything else, and only that


def test_warm_trials_fill_the_evolution_population():
    space = NB201Space()
    warm = warm_start_history(prior_trials(space, 30))
    strategy = RegularizedEvolution(space, {"population_size": 10, "sample_size": 10})
    assert [t.number for _, t in strategy.population(warm)] == list(range(-10, 0))
    best_neighbours = {space.key(a) for a in space.neighbours(warm[-1].arch)}
    assert all(space.key(a) in best_neighbours for a in strategy.ask(warm, 3))  # evolving at once
