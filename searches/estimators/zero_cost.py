"""Zero-cost proxies: score an untrained network from one minibatch, without training.

After Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS" (ICLR 2021):
synflow, snip, grad_norm, fisher, grasp, jacob_cov, params and FLOPs; Mellor et al.,
"Neural Architecture Search without Training" (ICML 2021): NASWOT; and for transformers
the LiteTransformerSearch proxy (Javaheripi et al. 2022): decoder parameters.

Every proxy has the signature (model, x, y) -> float and a higher score means
a better predicted network. compute_proxy works on a copy of the model inside a
forked random state, so the caller's model, its gradients and batch-norm
statistics and the global generator are left exactly as they were. compute_proxies scores
several proxies from one shared forward of the minibatch (what the NAS-Bench-201 check uses).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np

from devices.costs.flop_count import count_flops

from ..training.trainer import task_loss

#: Activations whose on/off pattern NASWOT reads (all switch around zero).
GATING_ACTIVATIONS = ("ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "ELU")
#: Added to the eigenvalues of the jacobian correlation (Mellor et al., v1 score).
JACOB_COV_K = 1e-5


class ProxyError(ValueError):
    """A proxy cannot score this model (e.g. NASWOT without ReLU-like activations)."""


# --- shared plumbing ------------------------------------------------------------------------
def weighted_layers(model):
    """(module, weight) of every convolution, linear layer and attention input projection:
    the layers whose weights the gradient proxies score."""
    from torch import nn

    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            yield module, module.weight
        elif isinstance(module, nn.MultiheadAttention) and module.in_proj_weight is not None:
            yield module, module.in_proj_weight


#: The proxies read from one train-mode forward of the minibatch (see data_pass_scores).
DATA_PASS_PROXIES = ("snip", "grad_norm", "fisher", "grasp", "jacob_cov", "naswot")
LOSS_PROXIES = ("snip", "grad_norm", "fisher", "grasp")


def data_pass_scores(model, x, y, wanted) -> dict[str, float | ProxyError]:
    """Every data-dependent proxy in `wanted` from ONE train-mode forward of (x, y).

    The forward records the ReLU on/off codes (naswot) and the outputs of the convolutions
    and linear layers (fisher); then up to three backward passes on the same graph:
    d(sum of outputs)/dx (jacob_cov), dL/d(weights, layer outputs) for the cross-entropy L
    (snip, grad_norm, fisher; with create_graph when grasp is wanted) and the Hessian-gradient
    product H g (grasp). Each proxy gets the value it would get alone, bit for bit (with grasp
    in the set, attention runs on the math kernel: equal to rounding). A proxy that cannot score
    the model maps to its ProxyError.
    """
    import torch
    from torch import nn

    wanted = [name for name in DATA_PASS_PROXIES if name in wanted]
    results: dict[str, float | ProxyError] = {}
    has_embedding = any(isinstance(m, nn.Embedding) for m in model.modules())
    if "jacob_cov" in wanted and has_embedding:
        results["jacob_cov"] = ProxyError("jacob_cov needs continuous inputs; token ids have no jacobian")
    kernel = torch.zeros((len(x), len(x)), dtype=torch.float64)
    layer_outputs: list = []
    handles = []
    if "naswot" in wanted:
        add_codes = activation_code_hook(kernel, len(x))  # one hook for all: it shares repeated inputs
        handles = [m.register_forward_hook(add_codes) for m in model.modules()
                   if type(m).__name__ in GATING_ACTIVATIONS]
        if not handles:
            results["naswot"] = ProxyError(f"NASWOT needs activation modules ({', '.join(GATING_ACTIVATIONS)}); "
                                           "the model has none")
    if "fisher" in wanted:
        handles += [m.register_forward_hook(lambda module, inputs, output: layer_outputs.append((module, output)))
                    for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear))]
    wants_jacobian = "jacob_cov" in wanted and "jacob_cov" not in results
    x = x.detach().clone().float().requires_grad_(True) if wants_jacobian else x
    model.train()
    try:
        with second_order_safe_attention("grasp" in wanted):
            output = model(x)
    finally:
        for handle in handles:
            handle.remove()
    if "naswot" in wanted and "naswot" not in results:
        sign, logdet = torch.linalg.slogdet(kernel)
        results["naswot"] = float(logdet) if sign > 0 else -math.inf  # singular: two inputs looked the same
    loss_wanted = [name for name in wanted if name in LOSS_PROXIES]
    if wants_jacobian:
        (jacobian,) = torch.autograd.grad(output.sum(), x, allow_unused=True, retain_graph=bool(loss_wanted))
        results["jacob_cov"] = jacobian_score(jacobian, x)
    if loss_wanted:
        results.update(loss_scores(model, output, y, layer_outputs, loss_wanted))
    return results


def activation_code_hook(kernel, batch: int):
    """A forward hook adding, for every pair of samples, the units on which they agree:
    both on (c_i . c_j) plus both off (units - a_i - a_j + c_i . c_j), a_i the units on for i.
    The product runs in float32 where the counts stay whole numbers below 2**24 (exact).

    Activations that read the same tensor (the ReLUs of every edge leaving one NAS-Bench-201
    node) add the same term: it is computed once per tensor and added again, which gives the
    kernel bit for bit while halving the products on a cell of convolutions."""
    import torch

    # id(input) -> (input, its version, its term): holding the input keeps its id unique, and the
    # version counter tells an input changed in place since (its codes would differ).
    seen: dict[int, tuple] = {}

    def add_codes(module, inputs, output):
        source = inputs[0]
        known = seen.get(id(source))
        if known is not None and known[0] is source and known[1] == source._version:
            kernel.add_(known[2])
            return
        flat = source.detach().reshape(batch, -1)
        codes = (flat > 0).to(torch.float32 if flat.shape[1] < 2**24 else torch.float64)
        both_on = (codes @ codes.T).double()
        active = codes.sum(1, dtype=torch.float64)
        term = 2 * both_on - active[:, None] - active[None, :] + codes.shape[1]
        seen[id(source)] = (source, source._version, term)
        kernel.add_(term)
    return add_codes


def second_order_safe_attention(needed: bool):
    """grasp differentiates twice; the fused CPU attention kernels have no double backward,
    so attention falls back to the math kernel, which gives the same values."""
    import contextlib

    if not needed:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.MATH])


def jacobian_score(jacobian, x) -> float:
    if jacobian is None:  # the output is cut off from the input (e.g. a cell of 'none' edges)
        import torch

        jacobian = torch.zeros_like(x)
    rows = jacobian.reshape(len(x), -1).double().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.corrcoef(rows)
    correlation = np.nan_to_num(correlation, nan=1.0)
    eigenvalues = np.linalg.eigvalsh(correlation)
    shifted = np.clip(eigenvalues, 0.0, None) + JACOB_COV_K
    return float(-np.sum(np.log(shifted) + 1.0 / shifted))


def loss_scores(model, output, y, layer_outputs: list, wanted: list[str]) -> dict[str, float]:
    """snip, grad_norm, fisher and grasp from the cross-entropy gradients of one forward."""
    import torch

    weights = [w for _, w in weighted_layers(model)]
    loss = task_loss(output, y)
    outputs = [output for _, output in layer_outputs]
    grads = torch.autograd.grad(loss, weights + outputs, allow_unused=True, create_graph="grasp" in wanted)
    weight_grads = [(w, g) for w, g in zip(weights, grads[:len(weights)], strict=True) if g is not None]
    results = {}
    if "snip" in wanted:
        results["snip"] = sum(float((w.detach() * g.detach()).abs().sum()) for w, g in weight_grads)
    if "grad_norm" in wanted:
        results["grad_norm"] = sum(float(g.detach().norm()) for _, g in weight_grads)
    if "fisher" in wanted:
        results["fisher"] = sum(fisher_of_layer(module, a.detach(), g.detach()) for (module, a), g
                                in zip(layer_outputs, grads[len(weights):], strict=True) if g is not None)
    if "grasp" in wanted:
        results["grasp"] = grasp_from_gradients(weight_grads)
    return results


def fisher_of_layer(module, activation, gradient) -> float:
    """Theis et al. (2018), as Abdelfattah et al. compute it: per output channel,
    0.5 x mean over the batch of (sum over positions of activation x gradient)^2, summed.
    Convolutions have channels on axis 1, linear layers on the last axis."""
    import torch
    from torch import nn

    if isinstance(module, nn.Linear) and activation.dim() > 2:
        activation, gradient = activation.movedim(-1, 1), gradient.movedim(-1, 1)
    if activation.dim() > 2:  # one dot product per (sample, channel): no full-size temporary
        per_channel = torch.linalg.vecdot(activation.flatten(2), gradient.flatten(2))
    else:
        per_channel = activation * gradient
    return float(0.5 * per_channel.pow(2).mean(0).sum())


def grasp_from_gradients(weight_grads) -> float:
    """Wang et al. (2020), as Abdelfattah et al. compute it: -sum(theta * H g), with g the
    loss gradient (held constant) and H the Hessian of the loss."""
    import torch

    if not weight_grads:
        return 0.0
    weights = [w for w, _ in weight_grads]
    z = sum((g.detach() * g).sum() for _, g in weight_grads)
    if not z.requires_grad:  # a network linear in its weights along every path: H g = 0
        return 0.0
    hessian_grads = torch.autograd.grad(z, weights, allow_unused=True)
    return -sum(float((w.detach() * hg).sum()) for w, hg in zip(weights, hessian_grads, strict=True)
                if hg is not None)


def one_data_proxy(name: str):
    def proxy(model, x, y) -> float:
        score = data_pass_scores(model, x, y, [name])[name]
        if isinstance(score, ProxyError):
            raise score
        return score
    proxy.__name__ = name
    return proxy


# --- the proxies --------------------------------------------------------------------------------
def synflow(model, x, y) -> float:
    """Sum of |theta * dR/dtheta| with R the sum of outputs of the network with absolute weights
    on an all-ones input, in double precision. Batch norm is removed first (Abdelfattah et al.
    run synflow with bn=False): with one constant input it would normalise the signal away."""
    import torch

    model = remove_batch_norm(model).double().eval()
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.abs_()
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64)
    weights = [w for _, w in weighted_layers(model)]
    output = model(ones)
    grads = torch.autograd.grad(output.sum(), weights, allow_unused=True)
    return sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads, strict=True) if g is not None)


def remove_batch_norm(model):
    """Replace every batch-norm module by an identity (in place; callers pass a copy)."""
    from torch import nn

    for name, child in list(model.named_children()):
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            setattr(model, name, nn.Identity())
        else:
            remove_batch_norm(child)
    return model


#: Connection sensitivity (Lee et al. 2019): sum of |dL/dw * w| on one minibatch.
snip = one_data_proxy("snip")
#: Sum over layers of the Euclidean norm of the loss gradient.
grad_norm = one_data_proxy("grad_norm")
#: Fisher information of the layer outputs (Theis et al. 2018); see fisher_of_layer.
fisher = one_data_proxy("fisher")
#: GraSP (Wang et al. 2020): -theta * H g summed; see grasp_from_gradients.
grasp = one_data_proxy("grasp")
#: Mellor et al. (v1): how uncorrelated the input jacobians of a minibatch are.
#: Score = -sum(log(v + k) + 1/(v + k)) over the eigenvalues v of the correlation matrix of the
#: per-sample jacobians of the summed output; an all-zero jacobian counts as full correlation.
jacob_cov = one_data_proxy("jacob_cov")
#: Mellor et al. (ICML 2021): log|K| where K[i, j] counts the ReLU units on which samples i and j
#: agree (both active or both inactive) over the whole network.
naswot = one_data_proxy("naswot")


def params(model, x, y) -> float:
    return float(sum(p.numel() for p in model.parameters()))


def flops(model, x, y) -> float:
    """Multiply-accumulates per sample (the figure NAS papers report as FLOPs), counted at the
    operator level by devices/costs/flop_count.py on one sample in eval mode: the count the
    analytical hardware target and the one-shot latency terms use too."""
    model.eval()
    macs, _ = count_flops(model, x[:1])
    return float(macs)


def decoder_params(model, x, y) -> float:
    """LiteTransformerSearch: parameters of the transformer blocks alone (attention and
    feed-forward), without embeddings or the output head. A block is a module with a
    multi-head attention child."""
    from torch import nn

    blocks = [m for m in model.modules()
              if any(isinstance(c, nn.MultiheadAttention) for c in m.children())]
    if not blocks:
        raise ProxyError("decoder_params applies to transformers; the model has no attention blocks")
    counted: set[int] = set()
    for block in blocks:
        counted.update(id(p) for p in block.parameters())
    return float(sum(p.numel() for p in model.parameters() if id(p) in counted))


ProxyFunction = Callable[..., float]

PROXIES: dict[str, ProxyFunction] = {
    "synflow": synflow,
    "snip": snip,
    "grad_norm": grad_norm,
    "fisher": fisher,
    "grasp": grasp,
    "jacob_cov": jacob_cov,
    "naswot": naswot,
    "params": params,
    "flops": flops,
    "decoder_params": decoder_params,
}


def check_proxy_names(names) -> None:
    unknown = [name for name in names if name not in PROXIES]
    if unknown:
        raise ProxyError(f"unknown proxy {unknown[0]!r}; choose one of {sorted(PROXIES)}")


def compute_proxy(name: str, model, x, y, seed: int = 0) -> float:
    """Score an untrained model; the model and the global random state are not changed."""
    score = compute_proxies([name], model, x, y, seed)[name]
    if isinstance(score, ProxyError):
        raise score
    return score


def compute_proxies(names, model, x, y, seed: int = 0) -> dict[str, float | ProxyError]:
    """Several proxies of one model at the cost of about one: the data-dependent ones share one
    forward of the minibatch (data_pass_scores). Each score equals compute_proxy's. A proxy that
    cannot score the model maps to its ProxyError. The model and the random state are unchanged."""
    import torch

    check_proxy_names(names)
    scores: dict[str, float | ProxyError] = {}
    with torch.random.fork_rng(devices=[]):
        if any(name in DATA_PASS_PROXIES for name in names):
            torch.manual_seed(seed)  # dropout in train-mode proxies draws the same masks every call
            scores.update(data_pass_scores(copy.deepcopy(model), x, y, names))
        for name in names:
            if name in scores:
                continue
            torch.manual_seed(seed)
            try:
                scores[name] = float(PROXIES[name](copy.deepcopy(model), x, y))
            except ProxyError as exc:
                scores[name] = exc
    return {name: scores[name] for name in names}


def random_batch(input_shape: tuple, num_classes: int, batch: int = 64, seed: int = 0,
                 vocab_size: int = 0, task: str = "classification"):
    """A fixed random minibatch: Gaussian inputs (token ids when vocab_size > 0) and labels."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    if vocab_size:
        x = torch.randint(0, vocab_size, (batch, *input_shape), generator=generator).float()
    else:
        x = torch.randn((batch, *input_shape), generator=generator)
    label_shape = (batch, *input_shape) if task == "language_modelling" else (batch,)
    classes = vocab_size if task == "language_modelling" else num_classes
    y = torch.randint(0, classes, label_shape, generator=generator)
    return x, y
