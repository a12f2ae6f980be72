import random

import numpy as np
import pytest

from searches.checks import SpecError
from searches.spaces.chain_mlp import ChainMLPSpace
from searches.spaces.nb201 import NB201Space
from searches.spaces.nb201_cell import EDGE_NAMES, effective_cell_weights, live_edges
from searches.strategies.bananas import Bananas
from searches.strategies.gp_bo import GaussianProcessBO
from searches.strategies.registry import STRATEGIES

from .synthetic import run, target_score


def cell(**ops):
    arch = dict.fromkeys(EDGE_NAMES, "none")
    arch.update({f"edge_{name[1]}<-{name[2]}": op for name, op in ops.items()})
    return arch


def test_live_edges_drop_edges_off_every_input_to_output_path():
    # node 1 gets the input but feeds only node 2, which reaches nothing: both edges are dead.
    arch = cell(e10="nor_conv_3x3", e21="nor_conv_3x3", e30="nor_conv_1x1")
    assert live_edges(arch) == [(3, 0)]
    assert effective_cell_weights(arch) == 1
    chain = cell(e10="nor_conv_3x3", e21="nor_conv_1x1", e32="nor_conv_3x3", e31="skip_connect")
    assert live_edges(chain) == [(1, 0), (2, 1), (3, 1), (3, 2)]
    assert effective_cell_weights(chain) == 9 + 1 + 9
    assert effective_cell_weights(cell()) == 0


def test_the_prior_is_the_effective_parameter_count_of_the_network():
    arch = cell(e10="nor_conv_3x3", e21="nor_conv_3x3", e30="nor_conv_1x1")
    assert NB201Space({"C": 4, "N": 2}).zero_cost_prior(arch) == 1 * 4**2 * (1 + 4 + 16) * 2


def test_warmup_starts_from_the_best_of_the_pool_by_prior():
    space = NB201Space({"C": 8, "N": 1})
    strategy = Bananas(space, {"zero_cost_pool": 200, "initial_samples": 5}, seed=3)
    history = run(strategy, target_score, 5)
    priors = [space.zero_cost_prior(t.arch) for t in history]
    pool = strategy._warmup_ranked
    assert len(pool) == 200 and [t.arch for t in history] == pool[:5]
    assert priors == sorted(priors, reverse=True)
    assert priors[0] == max(space.zero_cost_prior(a) for a in pool)
    again = run(Bananas(space, {"zero_cost_pool": 200, "initial_samples": 5}, seed=3), target_score, 8)
    assert [t.arch for t in again[:5]] == [t.arch for t in history]  # the pool is fixed by the seed
    assert len({space.key(t.arch) for t in again}) == 8


def test_the_prior_feature_is_one_more_standardised_input():
    space = NB201Space({"C": 8, "N": 1})
    strategy = GaussianProcessBO(space, {"zero_cost_feature": True}, seed=0)
    archs = [space.sample(random.Random(i)) for i in range(50)]
    rows = strategy.encode_all([(space.key(a), a) for a in archs])
    assert rows.shape == (50, len(space.encode(archs[0])) + 1)
    priors = np.array([space.zero_cost_prior(a) for a in archs])
    assert np.corrcoef(rows[:, -1], np.log1p(priors))[0, 1] == pytest.approx(1.0)
    assert abs(rows[:, -1].mean()) < 1.0 and 0.3 < rows[:, -1].std() < 3.0
    history = run(strategy, target_score, 15)
    assert len({space.key(t.arch) for t in history}) == 15


@pytest.mark.parametrize("setting", [{"zero_cost_pool": 100}, {"zero_cost_feature": True}, {"zero_cost_keep": 0.5}])
def test_spaces_without_a_prior_refuse_the_warmup_with_a_message(setting):
    with pytest.raises(SpecError, match="has no zero-cost prior"):
        Bananas(ChainMLPSpace({}), setting)


@pytest.mark.parametrize("setting, message", [({"zero_cost_pool": -1}, "zero_cost_pool"),
                                              ({"zero_cost_feature": "yes"}, "zero_cost_feature")])
def test_settings_are_checked(setting, message):
    with pytest.raises(SpecError, match=message):
        Bananas(NB201Space({}), setting)


@pytest.mark.parametrize("name", ["bananas", "gp_bo"])
def test_the_settings_schema_offers_the_warmup(name):
    schema = {info.name: info for info in STRATEGIES[name].settings_schema(NB201Space({}))}
    assert schema["zero_cost_pool"].default == 0 and "zero-cost prior" in schema["zero_cost_pool"].help
    assert schema["zero_cost_feature"].default is False


def test_keep_restricts_every_proposal_to_the_top_fraction_by_prior():
    space = NB201Space({"C": 8, "N": 1})
    strategy = Bananas(space, {"zero_cost_keep": 0.2, "initial_samples": 4}, seed=1)
    history = run(strategy, target_score, 12)  # random initial samples, then neighbours and random candidates
    floor = strategy._prior_floor
    reference = strategy.reference_priors()
    assert len(reference) == 1000 and 0.15 <= (reference >= floor).mean() <= 0.3
    assert all(space.zero_cost_prior(t.arch) >= floor for t in history)
    assert len({space.key(t.arch) for t in history}) == 12
    unrestricted = run(Bananas(space, {"initial_samples": 4}, seed=1), target_score, 12)
    assert any(space.zero_cost_prior(t.arch) < floor for t in unrestricted)


@pytest.mark.parametrize("value", [0.0, 1.5])
def test_keep_is_a_fraction(value):
    with pytest.raises(SpecError, match="zero_cost_keep"):
        Bananas(NB201Space({}), {"zero_cost_keep": value})


def test_a_search_spec_with_the_warmup_on_a_space_without_a_prior_gets_a_field_error():
    from django.core.exceptions import ValidationError

    from searches.services.search_spec import _check_strategy

    _check_strategy("bananas", NB201Space({}), {"zero_cost_pool": 100, "zero_cost_feature": True}, 0)
    with pytest.raises(ValidationError) as caught:
        _check_strategy("gp_bo", ChainMLPSpace({}), {"zero_cost_keep": 0.5}, 0)
    assert "strategy_settings.zero_cost_keep" in caught.value.message_dict
    assert "has no zero-cost prior" in str(caught.value)
