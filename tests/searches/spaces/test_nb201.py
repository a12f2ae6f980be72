import pytest
import torch

from searches.benchmarks.nb201 import Nb201Table
from searches.checks import SpecError
from searches.spaces.nb201 import NB201Space
from searches.spaces.nb201_cell import EDGE_NAMES, OPS, arch_to_string, string_to_arch

torch.set_num_threads(1)

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def table():
    return Nb201Table.load()


def test_decisions_are_the_six_edges_in_the_official_order():
    space = NB201Space()
    assert [d.name for d in space.decisions] == ["edge_1<-0", "edge_2<-0", "edge_2<-1",
                                                 "edge_3<-0", "edge_3<-1", "edge_3<-2"]
    assert all(d.choices == OPS for d in space.decisions)
    assert space.size() == 15625 == len(list(space.enumerate()))


def test_arch_string_round_trips_on_rows_of_the_shipped_table(table):
    for row in table.rows[::97]:
        arch = string_to_arch(row.arch)
        assert arch_to_string(arch) == row.arch
        NB201Space().validate_arch(arch)
    assert string_to_arch(BEST)["edge_3<-0"] == "skip_connect"
    assert string_to_arch(BEST)["edge_3<-2"] == "nor_conv_1x1"
    assert NB201Space().describe(string_to_arch(BEST)) == BEST


@pytest.mark.parametrize("text", ["", "|none~0|", "|none~0|+|none~0|+|none~0|none~1|none~2|",
                                  "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                  "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_malformed_strings_are_rejected(text):
    with pytest.raises(SpecError):
        string_to_arch(text)


def test_spec_limits_the_ops_and_is_checked():
    space = NB201Space({"ops": ["nor_conv_3x3", "none"]})
    assert space.size() == 64 and space.decisions[0].choices == ("none", "nor_conv_3x3")
    with pytest.raises(SpecError) as err:
        NB201Space({"ops": ["sep_conv_5x5"]})
    assert err.value.field == "ops"
    with pytest.raises(SpecError) as err:
        NB201Space({"C": 0})
    assert err.value.field == "C"


@pytest.mark.parametrize(("shape", "classes"), [((3, 32, 32), 10), ((1, 8, 8), 10), ((3, 7, 5), 4)])
def test_forward_shape(shape, classes):
    model = NB201Space().to_torch(string_to_arch(BEST), shape, classes)
    assert model(torch.randn(2, *shape)).shape == (2, classes)


def test_parameter_count_matches_the_benchmark_at_the_papers_size(table):
    paper = NB201Space({"C": 16, "N": 5})
    for text in (BEST, table.rows[0].arch):
        model = paper.to_torch(string_to_arch(text), (3, 32, 32), 10)
        assert sum(p.numel() for p in model.parameters()) == round(table.lookup(text).params_m * 1e6)


def test_none_edges_output_zeros():
    all_none = dict.fromkeys(EDGE_NAMES, "none")
    model = NB201Space({"N": 2}).to_torch(all_none, (3, 8, 8), 10)
    cell = next(m for m in model.modules() if type(m).__name__ == "Cell")
    x = torch.randn(2, 8, 8, 8)
    assert torch.equal(cell(x), torch.zeros_like(x))
    assert torch.equal(cell.edges["edge_1<-0"](x), torch.zeros_like(x))


def test_skip_only_cell_sums_its_paths():
    skips = dict.fromkeys(EDGE_NAMES, "skip_connect")
    cell = next(m for m in NB201Space().to_torch(skips, (1, 8, 8), 2).modules() if type(m).__name__ == "Cell")
    x = torch.randn(1, 8, 4, 4)
    # node1 = x, node2 = 2x, node3 = x + x + 2x
    assert torch.allclose(cell(x), 4 * x)


def test_rejects_non_image_inputs():
    with pytest.raises(SpecError) as err:
        NB201Space().to_torch(string_to_arch(BEST), (64,), 10)
    assert err.value.field == "input_shape"
