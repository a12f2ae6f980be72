import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from searches.estimators.zero_cost import PROXIES, ProxyError, compute_proxies, compute_proxy, random_batch
from searches.spaces.chain_mlp import ChainMLPSpace
from searches.spaces.nb201 import NB201Space
from searches.spaces.nb201_cell import string_to_arch
from searches.spaces.transformer import TransformerSpace

torch.set_num_threads(1)

CELL = string_to_arch("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")
TRANSFORMER_ARCH = {"depth": 2, "embed_dim": 16, "heads_1": 2, "mlp_ratio_1": 2.0, "heads_2": 4, "mlp_ratio_2": 1.0}
CNN_PROXIES = sorted(set(PROXIES) - {"decoder_params"})


def mlp(width, norm="batch", seed=0, depth=2):
    torch.manual_seed(seed)
    arch = {"depth": depth, **{f"width_{i}": width for i in range(1, depth + 1)},
            "activation": "relu", "dropout": 0.0, "norm": norm}
    return ChainMLPSpace({"widths": [8, 16, 32, 64], "max_depth": 3}).to_torch(arch, (12,), 4)


def nb201(channels=4, seed=0):
    torch.manual_seed(seed)
    return NB201Space({"C": channels, "N": 1}).to_torch(CELL, (3, 8, 8), 10)


@pytest.mark.parametrize("name", CNN_PROXIES)
@pytest.mark.parametrize("builder, input_shape, classes", [(nb201, (3, 8, 8), 10), (mlp, (12,), 4)],
                         ids=["nb201", "mlp"])
def test_each_proxy_returns_a_finite_float(name, builder, input_shape, classes):
    model = builder(8)
    x, y = random_batch(input_shape, classes, batch=16, seed=1)
    score = compute_proxy(name, model, x, y)
    assert isinstance(score, float) and math.isfinite(score)


@pytest.mark.parametrize("name", sorted(PROXIES))
def test_each_proxy_scores_a_transformer_or_says_why_not(name):
    torch.manual_seed(0)
    model = TransformerSpace().to_torch(TRANSFORMER_ARCH, (10,), 3, vocab_size=7)
    x, y = random_batch((10,), 3, batch=8, seed=0, vocab_size=7)
    if name == "jacob_cov":
        with pytest.raises(ProxyError, match="token ids have no jacobian"):
            compute_proxy(name, model, x, y)
    else:
        assert math.isfinite(compute_proxy(name, model, x, y))


def test_proxies_leave_the_model_and_the_random_state_alone():
    model = nb201()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = random_batch((3, 8, 8), 10, batch=8)
    rng_before = torch.get_rng_state()
    for name in CNN_PROXIES:
        compute_proxy(name, model, x, y)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics included
    assert all(p.grad is None for p in model.parameters())
    assert next(model.parameters()).dtype == torch.float32  # synflow works in double on a copy
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_proxies_repeat_exactly():
    model = mlp(16, seed=2)
    x, y = random_batch((12,), 4, batch=16)
    for name in CNN_PROXIES:
        assert compute_proxy(name, model, x, y) == compute_proxy(name, model, x, y)


@pytest.mark.parametrize("narrow, wide, input_shape", [(mlp(8), mlp(64), (12,)), (nb201(2), nb201(8), (3, 8, 8))],
                         ids=["mlp", "nb201"])
def test_synflow_ranks_a_wider_network_above_a_narrower_one(narrow, wide, input_shape):
    x, y = random_batch(input_shape, 4, batch=4)
    assert compute_proxy("synflow", wide, x, y) > compute_proxy("synflow", narrow, x, y)


def test_synflow_ignores_batch_norm_as_in_abdelfattah_et_al():
    # Same seed, same linear weights; batch norm (weight 1, bias 0) is removed for synflow.
    x, y = random_batch((12,), 4, batch=4)
    with_bn, without_bn = mlp(16, norm="batch"), mlp(16, norm="none")
    assert compute_proxy("synflow", with_bn, x, y) == pytest.approx(compute_proxy("synflow", without_bn, x, y))


def test_synflow_by_hand_on_a_two_layer_linear_network():
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0], [3.0, 0.5]]))
        model[1].weight.copy_(torch.tensor([[-1.0, 2.0]]))
    # R = |w2| |W1| 1 ; each weight contributes |w * dR/dw| = its share of R, so the sum is 2R.
    r = np.abs([[-1.0, 2.0]]) @ np.abs([[1.0, -2.0], [3.0, 0.5]]) @ np.ones(2)
    assert compute_proxy("synflow", model, torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)) == pytest.approx(
        2 * float(r[0]))


def test_naswot_matches_the_binary_code_kernel_by_hand():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(0))
    codes = (model[0](x) > 0).double().detach().numpy()
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    sign, expected = np.linalg.slogdet(kernel)
    assert sign > 0
    assert compute_proxy("naswot", model, x, torch.zeros(5, dtype=torch.long)) == pytest.approx(expected)


