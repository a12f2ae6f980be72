"""Importance and average effects find a planted effect (engine, no database)."""

import random
import re

import pytest

from searches.analysis import decision_effects, decision_importance, effect_sentence, op_effects, op_sentence
from searches.spaces.registry import build_space


def planted(n=80):
    space = build_space("nb201", {"C": 2, "N": 1, "ops": ["none", "skip_connect", "nor_conv_3x3"]})
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(n)]
    # conv on edge 1<-0 is worth 10 points; everything else is small noise
    values = [0.5 + 0.1 * (a["edge_1<-0"] == "nor_conv_3x3") + rng.uniform(-0.01, 0.01) for a in archs]
    return space, archs, values


def test_permutation_importance_puts_the_planted_decision_first():
    space, archs, values = planted()
    importance = decision_importance(space, archs, values, seed=0)
    assert next(iter(importance)) == "edge_1<-0" and importance["edge_1<-0"] > 0.8
    assert sum(importance.values()) == pytest.approx(1.0)


def test_average_effects_are_plain_means_and_read_in_words():
    space, archs, values = planted()
    top = decision_effects(space, archs, values)[0]
    assert (top.decision, top.value) == ("edge_1<-0", "nor_conv_3x3")
    with_it = [v for a, v in zip(archs, values, strict=True) if a["edge_1<-0"] == "nor_conv_3x3"]
    assert top.with_mean == pytest.approx(sum(with_it) / len(with_it))
    sentence = effect_sentence(top, "validation accuracy", points=True)
    assert re.match(r"nor_conv_3x3 on edge_1<-0 adds (9\.[5-9]|10\.[0-5]) points of validation accuracy", sentence)
    assert f"{top.with_n} trials with it: {100 * top.with_mean:.1f}" in sentence


def test_no_variation_gives_no_effects_and_zero_importance():
    space = build_space("chain_mlp", {"min_depth": 1, "max_depth": 1, "widths": [8], "activations": ["relu"],
                                      "dropouts": [0.0], "norms": ["none"]})
    archs = [space.sample(random.Random(i)) for i in range(10)]
    assert decision_effects(space, archs, [0.5] * 10) == []
    assert set(decision_importance(space, archs, [0.5] * 10).values()) == {0.0}


def test_op_effects_find_the_slope_of_a_planted_op_count():
    space = build_space("nb201", {"C": 2, "N": 1, "ops": ["none", "skip_connect", "nor_conv_3x3"]})
    rng = random.Random(1)
    archs = [space.sample(rng) for _ in range(120)]
    # each conv anywhere in the cell is worth 2 points
    values = [0.5 + 0.02 * sum(op == "nor_conv_3x3" for op in a.values()) + rng.uniform(-0.002, 0.002) for a in archs]
    top = op_effects(space, archs, values)[0]
    assert top.value == "nor_conv_3x3" and top.slope == pytest.approx(0.02, abs=0.002) and top.trials == 120
    sentence = op_sentence(top, "validation accuracy", points=True)
    assert re.match(r"each more nor_conv_3x3 \(on any decision\) adds (1\.[89]|2\.[01]) points of validation", sentence)
    assert f"{top.fewest} to {top.most} times" in sentence


def test_op_effects_skip_choices_of_a_single_decision():
    space = build_space("chain_mlp", {"min_depth": 1, "max_depth": 1, "widths": [8, 16], "activations": ["relu"],
                                      "dropouts": [0.0], "norms": ["none"]})
    archs = [space.sample(random.Random(i)) for i in range(20)]
    assert all(e.value not in (8, 16, "8", "16") for e in op_effects(space, archs, [0.5 + i for i in range(20)]))
