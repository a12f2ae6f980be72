import random

import pytest

from searches.oneshot.random_oneshot import RandomOneShot
from searches.oneshot.ranking import inherited_accuracies, kendall_tau, supernet_ranking
from searches.training.trainer import TrainConfig


def test_kendall_tau_on_known_rankings():
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40])[0] == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1])[0] == pytest.approx(-1.0)
    # One swapped pair of six: (5 concordant - 1 discordant) / 6.
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4])[0] == pytest.approx(4 / 6)
    assert kendall_tau([0.5, 0.5, 0.5], [1, 2, 3]) == (0.0, 1.0)
    with pytest.raises(ValueError):
        kendall_tau([1, 2], [1, 2, 3])


def test_supernet_ranking_compares_inherited_with_stand_alone_accuracy(chain_mlp, tiny_digits):
    search = RandomOneShot(chain_mlp, tiny_digits, {"epochs": 2}, seed=0)
    search.run()
    rng = random.Random(0)
    archs = [chain_mlp.sample(rng) for _ in range(4)]
    trained = []
    result = supernet_ranking(search.supernet, chain_mlp, archs, tiny_digits, TrainConfig(epochs=1, seed=0),
                              on_result=lambda number, r: trained.append(number))
    assert trained == [0, 1, 2, 3]
    assert result.inherited == inherited_accuracies(search.supernet, archs, tiny_digits)
    assert result.standalone == [r.val_accuracy for r in result.standalone_results]
    assert result.tau == pytest.approx(kendall_tau(result.inherited, result.standalone)[0])
    assert result.standalone_seconds > 0

    reused = supernet_ranking(search.supernet, chain_mlp, archs, tiny_digits, TrainConfig(epochs=1, seed=0),
                              metric="test_accuracy", standalone=result.standalone_results)
    assert reused.standalone == [r.test_accuracy for r in result.standalone_results]
