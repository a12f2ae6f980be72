"""NAS-Bench-201 supernet: the paper's macro skeleton with every edge holding all its ops.

As in DARTS-on-NB201 (the benchmark's own one-shot baselines), one cell type is searched: every
cell of the network reads the same six gates, while each cell keeps its own op weights. The
fixed parts (stem, residual reductions, head) are the stand-alone network's modules, laid out
at the same indices, so a single path computes exactly what `NB201Space.to_torch` builds (up to
batch normalisation, which here always uses batch statistics; see supernet.py).
"""

from __future__ import annotations

import torch
from torch import nn

from ..spaces import nb201_modules
from ..spaces.nb201_cell import EDGES, NODES, edge_name
from ..spaces.spec_checks import check_image_shape
from .supernet import NONE_OP, Gate, MixedOp, Supernet, use_batch_statistics


class MixedEdge(MixedOp):
    """All ops of one edge; with DARTS-'s auxiliary skip, beta x input is added to the mixture."""

    def __init__(self, ops: tuple[str, ...], channels: int):
        candidates = [use_batch_statistics(nb201_modules.make_op(op, channels), affine=False) for op in ops]
        super().__init__(candidates, ops.index(NONE_OP) if NONE_OP in ops else None)

    def forward(self, x: torch.Tensor, gate: Gate, auxiliary_skip_weight: float = 0.0) -> torch.Tensor:
        out = super().forward(x, gate)
        return out + auxiliary_skip_weight * x if auxiliary_skip_weight else out


class MixedCell(nn.Module):
    def __init__(self, ops: tuple[str, ...], channels: int):
        super().__init__()
        self.edges = nn.ModuleDict({edge_name(j, i): MixedEdge(ops, channels) for j, i in EDGES})

    def forward(self, x: torch.Tensor, gates: dict[str, Gate], auxiliary_skip_weight: float = 0.0):
        nodes = [x]
        for target in range(1, NODES):
            inputs = [self.edges[edge_name(target, source)](nodes[source], gates[edge_name(target, source)],
                                                           auxiliary_skip_weight)
                      for source in range(target)]
            nodes.append(sum(inputs))
        return nodes[-1]


class NB201Supernet(Supernet):
    supports_auxiliary_skip = True

    def __init__(self, space, input_shape: tuple, num_classes: int):
        super().__init__(space)
        channels_in, _, _ = check_image_shape(input_shape)
        width, cells_per_stage = space.spec["C"], space.spec["N"]
        ops = tuple(space.spec["ops"])
        # Same layout as nb201_modules.Network.features, so indices (and names) line up.
        layers: list[nn.Module] = [nn.Conv2d(channels_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)]
        for stage in range(3):
            stage_width = width * 2**stage
            if stage > 0:
                layers.append(nb201_modules.ResidualReduction(stage_width // 2, stage_width))
            layers.extend(MixedCell(ops, stage_width) for _ in range(cells_per_stage))
        final_width = width * 4
        layers += [nn.BatchNorm2d(final_width), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = use_batch_statistics(nn.ModuleList(layers))
        self.classifier = nn.Linear(final_width, num_classes)

    def forward(self, x: torch.Tensor, gates: dict[str, Gate]) -> torch.Tensor:
        for layer in self.features:
            x = layer(x, gates, self.auxiliary_skip_weight) if isinstance(layer, MixedCell) else layer(x)
        return self.classifier(x)
