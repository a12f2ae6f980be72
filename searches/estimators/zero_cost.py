"""Zero-cost proxies: score an untrained network from one minibatch, without training.

After Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS" (ICLR 2021):
synflow, snip, grad_norm, jacob_cov, params and FLOPs; Mellor et al., "Neural
Architecture Search without Training" (ICML 2021): NASWOT; and for transformers
the LiteTransformerSearch proxy (Javaheripi et al. 2022): decoder parameters.

Every proxy has the signature (model, x, y) -> float and a higher score means
a better predicted network. compute_proxy works on a copy of the model inside a
forked random state, so the caller's model, its gradients and batch-norm
statistics and the global generator are left exactly as they were.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import numpy as np

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


def loss_gradients(model, x, y):
    """(weight, dL/dweight) pairs for the cross-entropy on one minibatch, model in train mode."""
    import torch

    model.train()
    weights = [w for _, w in weighted_layers(model)]
    loss = task_loss(model(x), y)
    grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return [(w, g) for w, g in zip(weights, grads, strict=True) if g is not None]


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


def snip(model, x, y) -> float:
    """Connection sensitivity (Lee et al. 2019): sum of |dL/dw * w| on one minibatch."""
    return sum(float((w.detach() * g).abs().sum()) for w, g in loss_gradients(model, x, y))


def grad_norm(model, x, y) -> float:
    """Sum over layers of the Euclidean norm of the loss gradient."""
    return sum(float(g.norm()) for _, g in loss_gradients(model, x, y))


def jacob_cov(model, x, y) -> float:
    """Mellor et al. (v1): how uncorrelated the input jacobians of a minibatch are.

    Score = -sum(log(v + k) + 1/(v + k)) over the eigenvalues v of the correlation
    matrix of the per-sample jacobians of the summed output. Correlations that are
    undefined (a jacobian that is all zeros: the output ignores the input) count as
    full correlation, the worst case.
    """
    import torch
    from torch import nn

    if any(isinstance(m, nn.Embedding) for m in model.modules()):
        raise ProxyError("jacob_cov needs continuous inputs; token ids have no jacobian")
    model.train()
    x = x.detach().clone().float().requires_grad_(True)
    output = model(x)
    (jacobian,) = torch.autograd.grad(output.sum(), x, allow_unused=True)
    if jacobian is None:  # the output is cut off from the input (e.g. a cell of 'none' edges)
        jacobian = torch.zeros_like(x)
    rows = jacobian.reshape(len(x), -1).double().numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.corrcoef(rows)
    correlation = np.nan_to_num(correlation, nan=1.0)
    eigenvalues = np.linalg.eigvalsh(correlation)
    shifted = np.clip(eigenvalues, 0.0, None) + JACOB_COV_K
    return float(-np.sum(np.log(shifted) + 1.0 / shifted))


def naswot(model, x, y) -> float:
    """Mellor et al. (ICML 2021): log|K| where K[i, j] counts the ReLU units on which
    samples i and j agree (both active or both inactive) over the whole network.
    Networks that give different inputs different activation patterns score higher."""
    import torch

    kernel = torch.zeros((len(x), len(x)), dtype=torch.float64)

    def add_codes(module, inputs, output):
        codes = (inputs[0].detach().reshape(len(x), -1) > 0).double()
        kernel.add_(codes @ codes.T + (1.0 - codes) @ (1.0 - codes).T)

    handles = [m.register_forward_hook(add_codes) for m in model.modules()
               if type(m).__name__ in GATING_ACTIVATIONS]
    if not handles:
        raise ProxyError(f"NASWOT needs activation modules ({', '.join(GATING_ACTIVATIONS)}); the model has none")
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    sign, logdet = torch.linalg.slogdet(kernel)
    return float(logdet) if sign > 0 else -math.inf  # singular: two inputs looked the same


def params(model, x, y) -> float:
    return float(sum(p.numel() for p in model.parameters()))


def flops(model, x, y) -> float:
    """Multiply-accumulates per sample of convolutions, linear layers and attention
    (the figure NAS papers report as FLOPs), counted with forward hooks on one sample
    (the count does not depend on the batch, so one sample is enough)."""
    import torch

    total = [0]
    x, batch = x[:1], 1

    def conv(module, inputs, output):
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        total[0] += output.numel() // batch * per_output

    def linear(module, inputs, output):
        total[0] += output.numel() // batch * module.in_features

    def attention(module, inputs, output):
        query, key = inputs[0], inputs[1]
        seq_axis = 1 if module.batch_first else 0
        length_q, length_k, dim = query.shape[seq_axis], key.shape[seq_axis], module.embed_dim
        projections = (length_q + 2 * length_k) * dim * dim + length_q * dim * dim
        total[0] += projections + 2 * length_q * length_k * dim

    handles = []
    for module in model.modules():
        hook = hook_for_module(module, conv, linear, attention)
        if hook is not None:
            handles.append(module.register_forward_hook(hook))
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return float(total[0])


def hook_for_module(module, conv, linear, attention):
    from torch import nn

    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return conv
    if isinstance(module, nn.Linear):
        return linear  # attention's out_proj is applied functionally, so it is not counted twice
    if isinstance(module, nn.MultiheadAttention):
        return attention
    return None


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
    "jacob_cov": jacob_cov,
    "naswot": naswot,
    "params": params,
    "flops": flops,
    "decoder_params": decoder_params,
}


def compute_proxy(name: str, model, x, y, seed: int = 0) -> float:
    """Score an untrained model; the model and the global random state are not changed."""
    import torch

    if name not in PROXIES:
        raise ProxyError(f"unknown proxy {name!r}; choose one of {sorted(PROXIES)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # dropout in train-mode proxies draws the same masks every call
        return float(PROXIES[name](copy.deepcopy(model), x, y))


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
