"""NAS-Bench-201 supernet: the paper's macro skeleton with every edge holding all its ops.

As in DARTS-on-NB201 (the benchmark's own one-shot baselines), one cell type is searched: every
cell of the network reads the same six gates, while each cell keeps its own op weights. The
fixed parts (stem, residual reductions, head) are the stand-alone network's modules, laid out
at the same indices, so a single path computes exactly what `NB201Space.to_torch` builds (up to
batch normalisation, which here always uses batch statistics; see supernet.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..spaces import nb201_modules
from ..spaces.nb201_cell import EDGES, NODES, edge_name
from ..spaces.spec_checks import check_image_shape
from .supernet import NONE_OP, SKIP_OP, Gate, MixedOp, Supernet, use_batch_statistics


class SkipDropout(nn.Module):
    """P-DARTS's dropout after the skip connection (p = 0: the plain identity)."""

    def __init__(self):
        super().__init__()
        self.p = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, self.training) if self.p else x


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """PC-DARTS's shuffle: interleave `groups` channel groups, so the next edge samples other channels."""
    batch, channels, height, width = x.shape
    return x.view(batch, groups, channels // groups, height, width).transpose(1, 2).reshape(
        batch, channels, height, width)


class MixedEdge(MixedOp):
    """All ops of one edge; with DARTS-'s auxiliary skip, beta x input is added to the mixture.

    partial_channels = K (PC-DARTS): the ops are built for channels / K; the first channels / K
    channels of the input go through the mixture, the others bypass it, and the concatenation is
    channel-shuffled in K groups. K = 1 is the plain DARTS edge.
    """

    def __init__(self, ops: tuple[str, ...], channels: int, partial_channels: int = 1):
        width = channels // partial_channels
        candidates = [SkipDropout() if op == SKIP_OP else
                      use_batch_statistics(nb201_modules.make_op(op, width), affine=False) for op in ops]
        super().__init__(candidates, ops.index(NONE_OP) if NONE_OP in ops else None)
        self.partial_channels = partial_channels

    def forward(self, x: torch.Tensor, gate: Gate, auxiliary_skip_weight: float = 0.0) -> torch.Tensor:
        if self.partial_channels == 1:
            out = super().forward(x, gate)
        else:
            part = x.shape[1] // self.partial_channels
            mixed = super().forward(x[:, :part], gate)
            out = channel_shuffle(torch.cat([mixed, x[:, part:]], dim=1), self.partial_channels)
        return out + auxiliary_skip_weight * x if auxiliary_skip_weight else out


class MixedCell(nn.Module):
    def __init__(self, ops: tuple[str, ...], channels: int, partial_channels: int = 1):
        super().__init__()
        self.edges = nn.ModuleDict({edge_name(j, i): MixedEdge(ops, channels, partial_channels) for j, i in EDGES})

    def forward(self, x: torch.Tensor, gates: dict[str, Gate], auxiliary_skip_weight: float = 0.0,
                edge_weights: dict[int, torch.Tensor] | None = None):
        """edge_weights (PC-DARTS's edge normalisation): node -> one weight per input edge (nodes absent: summed)."""
        nodes = [x]
        for target in range(1, NODES):
            inputs = [self.edges[edge_name(target, source)](nodes[source], gates[edge_name(target, source)],
                                                           auxiliary_skip_weight)
                      for source in range(target)]
            if edge_weights is not None and target in edge_weights:
                inputs = [w * value for w, value in zip(edge_weights[target], inputs, strict=True)]
            nodes.append(sum(inputs))
        return nodes[-1]


class NB201Supernet(Supernet):
    supports_auxiliary_skip = True

    def __init__(self, space, input_shape: tuple, num_classes: int, partial_channels: int = 1,
                 cells_per_stage: int | None = None):
        """partial_channels: PC-DARTS's K; cells_per_stage: P-DARTS's search depth (default: the spec's N)."""
        super().__init__(space)
        channels_in, _, _ = check_image_shape(input_shape)
        width = space.spec["C"]
        cells_per_stage = cells_per_stage or space.spec["N"]
        ops = tuple(space.spec["ops"])
        #: PC-DARTS's edge normalisation, node -> weights of its input edges; None sums them (DARTS).
        self.edge_weights: dict[int, torch.Tensor] | None = None
        # Same layout as nb201_modules.Network.features, so indices (and names) line up.
        layers: list[nn.Module] = [nn.Conv2d(channels_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)]
        for stage in range(3):
            stage_width = width * 2**stage
            if stage > 0:
                layers.append(nb201_modules.ResidualReduction(stage_width // 2, stage_width))
            layers.extend(MixedCell(ops, stage_width, partial_channels) for _ in range(cells_per_stage))
        final_width = width * 4
        layers += [nn.BatchNorm2d(final_width), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = use_batch_statistics(nn.ModuleList(layers))
        self.classifier = nn.Linear(final_width, num_classes)

    def set_skip_dropout(self, p: float) -> None:
        for module in self.modules():
            if isinstance(module, SkipDropout):
                module.p = float(p)

    def forward(self, x: torch.Tensor, gates: dict[str, Gate]) -> torch.Tensor:
        for layer in self.features:
            if isinstance(layer, MixedCell):
                x = layer(x, gates, self.auxiliary_skip_weight, self.edge_weights)
            else:
                x = layer(x)
        return self.classifier(x)
