"""Candidate filters between proposals and training (engine level, no database)."""

import pytest

from searches import candidates
from searches.spaces import build_space
from searches.strategies.base import TrialRecord

SPEC = {"min_depth": 1, "max_depth": 3, "widths": [16], "activations": ["relu"], "dropouts": [0.0],
        "norms": ["none"]}


def arch(depth):
    return {"depth": depth, **{f"width_{i}": 16 for i in range(1, depth + 1)}, "activation": "relu",
            "dropout": 0.0, "norm": "none"}


def history_rewarding_depth():
    return [TrialRecord(n, arch(d), "complete", {"val_accuracy": 0.2 * d})
            for n, d in enumerate([1, 2, 3, 1, 2, 3], start=1)]


def test_surrogate_keeps_the_candidates_predicted_good_best_first():
    space = build_space("chain_mlp", SPEC)
    chosen = candidates.choose(space, [arch(1), arch(2), arch(3)], 2, history_rewarding_depth(),
                               {"surrogate_quantile": 0.5}, metric="val_accuracy", direction="max")
    assert [a["depth"] for a in chosen] == [3, 2]


def test_surrogate_waits_for_enough_finished_trials():
    space = build_space("chain_mlp", SPEC)
    few = history_rewarding_depth()[:2]
    chosen = candidates.choose(space, [arch(1), arch(3)], 1, few, {"surrogate_quantile": 0.5},
                               metric="val_accuracy", direction="max")
    assert chosen == [arch(1)]  # no surrogate yet: the strategy's order stands


def test_preranking_by_parameter_count_trains_the_largest():
    space = build_space("chain_mlp", {**SPEC, "widths": [8, 64]})
    small = {**arch(1), "width_1": 8}
    large = {**arch(2), "width_1": 64, "width_2": 64}
    chosen = candidates.choose(space, [small, large], 1, [], {"prerank_proxy": "params"},
                               metric="val_accuracy", direction="max", input_shape=(1, 8, 8), num_classes=10)
    assert chosen == [large]


def test_pool_size_grows_only_when_a_filter_chooses():
    assert candidates.pool_size({"prerank_proxy": "", "prerank_pool": 4, "surrogate_quantile": None}, 2) == 2
    assert candidates.pool_size({"prerank_proxy": "synflow", "prerank_pool": 4}, 2) == 8
    assert candidates.pool_size({"prerank_proxy": "", "prerank_pool": 3, "surrogate_quantile": 0.5}, 2) == 6


@pytest.mark.parametrize("proxy", [[None], {"a": 1}, 3, "no_such_proxy"])
def test_a_proxy_that_is_not_a_known_name_is_refused_in_words(proxy):
    # A list is unhashable: `in PROXIES` raised TypeError (an HTTP 500 from the API, found by the fuzz).
    with pytest.raises(candidates.EstimationError, match="unknown proxy; choose one of"):
        candidates.validate_estimation({"prerank_proxy": proxy})
