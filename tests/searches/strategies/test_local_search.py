from searches.spaces.nb201 import NB201Space
from searches.strategies.base import COMPLETE, TrialRecord
from searches.strategies.local_search import LocalSearch
from searches.strategies.random_search import RandomSearch

from .synthetic import best_score, run, target_score


def record(number, arch, score):
    return TrialRecord(number, arch, COMPLETE, {"val_accuracy": score})


def initial_history(space, strategy, scores):
    history = []
    for score in scores:
        (arch,) = strategy.ask(history, 1)
        history.append(record(len(history) + 1, arch, score))
    return history


def test_climbs_from_the_best_initial_sample():
    space = NB201Space()
    strategy = LocalSearch(space, {"initial_samples": 3}, seed=1)
    history = initial_history(space, strategy, [0.2, 0.8, 0.5])
    neighbours = {space.key(a) for a in space.neighbours(history[1].arch)}
    assert all(space.key(a) in neighbours for a in strategy.ask(history, 5))


def test_a_better_neighbour_becomes_the_centre():
    space = NB201Space()
    strategy = LocalSearch(space, {"initial_samples": 1}, seed=2)
    history = initial_history(space, strategy, [0.5])
    (step,) = strategy.ask(history, 1)
    history.append(record(2, step, 0.9))
    neighbours_of_step = {space.key(a) for a in space.neighbours(step)}
    assert all(space.key(a) in neighbours_of_step for a in strategy.ask(history, 4))


def test_restarts_once_the_local_optimum_is_fully_evaluated():
    space = NB201Space()
    strategy = LocalSearch(space, {"initial_samples": 1}, seed=3)
    history = initial_history(space, strategy, [0.9])
    centre = history[0].arch
    for arch in space.neighbours(centre):
        history.append(record(len(history) + 1, arch, 0.1))
    assert strategy.replay(history).centre.number == 1
    (restart,) = strategy.ask(history, 1)
    assert space.key(restart) not in {space.key(t.arch) for t in history}
    # the replay sees the same restart once the new trial is in the history
    history.append(record(len(history) + 1, restart, 0.05))
    climb = strategy.replay(history)
    assert climb.start == len(history) - 1 and climb.centre.number == len(history)


def test_local_search_beats_random_on_a_synthetic_objective():
    space = NB201Space()
    seeds = range(6)
    local = [best_score(run(LocalSearch(space, seed=s), target_score, 60)) for s in seeds]
    sampled = [best_score(run(RandomSearch(space, seed=s), target_score, 60)) for s in seeds]
    assert sum(local) / len(local) > sum(sampled) / len(sampled) + 1.0
