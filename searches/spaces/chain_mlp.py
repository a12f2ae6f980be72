"""Chain MLP: a stack of fully connected layers with a searchable width per layer."""

from __future__ import annotations

import math

from .base import Decision, SearchSpace, SpecField
from .spec_checks import check_int, check_number_list, check_options, check_order

ACTIVATIONS = ("relu", "gelu", "tanh", "silu")
NORMS = ("none", "batch", "layer")


class ChainMLPSpace(SearchSpace):
    kind = "chain_mlp"
    label = "Chain MLP"
    tasks = ("classification",)

    @classmethod
    def default_spec(cls) -> dict:
        return {
            "min_depth": 1,
            "max_depth": 3,
            "widths": [32, 64, 128],
            "activations": ["relu", "gelu"],
            "dropouts": [0.0, 0.2],
            "norms": ["none", "batch"],
        }

    @classmethod
    def spec_fields(cls) -> list[SpecField]:
        return [
            SpecField("min_depth", "int", "Minimum depth", "hidden layers, 1-12"),
            SpecField("max_depth", "int", "Maximum depth", "hidden layers, 1-12"),
            SpecField("widths", "int_list", "Widths", "units per layer to choose from, e.g. 32, 64, 128"),
            SpecField("activations", "multi", "Activations", options=ACTIVATIONS),
            SpecField("dropouts", "float_list", "Dropout rates", "each in [0, 0.9], e.g. 0, 0.2"),
            SpecField("norms", "multi", "Normalisation", options=NORMS),
        ]

    def validate_spec(self, spec: dict) -> dict:
        out = {
            "min_depth": check_int(spec, "min_depth", 1, 12),
            "max_depth": check_int(spec, "max_depth", 1, 12),
            "widths": check_number_list(spec, "widths", 1, 4096, integer=True),
            "activations": check_options(spec, "activations", ACTIVATIONS),
            "dropouts": check_number_list(spec, "dropouts", 0.0, 0.9, integer=False),
            "norms": check_options(spec, "norms", NORMS),
        }
        check_order(out, "min_depth", "max_depth")
        return out

    def build_decisions(self) -> list[Decision]:
        s = self.spec
        decisions = [Decision("depth", tuple(range(s["min_depth"], s["max_depth"] + 1)))]
        decisions += [Decision(f"width_{i}", tuple(s["widths"])) for i in range(1, s["max_depth"] + 1)]
        decisions += [
            Decision("activation", tuple(s["activations"])),
            Decision("dropout", tuple(float(d) for d in s["dropouts"])),
            Decision("norm", tuple(s["norms"])),
        ]
        return decisions

    def active_decisions(self, choices: dict) -> list[str]:
        depth = choices["depth"]
        return ["depth", *(f"width_{i}" for i in range(1, depth + 1)), "activation", "dropout", "norm"]

    def size(self) -> int:
        s = self.spec
        per_layer = len(s["widths"])
        depths = sum(per_layer**d for d in range(s["min_depth"], s["max_depth"] + 1))
        return depths * len(s["activations"]) * len(s["dropouts"]) * len(s["norms"])

    def to_torch(self, arch: dict, input_shape: tuple, num_classes: int,
                 task: str = "classification", vocab_size: int = 0):
        from torch import nn

        self.validate_arch(arch)
        act = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}[arch["activation"]]
        layers: list = [nn.Flatten()]
        width_in = math.prod(input_shape)
        for i in range(1, arch["depth"] + 1):
            width = arch[f"width_{i}"]
            layers.append(nn.Linear(width_in, width))
            if arch["norm"] == "batch":
                layers.append(nn.BatchNorm1d(width))
            elif arch["norm"] == "layer":
                layers.append(nn.LayerNorm(width))
            layers.append(act())
            if arch["dropout"] > 0:
                layers.append(nn.Dropout(arch["dropout"]))
            width_in = width
        layers.append(nn.Linear(width_in, num_classes))
        return nn.Sequential(*layers)

    def describe(self, arch: dict) -> str:
        widths = "-".join(str(arch[f"width_{i}"]) for i in range(1, arch["depth"] + 1))
        extras = [arch["activation"]]
        if arch["norm"] != "none":
            extras.append(f"{arch['norm']} norm")
        if arch["dropout"] > 0:
            extras.append(f"dropout {arch['dropout']:g}")
        return f"MLP {widths} ({', '.join(extras)})"
