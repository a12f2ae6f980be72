"""Hybrid conv + attention (NASViT / LeViT-like), for images.

Convolution stages first (searched per stage: width, depth, kernel) extract
local features and shrink the map; the map is then flattened into tokens for
multi-head self-attention stages (searched per stage: width, depth, heads, MLP
ratio). A linear projection changes the token width between stages, and a
learned position embedding is added once, when the map becomes tokens.

The number of stages is part of the spec, so every decision is always active
and the size is the plain product of the choices.

Each conv stage's first block uses the stride from `conv_strides`, clipped per
side so that a map never shrinks below 1x1 ((1, 8, 8) digits build with any
schedule).
"""

from __future__ import annotations

from .base import Decision, SearchSpace, SpecField
from .spec_checks import (
    check_divides,
    check_image_shape,
    check_int,
    check_int_sequence,
    check_number_list,
    check_options,
    check_order,
    check_task,
)
from .transformer import mlp_hidden_units

KERNELS = (3, 5, 7)
MAX_CONV_STAGES = 4
MAX_ATTENTION_STAGES = 4


class HybridSpace(SearchSpace):
    kind = "hybrid"
    label = "Hybrid conv + attention (NASViT/LeViT-like)"
    tasks = ("classification",)

    @classmethod
    def default_spec(cls) -> dict:
        return {
            "conv_stages": 2,
            "conv_strides": [1, 2],
            "conv_widths": [8, 16],
            "min_conv_depth": 1,
            "max_conv_depth": 2,
            "conv_kernels": [3, 5],
            "attention_stages": 1,
            "attention_widths": [16, 32],
            "min_attention_depth": 1,
            "max_attention_depth": 2,
            "heads": [1, 2, 4],
            "mlp_ratios": [1.0, 2.0],
        }

    @classmethod
    def spec_fields(cls) -> list[SpecField]:
        return [
            SpecField("conv_stages", "int", "Convolution stages", f"1-{MAX_CONV_STAGES}"),
            SpecField("conv_strides", "int_list", "Stride per convolution stage",
                      "1 or 2 for each convolution stage, e.g. 1, 2; clipped on tiny images"),
            SpecField("conv_widths", "int_list", "Convolution widths", "channels to choose from, e.g. 8, 16"),
            SpecField("min_conv_depth", "int", "Minimum conv blocks per stage", "1-8"),
            SpecField("max_conv_depth", "int", "Maximum conv blocks per stage", "1-8"),
            SpecField("conv_kernels", "multi", "Convolution kernel sizes", options=KERNELS),
            SpecField("attention_stages", "int", "Attention stages", f"1-{MAX_ATTENTION_STAGES}"),
            SpecField("attention_widths", "int_list", "Attention widths",
                      "token widths to choose from, e.g. 16, 32; each divisible by every head count"),
            SpecField("min_attention_depth", "int", "Minimum attention layers per stage", "1-8"),
            SpecField("max_attention_depth", "int", "Maximum attention layers per stage", "1-8"),
            SpecField("heads", "int_list", "Attention heads", "per stage, e.g. 1, 2, 4"),
            SpecField("mlp_ratios", "float_list", "MLP ratios", "hidden width / token width, 0.25-8"),
        ]

    def validate_spec(self, spec: dict) -> dict:
        out = {
            "conv_stages": check_int(spec, "conv_stages", 1, MAX_CONV_STAGES),
            "conv_widths": check_number_list(spec, "conv_widths", 1, 1024, integer=True),
            "min_conv_depth": check_int(spec, "min_conv_depth", 1, 8),
            "max_conv_depth": check_int(spec, "max_conv_depth", 1, 8),
            "conv_kernels": check_options(spec, "conv_kernels", KERNELS),
            "attention_stages": check_int(spec, "attention_stages", 1, MAX_ATTENTION_STAGES),
            "attention_widths": check_number_list(spec, "attention_widths", 1, 2048, integer=True),
            "min_attention_depth": check_int(spec, "min_attention_depth", 1, 8),
            "max_attention_depth": check_int(spec, "max_attention_depth", 1, 8),
            "heads": check_number_list(spec, "heads", 1, 64, integer=True),
            "mlp_ratios": [float(r) for r in check_number_list(spec, "mlp_ratios", 0.25, 8.0, integer=False)],
        }
        out["conv_strides"] = check_int_sequence(spec, "conv_strides", 1, 2, length=out["conv_stages"])
        check_order(out, "min_conv_depth", "max_conv_depth")
        check_order(out, "min_attention_depth", "max_attention_depth")
        check_divides(out, "heads", "attention_widths")
        return out

    def build_decisions(self) -> list[Decision]:
        s = self.spec
        decisions = []
        for stage in range(1, s["conv_stages"] + 1):
            decisions += [
                Decision(f"conv_width_{stage}", tuple(s["conv_widths"])),
                Decision(f"conv_depth_{stage}", tuple(range(s["min_conv_depth"], s["max_conv_depth"] + 1))),
                Decision(f"conv_kernel_{stage}", tuple(s["conv_kernels"])),
            ]
        for stage in range(1, s["attention_stages"] + 1):
            decisions += [
                Decision(f"attn_width_{stage}", tuple(s["attention_widths"])),
                Decision(f"attn_depth_{stage}",
                         tuple(range(s["min_attention_depth"], s["max_attention_depth"] + 1))),
                Decision(f"attn_heads_{stage}", tuple(s["heads"])),
                Decision(f"attn_mlp_ratio_{stage}", tuple(s["mlp_ratios"])),
            ]
        return decisions

    def active_decisions(self, choices: dict) -> list[str]:
        return [d.name for d in self.decisions]

    def to_torch(self, arch: dict, input_shape: tuple, num_classes: int,
                 task: str = "classification", vocab_size: int = 0):
        from torch import nn

        from . import layers as L  # heavy: layers imports torch; the space package imports without it

        self.validate_arch(arch)
        check_task(task, self.tasks)
        channels, height, width = check_image_shape(input_shape)
        convs, channels, tokens = self._conv_stages(arch, channels, height, width)
        attention, dim = self._attention_stages(arch, channels)
        stack = L.TokenStack(attention, dim, nn.Linear(dim, num_classes))
        return nn.Sequential(*convs, L.FeatureMapTokens(tokens, channels), stack)

    def _conv_stages(self, arch: dict, channels: int, height: int, width: int) -> tuple[list, int, int]:
        """The conv blocks, their output channels and the number of pixels (tokens) left."""
        from . import layers as L  # heavy: layers imports torch; the space package imports without it

        blocks: list = []
        for stage in range(1, self.spec["conv_stages"] + 1):
            c_out, kernel = arch[f"conv_width_{stage}"], arch[f"conv_kernel_{stage}"]
            for block in range(arch[f"conv_depth_{stage}"]):
                stride = L.downsampled_stride(self.spec["conv_strides"][stage - 1] if block == 0 else 1, height, width)
                body = L.conv_bn_act(channels, c_out, kernel, stride)
                blocks.append(L.with_residual_if_shape_kept(body, channels, c_out, stride))
                height, width = L.output_side(height, stride[0]), L.output_side(width, stride[1])
                channels = c_out
        return blocks, channels, height * width

    def _attention_stages(self, arch: dict, width: int) -> tuple[list, int]:
        """The attention layers (with a width projection where a stage changes it) and the final width."""
        from torch import nn

        from . import layers as L  # heavy: layers imports torch; the space package imports without it

        modules: list = []
        for stage in range(1, self.spec["attention_stages"] + 1):
            dim = arch[f"attn_width_{stage}"]
            if dim != width:
                modules.append(nn.Linear(width, dim))
            hidden = mlp_hidden_units(dim, arch[f"attn_mlp_ratio_{stage}"])
            modules += [L.TransformerLayer(dim, arch[f"attn_heads_{stage}"], hidden)
                        for _ in range(arch[f"attn_depth_{stage}"])]
            width = dim
        return modules, width

    def describe(self, arch: dict) -> str:
        s = self.spec
        convs = " ".join(f"{arch[f'conv_depth_{i}']}x{arch[f'conv_width_{i}']}k{arch[f'conv_kernel_{i}']}"
                         for i in range(1, s["conv_stages"] + 1))
        attention = " ".join(f"{arch[f'attn_depth_{i}']}x{arch[f'attn_width_{i}']}"
                             f"/{arch[f'attn_heads_{i}']}h/x{arch[f'attn_mlp_ratio_{i}']:g}"
                             for i in range(1, s["attention_stages"] + 1))
        return f"Hybrid conv [{convs}] -> attention [{attention}]"
