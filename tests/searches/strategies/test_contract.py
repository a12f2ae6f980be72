"""One contract suite over every registered strategy x every registered space (default specs).

The registries are read at import time, so strategies and spaces added later are
covered without touching this file. Trials are faked: a completed trial's metrics
are a deterministic hash of its architecture's key, so nothing is trained.
"""

from __future__ import annotations

import hashlib

import pytest

from searches.spaces.nb201 import NB201Space
from searches.spaces.registry import SPACES, build_space
from searches.strategies.base import COMPLETE, FAILED, PRUNED, RUNNING, TrialRecord
from searches.strategies.grid import MAX_GRID_SIZE
from searches.strategies.registry import STRATEGIES, build_strategy

PAIRS = [(strategy, space) for strategy in STRATEGIES for space in SPACES]
PAIR_IDS = [f"{strategy}-{space}" for strategy, space in PAIRS]


def digest(space, arch) -> bytes:
    return hashlib.sha256(space.key(arch).encode()).digest()


def fake_metrics(space, arch) -> dict:
    d = digest(space, arch)
    return {"val_accuracy": d[0] / 255, "params": 1000 + 10 * d[1]}


def make(strategy_name: str, space, seed: int = 0, constraints=None):
    if strategy_name == "grid" and space.size() > MAX_GRID_SIZE:
        pytest.skip("grid search refuses spaces above its size limit (tested in test_grid.py)")
    return build_strategy(strategy_name, space, seed=seed, constraints=constraints)


def drive(strategy, asks: int, batch: int, history=None, state: str = COMPLETE) -> list[TrialRecord]:
    """Ask `asks` times for `batch` architectures, checking each answer, and record them as trials."""
    space = strategy.space
    history = list(history or [])
    for _ in range(asks):
        proposals = strategy.ask(history, batch)
        assert len(proposals) == batch, "fewer proposals than asked while the space is far from exhausted"
        keys = [space.key(a) for a in proposals]
        assert len(set(keys)) == len(keys), "the same architecture twice in one ask"
        assert not set(keys) & {space.key(t.arch) for t in history}, "an architecture already in the history"
        for arch in proposals:
            space.validate_arch(arch)
            assert all(check(arch) for check in strategy.constraints)
            number = len(history) + 1
            metrics = fake_metrics(space, arch) if state == COMPLETE else {}
            history.append(TrialRecord(number, arch, state, metrics))
    return history


@pytest.mark.parametrize(("strategy_name", "space_kind"), PAIRS, ids=PAIR_IDS)
def test_proposals_are_valid_new_and_distinct(strategy_name, space_kind):
    drive(make(strategy_name, build_space(space_kind)), asks=14, batch=2)


@pytest.mark.parametrize(("strategy_name", "space_kind"), PAIRS, ids=PAIR_IDS)
def test_same_seed_gives_the_same_proposals(strategy_name, space_kind):
    space = build_space(space_kind)
    first = drive(make(strategy_name, space, seed=7), asks=14, batch=2)
    second = drive(make(strategy_name, space, seed=7), asks=14, batch=2)
    assert [t.arch for t in first] == [t.arch for t in second]


@pytest.mark.parametrize(("strategy_name", "space_kind"), PAIRS, ids=PAIR_IDS)
def test_different_seeds_give_different_proposals(strategy_name, space_kind):
    space = build_space(space_kind)
    if space.size() < 100:
        pytest.skip("too small a space for two seeds to be expected to differ")
    first = drive(make(strategy_name, space, seed=1), asks=14, batch=2)
    second = drive(make(strategy_name, space, seed=2), asks=14, batch=2)
    assert [t.arch for t in first] != [t.arch for t in second]


@pytest.mark.parametrize(("strategy_name", "space_kind"), PAIRS, ids=PAIR_IDS)
def test_empty_history(strategy_name, space_kind):
    drive(make(strategy_name, build_space(space_kind)), asks=1, batch=3)


@pytest.mark.parametrize("state", [FAILED, PRUNED, RUNNING])
@pytest.mark.parametrize(("strategy_name", "space_kind"), PAIRS, ids=PAIR_IDS)
def test_history_without_a_complete_trial(strategy_name, space_kind, state):
    strategy = make(strategy_name, build_space(space_kind))
    history = drive(strategy, asks=12, batch=2, state=state)
    drive(strategy, asks=2, batch=2, history=history)


@pytest.mark.parametrize(("strategy_name", "space_kind"), PAIRS, ids=PAIR_IDS)
def test_constraints_are_respected(strategy_name, space_kind):
    space = build_space(space_kind)

    def even_half(arch: dict) -> bool:  # rejects about half the space, unrelated to its structure
        return digest(space, arch)[2] % 2 == 0

    drive(make(strategy_name, space, constraints=[even_half]), asks=14, batch=2)


@pytest.mark.parametrize("strategy_name", list(STRATEGIES))
def test_a_small_space_is_exhausted_exactly_once(strategy_name):
    space = NB201Space({"ops": ["none", "skip_connect"]})  # 2**6 = 64 architectures
    strategy = build_strategy(strategy_name, space, seed=3)
    history: list[TrialRecord] = []
    while True:
        proposals = strategy.ask(history, 5)
        if not proposals:
            break
        history += [TrialRecord(len(history) + i + 1, a, COMPLETE, fake_metrics(space, a))
                    for i, a in enumerate(proposals)]
        assert len(history) <= space.size()
    assert len({space.key(t.arch) for t in history}) == space.size() == 64
