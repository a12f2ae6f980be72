"""Torch modules of the NAS-Bench-201 network (kept apart so nb201.py imports without torch).

Follows the paper's reference code: ReLU-Conv-BN ops, a residual basic block for
each reduction, and a BN-ReLU-pool-linear head.
"""

from __future__ import annotations

import torch
from torch import nn

from .nb201_cell import EDGES, NODES, edge_name


class ReLUConvBN(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )

    def forward(self, x):
        return self.op(x)


class Zero(nn.Module):
    """The 'none' op: the edge carries nothing, so it adds zeros to its target node."""

    def forward(self, x):
        return torch.zeros_like(x)


def make_op(name: str, channels: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown NAS-Bench-201 op {name!r}")


class Cell(nn.Module):
    def __init__(self, arch: dict, channels: int):
        super().__init__()
        self.edges = nn.ModuleDict({edge_name(j, i): make_op(arch[edge_name(j, i)], channels) for j, i in EDGES})

    def forward(self, x):
        nodes = [x]
        for target in range(1, NODES):
            first, *rest = (self.edges[edge_name(target, source)](nodes[source]) for source in range(target))
            nodes.append(sum(rest, start=first))  # start from the first term: no add of a zero
        return nodes[-1]


class ResidualReduction(nn.Module):
    """Halves the resolution and changes the width: conv path plus a pooled 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        # ceil_mode keeps the shortcut the same size as the conv path for odd and tiny inputs.
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, ceil_mode=True),
            nn.Conv2d(c_in, c_out, 1, bias=False),
        )

    def forward(self, x):
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class Network(nn.Module):
    def __init__(self, arch: dict, channels_in: int, width: int, cells_per_stage: int, num_classes: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels_in, width, 3, padding=1, bias=False), nn.BatchNorm2d(width)]
        for stage in range(3):
            stage_width = width * 2**stage
            if stage > 0:
                layers.append(ResidualReduction(stage_width // 2, stage_width))
            layers.extend(Cell(arch, stage_width) for _ in range(cells_per_stage))
        final_width = width * 4
        layers += [nn.BatchNorm2d(final_width), nn.ReLU(inplace=False), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(final_width, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))
