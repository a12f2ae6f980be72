import pytest
import torch

from searches.checks import SpecError
from searches.oneshot.darts import Darts
from searches.oneshot.memory import training_step_memory
from searches.oneshot.pcdarts import PCDarts
from searches.oneshot.supernet import Gate
from searches.oneshot.supernet_nb201 import MixedEdge, channel_shuffle
from searches.spaces.nb201 import NB201Space


def test_channel_shuffle_interleaves_the_groups():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert torch.equal(channel_shuffle(channel_shuffle(x, 2), 4), x)  # shuffling by 2 undoes shuffling by 4 of 8


def test_only_a_share_of_the_channels_goes_through_the_mixed_op():
    torch.manual_seed(0)
    ops = ("none", "skip_connect", "nor_conv_3x3")
    edge = MixedEdge(ops, channels=8, partial_channels=4)
    assert edge.candidates[2].op[1].in_channels == 2  # the conv is built 8 / 4 wide
    x = torch.randn(3, 8, 5, 5)
    out = edge(x, Gate((2,)))
    unshuffled = channel_shuffle(out, 2)  # undo the shuffle by 4 of 8 channels
    assert torch.equal(unshuffled[:, 2:], x[:, 2:])  # 6 of 8 channels bypass the op
    assert not torch.allclose(unshuffled[:, :2], x[:, :2])
    zero = channel_shuffle(edge(x, Gate((0,))), 2)
    assert torch.equal(zero[:, :2], torch.zeros_like(x[:, :2])) and torch.equal(zero[:, 2:], x[:, 2:])


def test_the_supernet_needs_a_fraction_of_darts_activation_memory(tiny_digits):
    space = NB201Space({"C": 8, "N": 1})
    x, y = tiny_digits.x_train[:64], tiny_digits.y_train[:64]
    darts = Darts(space, tiny_digits, {"epochs": 1}, seed=0)
    partial = PCDarts(space, tiny_digits, {"epochs": 1, "partial_channels": 4}, seed=0)
    full = training_step_memory(darts.supernet, x, y, darts.mixture_gates())
    reduced = training_step_memory(partial.supernet, x, y, partial.mixture_gates())
    assert reduced.saved_activation_bytes < 0.6 * full.saved_activation_bytes
    assert reduced.parameter_bytes < full.parameter_bytes


def test_edge_normalisation_weights_are_learned_with_alpha(nb201, tiny_digits):
    search = PCDarts(nb201, tiny_digits, {"epochs": 1, "partial_channels": 2}, seed=0)
    before = [beta.detach().clone() for beta in search.betas]
    result = search.run()
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, search.betas, strict=False))
    weights = result.history[0]["edge_weights"]
    assert sorted(weights) == ["2", "3"] and all(abs(sum(w) - 1) < 1e-6 for w in weights.values())
    assert "none" not in result.arch.values()

    plain = PCDarts(nb201, tiny_digits, {"epochs": 1, "partial_channels": 2, "edge_normalisation": False}, seed=0)
    assert len(plain.arch_parameters()) == len(nb201.decisions)
    assert "edge_weights" not in plain.run().history[0]


def test_edge_weights_scale_the_node_inputs(nb201, tiny_digits):
    search = PCDarts(nb201, tiny_digits, {"epochs": 1, "partial_channels": 2}, seed=0)
    x = tiny_digits.x_val[:16]
    gates = search.alphas.mixture_gates()
    search.supernet.eval()
    with torch.no_grad():
        search.supernet.edge_weights = None
        summed = search.supernet(x, gates)
        search.supernet.edge_weights = {2: torch.tensor([1.0, 0.0]), 3: torch.tensor([0.0, 0.0, 1.0])}
        weighted = search.supernet(x, gates)
    assert not torch.allclose(summed, weighted)


@pytest.mark.parametrize("kind", ["chain_mlp", "macro_cnn"])
def test_spaces_without_channel_edges_are_refused(spaces, tiny_digits, kind):
    with pytest.raises(SpecError, match="only the nb201") as exc:
        PCDarts(spaces[kind], tiny_digits, {"epochs": 1})
    assert exc.value.field == "space"


def test_the_share_must_divide_the_width(nb201, tiny_digits):
    with pytest.raises(SpecError) as exc:
        PCDarts(nb201, tiny_digits, {"epochs": 1, "partial_channels": 3})
    assert exc.value.field == "partial_channels"
