"""Every strategy on every space with a supernet: derived architectures are valid, the report is JSON."""

import json

import pytest

from searches.checks import SpecError
from searches.oneshot import ONESHOT_STRATEGIES, build_latency_table, run_oneshot

SETTINGS = {
    "random_oneshot": {"derive_samples": 2},
    "enas": {"controller_steps": 1, "derive_samples": 2},
    "darts": {},
    "proxyless": {"latency_weight": 0.1},
    "pdarts": {"stages": 1, "ops_kept": [], "skip_dropout": [0.2]},
    "pcdarts": {"partial_channels": 2},
}
#: strategies that refuse some spaces (each has its own test of the refusal)
ONLY_ON = {"pcdarts": {"nb201"}}


@pytest.mark.parametrize("kind", ["nb201", "chain_mlp", "macro_cnn"])
@pytest.mark.parametrize("name", sorted(ONESHOT_STRATEGIES))
def test_derived_arch_is_valid_for_the_space(spaces, tiny_digits, kind, name):
    if kind not in ONLY_ON.get(name, {kind}):
        pytest.skip(f"{name} refuses {kind} (tested in its own file)")
    space = spaces[kind]
    extra = {}
    if name == "proxyless":
        costs = build_latency_table(space, "macs", tiny_digits.input_shape, tiny_digits.num_classes)
        extra = {"latency_table": costs.table, "latency_base_ms": costs.base}
    result = run_oneshot(name, space, tiny_digits, {"epochs": 1, **SETTINGS[name]}, seed=0, **extra)
    space.validate_arch(result.arch)
    assert set(result.arch_weights[0]) == {d.name for d in space.decisions}
    json.dumps(result.to_dict())


def test_unknown_strategy_is_refused(nb201, tiny_digits):
    with pytest.raises(SpecError, match="unknown one-shot strategy"):
        run_oneshot("gdas", nb201, tiny_digits)
