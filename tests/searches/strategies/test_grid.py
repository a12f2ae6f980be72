import pytest

from searches.checks import SpecError
from searches.spaces.chain_mlp import ChainMLPSpace
from searches.spaces.nb201 import NB201Space
from searches.strategies.base import COMPLETE, TrialRecord
from searches.strategies.grid import GridSearch, arch_index, architecture_indices, index_to_arch


def exhaust(strategy):
    history = []
    while proposals := strategy.ask(history, 7):
        history += [TrialRecord(len(history) + i + 1, a, COMPLETE, {"val_accuracy": 0.5})
                    for i, a in enumerate(proposals)]
    return [t.arch for t in history]


def test_refuses_a_space_above_the_limit():
    space = ChainMLPSpace({"max_depth": 12, "widths": [8, 16, 32, 64]})
    with pytest.raises(SpecError) as err:
        GridSearch(space)
    assert err.value.field == "strategy" and "100,000" in str(err.value)


def test_visits_every_architecture_of_a_space_with_inactive_decisions_once():
    space = ChainMLPSpace()
    archs = exhaust(GridSearch(space, seed=4))
    assert len(archs) == len({space.key(a) for a in archs}) == space.size()


def test_the_seed_shuffles_the_order_and_shuffle_false_keeps_the_spaces_order():
    space = NB201Space({"ops": ["none", "skip_connect", "nor_conv_3x3"]})
    first, second = exhaust(GridSearch(space, seed=1)), exhaust(GridSearch(space, seed=2))
    assert first != second and sorted(map(space.key, first)) == sorted(map(space.key, second))
    plain = exhaust(GridSearch(space, {"shuffle": False}))
    assert plain[0] == {name: "none" for name in plain[0]}
    assert plain == [index_to_arch(space, i) for i in range(space.size())]


def test_indices_round_trip():
    space = ChainMLPSpace()
    for index in architecture_indices(space):
        assert arch_index(space, index_to_arch(space, index)) == index
