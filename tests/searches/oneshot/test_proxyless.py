import pytest
import torch

from searches.checks import SpecError
from searches.oneshot.proxyless import ExpectedLatency, ProxylessNAS, run_proxyless
from searches.spaces.nb201_cell import EDGE_NAMES

#: Synthetic per-op latencies (ms): convolutions expensive, parameter-free ops nearly free.
OP_MS = {"none": 0.0, "skip_connect": 0.1, "nor_conv_1x1": 5.0, "nor_conv_3x3": 20.0, "avg_pool_3x3": 0.5}
TABLE = {edge: dict(OP_MS) for edge in EDGE_NAMES}


def test_a_large_latency_weight_prefers_cheap_ops(nb201, tiny_digits):
    settings = {"epochs": 3, "arch_lr": 0.05}
    free = run_proxyless(nb201, tiny_digits, {**settings, "latency_weight": 0.0}, seed=0,
                         latency_table=TABLE, latency_base_ms=1.0)
    costly = run_proxyless(nb201, tiny_digits, {**settings, "latency_weight": 5.0}, seed=0,
                           latency_table=TABLE, latency_base_ms=1.0)
    uniform = 1.0 + 6 * sum(OP_MS.values()) / 5
    assert costly.history[-1]["expected_latency"] < free.history[-1]["expected_latency"] < uniform + 1.0
    assert costly.history[-1]["expected_latency"] < 0.8 * uniform
    assert set(costly.arch.values()) <= {"none", "skip_connect", "avg_pool_3x3"}
    nb201.validate_arch(costly.arch)


def test_the_multiplicative_form_also_lowers_latency(nb201, tiny_digits):
    result = run_proxyless(nb201, tiny_digits, {"epochs": 3, "arch_lr": 0.05, "latency_weight": 2.0,
                                                "latency_loss": "mul"}, seed=0,
                           latency_table=TABLE, latency_base_ms=1.0)
    latencies = [info["expected_latency"] for info in result.history]
    assert latencies[-1] < latencies[0] < 1.0 + 6 * sum(OP_MS.values()) / 5


def test_arch_step_leaves_unsampled_choices_probabilities_unchanged(nb201, tiny_digits):
    search = ProxylessNAS(nb201, tiny_digits, {"epochs": 1, "arch_lr": 0.1, "arch_paths": 2}, seed=0)
    before = {k: v.detach().clone() for k, v in search.alphas.probabilities().items()}
    search.arch_step(tiny_digits.x_val[:32], tiny_digits.y_val[:32])
    after = search.alphas.probabilities()
    moved_any = False
    for name in before:
        unchanged = torch.isclose(before[name], after[name], atol=1e-6)
        assert int(unchanged.sum()) >= len(unchanged) - 2  # only the two sampled choices trade probability
        moved_any |= not bool(unchanged.all())
    assert moved_any


def test_latency_table_accepts_json_labels_and_refuses_gaps(chain_mlp):
    table = {d.name: {str(c): float(i) for i, c in enumerate(d.choices)} for d in chain_mlp.decisions}
    latency = ExpectedLatency(chain_mlp, table, 1.0)
    arch = chain_mlp.to_arch({**chain_mlp.complete({}), "depth": 1, "width_1": 32})
    assert latency.of_arch(arch) == 1.0 + 2.0  # width 32 is the third choice; the other choices are first
    probs = {d.name: torch.full((len(d.choices),), 1 / len(d.choices)) for d in chain_mlp.decisions}
    assert float(latency.expected(probs)) == pytest.approx(latency.uniform())
    with pytest.raises(SpecError, match="width_2"):
        ExpectedLatency(chain_mlp, {k: v for k, v in table.items() if k != "width_2"})
    with pytest.raises(SpecError, match="not a decision"):
        ExpectedLatency(chain_mlp, {**table, "width_9": {"8": 1.0}})


def test_latency_weight_needs_a_table(nb201, tiny_digits):
    with pytest.raises(SpecError, match="latency table"):
        ProxylessNAS(nb201, tiny_digits, {"latency_weight": 0.5})


def test_proxyless_is_deterministic_and_cancellable(nb201, tiny_digits):
    settings = {"epochs": 3, "latency_weight": 0.5}
    first = run_proxyless(nb201, tiny_digits, settings, seed=5, on_epoch=lambda e, i: e < 2,
                          latency_table=TABLE, latency_base_ms=1.0)
    again = run_proxyless(nb201, tiny_digits, settings, seed=5, on_epoch=lambda e, i: e < 2,
                          latency_table=TABLE, latency_base_ms=1.0)
    assert first.epochs_run == 2 and first.stopped == "stopped_by_callback"
    assert first.arch_weights == again.arch_weights