def test_naswot_prefers_networks_that_tell_inputs_apart():
    x, y = random_batch((12,), 4, batch=16)
    identical = x[:1].repeat(16, 1)
    model = mlp(32, norm="none")
    assert compute_proxy("naswot", model, identical, y) == -math.inf  # every pair looks the same
    assert compute_proxy("naswot", mlp(64, norm="none"), x, y) > compute_proxy("naswot", mlp(8, norm="none"), x, y)


def test_naswot_needs_relu_like_activations():
    with pytest.raises(ProxyError, match="NASWOT needs activation modules"):
        compute_proxy("naswot", nn.Linear(3, 2), torch.randn(4, 3), torch.zeros(4, dtype=torch.long))


def test_jacob_cov_ranks_a_network_that_ignores_its_input_last():
    x, y = random_batch((12,), 4, batch=16)
    constant = nn.Sequential(nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 4))
    with torch.no_grad():
        constant[0].weight.zero_()
    assert compute_proxy("jacob_cov", constant, x, y) < compute_proxy("jacob_cov", mlp(16), x, y)


def test_jacob_cov_scores_a_cell_cut_off_from_its_input_as_the_worst():
    x, y = random_batch((3, 8, 8), 10, batch=8)
    torch.manual_seed(0)
    cut_off = NB201Space({"C": 4, "N": 1}).to_torch(string_to_arch(
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), (3, 8, 8), 10)
    assert compute_proxy("jacob_cov", cut_off, x, y) < compute_proxy("jacob_cov", nb201(), x, y)


def test_flops_counts_multiply_accumulates_per_sample():
    x = torch.randn(7, 3, 8, 8)
    conv = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))
    expected = 8 * 8 * 4 * (3 * 3 * 3) + 4 * 8 * 8 * 5
    assert compute_proxy("flops", conv, x, None) == expected


def test_flops_counts_attention():
    attention = nn.MultiheadAttention(8, 2, batch_first=True)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = attention

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    length, dim = 5, 8
    projections = 4 * length * dim * dim  # q, k, v and output
    mixing = 2 * length * length * dim  # scores and the weighted sum
    assert compute_proxy("flops", SelfAttention(), torch.randn(3, length, dim), None) == projections + mixing


def test_params_and_decoder_params():
    torch.manual_seed(0)
    space = TransformerSpace()
    model = space.to_torch(TRANSFORMER_ARCH, (10,), 3, task="language_modelling", vocab_size=7)
    x, y = random_batch((10,), 3, batch=4, vocab_size=7, task="language_modelling")
    assert compute_proxy("params", model, x, y) == sum(p.numel() for p in model.parameters())
    decoder = compute_proxy("decoder_params", model, x, y)
    assert decoder == space.decoder_params(TRANSFORMER_ARCH)
    assert decoder < compute_proxy("params", model, x, y)  # embeddings and head excluded
    with pytest.raises(ProxyError, match="applies to transformers"):
        compute_proxy("decoder_params", mlp(8), *random_batch((12,), 4, batch=4))


def test_unknown_proxy():
    with pytest.raises(ProxyError, match="unknown proxy 'magic'"):
        compute_proxy("magic", mlp(8), torch.zeros(2, 12), torch.zeros(2, dtype=torch.long))


def test_random_batch_shapes():
    x, y = random_batch((3, 8, 8), 10, batch=5, seed=3)
    assert x.shape == (5, 3, 8, 8) and y.shape == (5,) and int(y.max()) < 10
    tokens, targets = random_batch((6,), 0, batch=2, vocab_size=4, task="language_modelling")
    assert tokens.shape == targets.shape == (2, 6) and float(tokens.max()) < 4
    assert torch.equal(random_batch((4,), 2, seed=1)[0], random_batch((4,), 2, seed=1)[0])


@pytest.mark.parametrize("builder, input_shape, classes", [(nb201, (3, 8, 8), 10), (mlp, (12,), 4)],
                         ids=["nb201", "mlp"])
def test_one_shared_pass_gives_each_proxy_its_own_score(builder, input_shape, classes):
    model = builder(8)
    x, y = random_batch(input_shape, classes, batch=16, seed=2)
    together = compute_proxies(CNN_PROXIES, model, x, y, seed=3)
    assert together == {name: compute_proxy(name, model, x, y, seed=3) for name in CNN_PROXIES}


def test_compute_proxies_maps_a_proxy_that_cannot_score_to_its_error():
    scores = compute_proxies(["params", "decoder_params"], mlp(8), *random_batch((12,), 4, batch=4))
    assert scores["params"] > 0 and isinstance(scores["decoder_params"], ProxyError)


def test_fisher_by_hand_on_one_linear_layer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 3))
    x, y = torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    z = model(x)
    (dz,) = torch.autograd.grad(F.cross_entropy(z, y), z)
    expected = float(0.5 * (z.detach() * dz).pow(2).mean(0).sum())
    assert compute_proxy("fisher", model, x, y) == pytest.approx(expected, rel=1e-6)


