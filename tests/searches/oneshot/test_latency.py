import pytest

from searches.checks import SpecError
from searches.oneshot.latency import build_latency_table, output_depends_on_input, reference_arch
from searches.spaces.chain_mlp import ChainMLPSpace
from searches.spaces.nb201_cell import EDGE_NAMES, string_to_arch

SHAPE = (1, 8, 8)


def test_macs_proxy_orders_nb201_ops_by_their_arithmetic(nb201):
    costs = build_latency_table(nb201, "macs", SHAPE, 10)
    assert costs.unit == "MMACs" and costs.base > 0
    for edge in EDGE_NAMES:
        row = costs.table[edge]
        assert row["nor_conv_3x3"] > row["nor_conv_1x1"] > row["skip_connect"] == row["none"] == 0


@pytest.mark.parametrize("device", ["raspi4", "eyeriss"])
def test_hwnasbench_regression_gives_per_op_costs_and_its_fit(nb201, device):
    costs = build_latency_table(nb201, device, SHAPE, 10)
    assert costs.unit == "ms" and costs.base > 0
    assert costs.fit["r2"] > 0.9 and costs.fit["cells"] < 15_625  # degenerate cells left out
    for edge in EDGE_NAMES:
        assert costs.table[edge]["nor_conv_3x3"] > costs.table[edge]["nor_conv_1x1"] > costs.table[edge]["none"]


def test_eyeriss_latency_is_additive_so_the_table_reproduces_the_benchmark(nb201):
    from devices.costs import hwnasbench

    costs = build_latency_table(nb201, "eyeriss", SHAPE, 10)
    text = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"
    assert costs.of_arch(string_to_arch(text)) == pytest.approx(hwnasbench.latency_ms("eyeriss", arch=text), rel=1e-6)


def test_predictor_table_on_this_cpu_charges_wider_layers_more():
    space = ChainMLPSpace({"min_depth": 1, "max_depth": 1, "widths": [4, 4096], "activations": ["relu"],
                           "dropouts": [0.0], "norms": ["none"]})
    costs = build_latency_table(space, "cpu", SHAPE, 10)
    assert costs.unit == "ms" and costs.base > 0
    assert costs.table["width_1"]["4096"] > costs.table["width_1"]["4"] == 0


def test_reference_arch_activates_every_decision(macro_cnn):
    reference = reference_arch(macro_cnn)
    assert set(macro_cnn.active_decisions(reference)) == {d.name for d in macro_cnn.decisions}


def test_cells_without_a_path_from_input_to_output_are_recognised():
    assert not output_depends_on_input(string_to_arch("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    assert output_depends_on_input(string_to_arch("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"))


def test_unknown_targets_and_unsupported_spaces_are_refused(nb201, chain_mlp):
    with pytest.raises(SpecError, match="NB201"):
        build_latency_table(chain_mlp, "raspi4", SHAPE, 10)
    with pytest.raises(SpecError, match="unknown target"):
        build_latency_table(nb201, "tpu", SHAPE, 10)
