"""PC-DARTS (Xu, Xie, Zhang, Chen, Qi, Tian & Xiong, ICLR 2020): partial-channel connections.

DARTS, except on the supernet's mixed edges:
  partial channels  only 1/K of each edge's input channels (`partial_channels` = K, the paper's
                    K = 4 on CIFAR-10) go through the mixed op, whose ops are built that narrow;
                    the rest bypass it, and the concatenation is channel-shuffled in K groups
                    so the next edge sees other channels. The mixed ops' activations - what
                    DARTS' memory is spent on - shrink by about K;
  edge normalisation  each node weights its input edges by softmax(beta_node), learned with
                    alpha by the architecture step; it steadies the search against the noise of
                    sampling channels. In the NB201 cell every node keeps all its inputs, so beta
                    weighs the edges during the search and is reported, but selects none.
Derivation as DARTS: the most probable op per edge, never 'none'.

Only NB201 has the C -> C mixed edges that channels can be sampled on; chain_mlp's mixed widths
and macro_cnn's stride- and width-changing blocks have no bypass, so PC-DARTS refuses them.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import SpecError
from ..spaces.nb201_cell import NODES
from ..strategies.settings_checks import check_bool_setting, check_int_setting
from .darts import Darts
from .supernet import Gate, Supernet
from .supernet_nb201 import NB201Supernet


class PCDarts(Darts):
    name = "pcdarts"
    label = "PC-DARTS (partial channels, edge normalisation)"
    settings_help = {
        **Darts.settings_help,
        "partial_channels": "K: 1/K of each edge's channels go through the mixed op, the rest bypass it",
        "edge_normalisation": "learn a weight per input edge of each node beside the op weights",
    }

    @classmethod
    def strategy_settings(cls) -> dict:
        # The paper's search runs with a larger batch and arch lr (6e-4 over DARTS' 3e-4), which the
        # memory saving allows; here the DARTS defaults stay so the two compare on the same steps.
        return {**super().strategy_settings(), "partial_channels": 4, "edge_normalisation": True}

    def check_strategy_settings(self, settings: dict) -> None:
        if self.space.kind != "nb201":
            raise SpecError("space", f"PC-DARTS samples the channels of C -> C mixed edges, which only the nb201 "
                                     f"cell has; the {self.space.kind} space has none (use darts or pdarts)")
        super().check_strategy_settings(settings)
        width = self.space.spec["C"]
        check_int_setting(settings, "partial_channels", 1, width)
        if width % settings["partial_channels"]:
            raise SpecError("partial_channels", f"must divide the cell width C = {width}")
        check_bool_setting(settings, "edge_normalisation")

    def build_supernet(self) -> Supernet:
        return NB201Supernet(self.space, self.data.input_shape, self.data.num_classes,
                             partial_channels=self.settings["partial_channels"])

    def init_arch_parameters(self) -> None:
        # beta_node: one logit per input edge of each node with more than one input (nodes 2 and 3),
        # 1e-3 x N(0, 1) as in the authors' code.
        self.betas = nn.ParameterList(
            nn.Parameter(1e-3 * torch.randn(target, generator=self.generator).to(self.device))
            for target in range(2, NODES))
        super().init_arch_parameters()

    def arch_parameters(self) -> list[nn.Parameter]:
        betas = list(self.betas) if self.settings["edge_normalisation"] else []
        return super().arch_parameters() + betas

    def edge_weights(self) -> dict[int, torch.Tensor] | None:
        if not self.settings["edge_normalisation"]:
            return None
        return {target: torch.softmax(beta, 0) for target, beta in enumerate(self.betas, start=2)}

    def mixture_gates(self) -> dict[str, Gate]:
        self.supernet.edge_weights = self.edge_weights()
        return super().mixture_gates()

    def epoch_info(self, epoch: int, metrics: dict, seconds: float) -> dict:
        info = super().epoch_info(epoch, metrics, seconds)
        weights = self.edge_weights()
        if weights is not None:
            info["edge_weights"] = {str(node): [float(w) for w in values.detach()] for node, values in weights.items()}
        return info

    def derive(self) -> tuple[dict, list[dict]]:
        # Single paths through this supernet (inherited accuracy, the rank check) keep the learned edge weights.
        weights = self.edge_weights()
        self.supernet.edge_weights = None if weights is None else {k: v.detach() for k, v in weights.items()}
        return super().derive()
