import random

import numpy as np
import pytest

from searches.checks import SpecError
from searches.spaces.nb201 import NB201Space
from searches.strategies.gp_bo import GaussianProcessBO, HammingGP, expected_improvement, hamming_distances
from searches.strategies.model_based import normal_scores
from searches.strategies.random_search import RandomSearch

from .synthetic import best_score, run, target_score


def test_hamming_distance_counts_differing_decisions():
    space = NB201Space()
    a = {name: "none" for name in space.complete({})}
    b = {**a, "edge_1<-0": "skip_connect", "edge_3<-2": "nor_conv_3x3"}
    x = np.array([space.encode(a), space.encode(b)])
    assert hamming_distances(x, x).tolist() == [[0, 2], [2, 0]]


def test_gp_is_certain_at_its_data_and_unsure_far_from_it():
    space = NB201Space()
    rng = np.random.default_rng(0)
    archs = [space.sample(random.Random(i)) for i in range(20)]
    x = np.array([space.encode(a) for a in archs])
    y = rng.normal(size=20)
    gp = HammingGP.fit(x, y)
    mean, sd = gp.predict(x)
    assert np.allclose(mean, y, atol=0.5)
    far = np.zeros((1, 30))  # no decision shared with any training row
    assert sd.max() < gp.predict(far)[1][0]


def test_expected_improvement_rewards_a_higher_mean_and_more_uncertainty():
    ei = expected_improvement(np.array([0.0, 1.0, 0.0]), np.array([0.1, 0.1, 1.0]), best=0.5, xi=0.0)
    assert ei[1] > ei[2] > ei[0] > 0


def test_normal_scores_keep_the_order_and_tame_outliers():
    scores = normal_scores(np.array([0.10, 0.90, 0.91, 0.92]))
    assert list(np.argsort(scores)) == [0, 1, 2, 3]
    assert scores[1] - scores[0] == pytest.approx(scores[2] - scores[1], rel=0.5)


def test_gp_bo_beats_random_on_a_synthetic_objective():
    space = NB201Space()
    seeds = range(5)
    found = [best_score(run(GaussianProcessBO(space, seed=s), target_score, 40)) for s in seeds]
    sampled = [best_score(run(RandomSearch(space, seed=s), target_score, 40)) for s in seeds]
    assert sum(found) / len(found) > sum(sampled) / len(sampled) + 1.0


def test_settings_are_checked():
    with pytest.raises(SpecError) as err:
        GaussianProcessBO(NB201Space(), {"parents": 0, "random_candidates": 0})
    assert err.value.field == "random_candidates"
