import random
import re

import pytest
import torch
from torch import nn

from searches.checks import SpecError
from searches.oneshot.supernet import (
    ArchitectureParameters,
    Gate,
    binary_gate,
    mixture_gates,
    use_batch_statistics,
)
from searches.oneshot.supernets import build_supernet
from searches.spaces.nb201_cell import EDGE_NAMES
from searches.spaces.transformer import TransformerSpace

SHAPE = (1, 8, 8)


def images(n=12, seed=0):
    return torch.randn((n, *SHAPE), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kind", ["nb201", "chain_mlp", "macro_cnn"])
def test_single_path_output_has_the_stand_alone_models_shape(spaces, kind):
    space = spaces[kind]
    torch.manual_seed(0)
    supernet = build_supernet(space, SHAPE, 10)
    x = images()
    for seed in range(4):
        arch = space.sample(random.Random(seed))
        standalone = space.to_torch(arch, SHAPE, 10)
        assert supernet.forward_path(x, arch).shape == standalone(x).shape == (12, 10)


def standalone_with_inherited_weights(space, supernet, arch):
    """The stand-alone NB201 network with the chosen candidates' weights copied in."""
    model = use_batch_statistics(space.to_torch(arch, SHAPE, 10))
    shared = supernet.state_dict()
    ops = space.spec["ops"]
    state = {}
    for key, value in model.state_dict().items():
        edge = re.match(r"(features\.\d+\.edges\.)(edge_\d<-\d)\.(.*)", key)
        shared_key = f"{edge[1]}{edge[2]}.candidates.{ops.index(arch[edge[2]])}.{edge[3]}" if edge else key
        # Only the affine scale/shift of the ops' batch norms is absent: DARTS drops it in mixed ops.
        state[key] = shared.get(shared_key, value)
    model.load_state_dict(state)
    return model


def test_nb201_single_path_computes_exactly_the_stand_alone_network(nb201):
    torch.manual_seed(0)
    supernet = build_supernet(nb201, SHAPE, 10)
    x = images()
    for seed in range(3):
        arch = nb201.sample(random.Random(seed))
        model = standalone_with_inherited_weights(nb201, supernet, arch)
        assert torch.allclose(model(x), supernet.forward_path(x, arch), atol=1e-5)


def test_nb201_single_path_runs_only_the_chosen_op_of_each_edge(nb201):
    supernet = build_supernet(nb201, SHAPE, 10)
    ops = nb201.spec["ops"]
    ran = []
    cell = next(m for m in supernet.features if hasattr(m, "edges"))
    for edge, mixed in cell.edges.items():
        for index, candidate in enumerate(mixed.candidates):
            candidate.register_forward_hook(lambda *_, e=edge, i=index: ran.append((e, ops[i])))
    arch = dict(zip(EDGE_NAMES, ["nor_conv_3x3", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "none",
                                 "nor_conv_3x3"], strict=True))
    supernet.forward_path(images(), arch)
    # 'none' is never computed (it adds zeros), every other chosen op exactly once.
    assert sorted(ran) == sorted((e, op) for e, op in arch.items() if op != "none")


def trained_parameters(module: nn.Module) -> set[str]:
    return {name for name, p in module.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_macro_cnn_single_path_trains_only_the_chosen_blocks(macro_cnn):
    torch.manual_seed(0)
    supernet = build_supernet(macro_cnn, SHAPE, 10)
    arch = macro_cnn.to_arch({**macro_cnn.complete({}), "stages": 1, "blocks_1": 1, "channels_1": 8,
                              "kernel_1": 5, "block_1": "conv"})
    supernet.forward_path(images(), arch).sum().backward()
    block = supernet.stages[0][0]
    chosen = block.variants.index(("conv", 5, None))
    trained = trained_parameters(supernet)
    assert any(name.startswith(f"stages.0.0.candidates.{chosen}.") for name in trained)
    assert not any(name.startswith("stages.0.0.candidates.") and not name.startswith(f"stages.0.0.candidates.{chosen}.")
                   for name in trained)
    assert not any(name.startswith(("stages.0.1.", "stages.1.")) for name in trained)  # blocks and stages beyond


def test_chain_mlp_single_path_trains_only_the_chosen_widths_and_depth(chain_mlp):
    torch.manual_seed(0)
    supernet = build_supernet(chain_mlp, SHAPE, 10)
    arch = chain_mlp.to_arch({**chain_mlp.complete({}), "depth": 2, "width_1": 8, "width_2": 16})
    supernet.forward_path(images(), arch).sum().backward()
    first, second = supernet.layers[0].linear.weight.grad, supernet.layers[1].linear.weight.grad
    assert first[:8].abs().sum() > 0 and first[8:].abs().sum() == 0  # rows beyond width 8 unused
    assert second[:16, :8].abs().sum() > 0 and second[16:].abs().sum() == 0 and second[:, 8:].abs().sum() == 0
    assert supernet.layers[2].linear.weight.grad is None  # beyond the chosen depth


@pytest.mark.parametrize("kind", ["nb201", "chain_mlp", "macro_cnn"])
def test_mixture_weights_are_distributions(spaces, kind):
    space = spaces[kind]
    alphas = ArchitectureParameters(space.decisions, init_scale=1.0, generator=torch.Generator().manual_seed(0))
    for name, probs in alphas.probabilities().items():
        assert len(probs) == len(space.decision(name).choices)
        assert torch.isclose(probs.sum(), torch.tensor(1.0))
    for choices in alphas.table().values():
        assert sum(choices.values()) == pytest.approx(1.0)
    supernet = build_supernet(space, SHAPE, 10)
    assert supernet(images(), alphas.mixture_gates()).shape == (12, 10)


def test_a_mixed_edge_outputs_the_probability_weighted_sum_of_its_ops(nb201):
    supernet = build_supernet(nb201, SHAPE, 10)
    edge = next(m for m in supernet.features if hasattr(m, "edges")).edges["edge_1<-0"]
    x = torch.randn(6, 4, 8, 8)
    probs = torch.softmax(torch.tensor([0.3, -1.0, 2.0, 0.5, 0.1]), dim=0)
    expected = sum(p * candidate(x) for p, candidate in zip(probs, edge.candidates, strict=True))
    assert torch.allclose(edge(x, mixture_gates({"e": probs})["e"]), expected, atol=1e-6)


def test_binary_gate_runs_one_path_forward_and_reaches_both_sampled_alphas(nb201):
    supernet = build_supernet(nb201, SHAPE, 10)
    edge = next(m for m in supernet.features if hasattr(m, "edges")).edges["edge_1<-0"]
    x = torch.randn(6, 4, 8, 8)
    alpha = torch.zeros(5, requires_grad=True)
    gate = binary_gate(alpha, (2, 3), torch.Generator().manual_seed(0))
    active = gate.indices[int(gate.weights.argmax())]
    out = edge(x, gate)
    assert torch.allclose(out, edge.candidates[active](x), atol=1e-6)
    out.pow(2).sum().backward()
    assert alpha.grad[2] != 0 and alpha.grad[3] != 0
    assert alpha.grad[[0, 1, 4]].abs().sum() == 0  # unsampled choices are masked out


def test_gate_weight_where_skips_choices_that_do_not_run():
    gate = Gate((1, 3), torch.tensor([0.25, 0.75]))
    assert gate.weight_where(lambda i: i == 0) is None
    assert float(gate.weight_where(lambda i: i >= 1)) == 1.0
    assert Gate((2,)).weight_where(lambda i: i == 2) == 1.0


def test_spaces_without_a_supernet_are_refused():
    with pytest.raises(SpecError, match="no supernet"):
        build_supernet(TransformerSpace(), (15,), 2)