def test_grasp_by_hand_is_minus_theta_hessian_gradient():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3, bias=False), nn.Tanh(), nn.Linear(3, 2, bias=False))
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 1, 0, 1])
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_of(theta):
        w1, w2 = theta[:12].reshape(shapes[0]), theta[12:].reshape(shapes[1])
        return F.cross_entropy(torch.tanh(x @ w1.T) @ w2.T, y)

    gradient = torch.autograd.functional.jacobian(loss_of, flat)
    hessian = torch.autograd.functional.hessian(loss_of, flat)
    expected = float(-(flat * (hessian @ gradient)).sum())
    assert compute_proxy("grasp", model, x, y) == pytest.approx(expected, rel=1e-4)


def separate_naswot_kernel(model, x):
    """NASWOT's kernel the plain way: every activation module's codes on their own, no term shared."""
    kernel = torch.zeros((len(x), len(x)), dtype=torch.float64)

    def add(module, inputs, output):
        codes = (inputs[0].detach().reshape(len(x), -1) > 0).double()
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)
    handles = [m.register_forward_hook(add) for m in model.modules() if isinstance(m, nn.ReLU)]
    model.train()
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
    return kernel


def test_naswot_shares_the_term_of_activations_that_read_one_tensor_and_gives_the_same_score():
    model = nb201(8)
    x, y = random_batch((3, 8, 8), 10, batch=16, seed=4)
    reads = {}
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(lambda module, inputs, output: reads.setdefault(id(inputs[0]), []).append(module))
    model(x)
    assert any(len(modules) > 1 for modules in reads.values())  # the cell's node 0 feeds two ReLUs
    sign, expected = torch.linalg.slogdet(separate_naswot_kernel(copy.deepcopy(model), x))
    assert sign > 0 and compute_proxy("naswot", model, x, y) == pytest.approx(float(expected), rel=1e-5)


def test_naswot_does_not_reuse_the_codes_of_a_tensor_changed_in_place():
    class TwoReads(nn.Module):
        def __init__(self):
            super().__init__()
            self.first, self.second, self.linear = nn.ReLU(), nn.ReLU(), nn.Linear(6, 2)

        def forward(self, x):
            a = self.first(x)
            x.add_(0.5)  # the same tensor object, other values: its codes must be read again
            return self.linear(a + self.second(x))

    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(0))
    codes = [(x > 0).double(), (x + 0.5 > 0).double()]
    kernel = sum(c @ c.T + (1 - c) @ (1 - c).T for c in codes)
    sign, expected = torch.linalg.slogdet(kernel)
    assert sign > 0
    assert compute_proxy("naswot", TwoReads(), x.clone(), torch.zeros(5, dtype=torch.long)) == pytest.approx(
        float(expected), rel=1e-9)


def test_shared_pass_fisher_and_gradient_proxies_match_separate_passes():
    # Each figure recomputed from its own forward and backward, the obvious way.
    model = nb201(8)
    x, y = random_batch((3, 8, 8), 10, batch=16, seed=5)
    shared = compute_proxies(["snip", "grad_norm", "fisher", "grasp", "naswot", "jacob_cov"], model, x, y)
    separate = copy.deepcopy(model).train()
    layers = [m for m in separate.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    outputs = []
    handles = [m.register_forward_hook(lambda module, inputs, output: outputs.append(output)) for m in layers]
    loss = F.cross_entropy(separate(x), y)
    for handle in handles:
        handle.remove()
    weights = [m.weight for m in layers]
    grads = torch.autograd.grad(loss, weights + outputs, create_graph=True)
    weight_grads, output_grads = grads[:len(weights)], grads[len(weights):]
    products = [a.detach() * g.detach() for a, g in zip(outputs, output_grads, strict=True)]
    per_channel = [p.sum((2, 3)) if p.dim() == 4 else p for p in products]  # conv: sum over positions
    fisher = sum(float(0.5 * c.pow(2).mean(0).sum()) for c in per_channel)
    snip = sum(float((w.detach() * g.detach()).abs().sum()) for w, g in zip(weights, weight_grads, strict=True))
    grad_norm = sum(float(g.detach().norm()) for g in weight_grads)
    hessian_gradient = torch.autograd.grad(sum((g.detach() * g).sum() for g in weight_grads), weights)
    grasp = -sum(float((w.detach() * h).sum()) for w, h in zip(weights, hessian_gradient, strict=True))
    assert shared["fisher"] == pytest.approx(fisher, rel=1e-5)
    assert shared["snip"] == pytest.approx(snip, rel=1e-5)
    assert shared["grad_norm"] == pytest.approx(grad_norm, rel=1e-5)
    assert shared["grasp"] == pytest.approx(grasp, rel=1e-5)
