import random

import pytest

from searches.checks import SpecError
from searches.spaces.nb201 import NB201Space
from searches.strategies.base import COMPLETE, TrialRecord
from searches.strategies.reinforce import Reinforce


def rewarded_history(space, reward, trials=60, seed=0):
    rng = random.Random(seed)
    history = []
    for number in range(1, trials + 1):
        arch = space.sample(rng)
        history.append(TrialRecord(number, arch, COMPLETE, reward(arch)))
    return history


def test_policy_moves_towards_the_rewarded_choice():
    space = NB201Space()
    history = rewarded_history(space, lambda a: {"val_accuracy": 0.9 if a["edge_1<-0"] == "nor_conv_3x3" else 0.5})
    probs = Reinforce(space).policy(history)["edge_1<-0"]
    conv = space.decision("edge_1<-0").index_of("nor_conv_3x3")
    assert probs[conv] == max(probs) and probs[conv] > 0.5
    assert Reinforce(space).policy([])["edge_1<-0"] == pytest.approx([0.2] * 5)


def test_sampling_follows_the_policy():
    space = NB201Space()
    history = rewarded_history(space, lambda a: {"val_accuracy": 0.9 if a["edge_1<-0"] == "nor_conv_3x3" else 0.5})
    proposals = Reinforce(space, seed=5).ask(history, 40)
    assert sum(a["edge_1<-0"] == "nor_conv_3x3" for a in proposals) > 40 * 0.4


def test_policy_is_replayed_in_trial_number_order():
    space = NB201Space()
    history = rewarded_history(space, lambda a: {"val_accuracy": random.Random(str(a)).random()})
    strategy = Reinforce(space)
    assert strategy.policy(list(reversed(history))) == strategy.policy(history)


def test_monas_reward_trades_accuracy_against_cost():
    space = NB201Space()

    def metrics(arch):  # equal accuracy; 'none' on the first edge is much cheaper
        return {"val_accuracy": 0.8, "params": 10 if arch["edge_1<-0"] == "none" else 1000}

    history = rewarded_history(space, metrics)
    cheap = space.decision("edge_1<-0").index_of("none")
    accuracy_only = Reinforce(space).policy(history)["edge_1<-0"]
    with_cost = Reinforce(space, {"cost_metric": "params", "accuracy_weight": 0.5}).policy(history)["edge_1<-0"]
    assert accuracy_only == pytest.approx([0.2] * 5)
    assert with_cost[cheap] == max(with_cost) and with_cost[cheap] > 0.4


def test_settings_are_checked():
    with pytest.raises(SpecError) as err:
        Reinforce(NB201Space(), {"learning_rate": -1})
    assert err.value.field == "learning_rate"
    with pytest.raises(SpecError) as err:
        Reinforce(NB201Space(), {"cost_metric": 3})
    assert err.value.field == "cost_metric"
