"""Macro CNN: a MobileNet-like stack of stages, searched per stage.

As in MnasNet's factorised hierarchical space, each stage repeats one block
(searched: number of blocks, output channels, kernel size, block type and, for
inverted residuals, the expansion ratio), so the space grows with the number of
stages rather than the number of layers. The stride schedule is part of the
spec, not of the search: `strides[s]` is the stride of stage s's first block.

Small inputs: strides are clipped per side, so a side that is already one pixel
is not downsampled again. (1, 8, 8) digits therefore build with any schedule;
the map just stops shrinking at 1x1.
"""

from __future__ import annotations

from .base import Decision, SearchSpace, SpecField
from .spec_checks import (
    check_image_shape,
    check_int,
    check_int_sequence,
    check_number_list,
    check_options,
    check_order,
    check_task,
)

BLOCK_TYPES = ("mbconv", "conv")
KERNELS = (3, 5, 7)
MAX_STAGES = 8

# The per-stage decisions, in order; "expansion" only matters for mbconv blocks.
STAGE_DECISIONS = ("blocks", "channels", "kernel", "block", "expansion")


class MacroCNNSpace(SearchSpace):
    kind = "macro_cnn"
    label = "Macro CNN (MobileNet-like)"
    tasks = ("classification",)

    @classmethod
    def default_spec(cls) -> dict:
        return {
            "min_stages": 1,
            "max_stages": 3,
            "min_blocks": 1,
            "max_blocks": 2,
            "channels": [8, 16, 24],
            "kernels": [3, 5],
            "block_types": ["mbconv", "conv"],
            "expansions": [1, 3],
            "strides": [1, 2, 2],
            "stem_channels": 8,
        }

    @classmethod
    def spec_fields(cls) -> list[SpecField]:
        return [
            SpecField("min_stages", "int", "Minimum stages", f"1-{MAX_STAGES}"),
            SpecField("max_stages", "int", "Maximum stages", f"1-{MAX_STAGES}"),
            SpecField("min_blocks", "int", "Minimum blocks per stage", "1-8"),
            SpecField("max_blocks", "int", "Maximum blocks per stage", "1-8"),
            SpecField("channels", "int_list", "Channels", "output channels of a stage to choose from, e.g. 8, 16, 24"),
            SpecField("kernels", "multi", "Kernel sizes", options=KERNELS),
            SpecField("block_types", "multi", "Block types",
                      "mbconv: MobileNetV2 inverted residual (depthwise separable); conv: regular convolution",
                      options=BLOCK_TYPES),
            SpecField("expansions", "int_list", "Expansion ratios", "for mbconv blocks, 1-8, e.g. 1, 3, 6"),
            SpecField("strides", "int_list", "Stride per stage",
                      "1 or 2 for each stage up to the maximum, e.g. 1, 2, 2; clipped on tiny images"),
            SpecField("stem_channels", "int", "Stem channels", "channels of the first 3x3 convolution, 1-256"),
        ]

    def validate_spec(self, spec: dict) -> dict:
        out = {
            "min_stages": check_int(spec, "min_stages", 1, MAX_STAGES),
            "max_stages": check_int(spec, "max_stages", 1, MAX_STAGES),
            "min_blocks": check_int(spec, "min_blocks", 1, 8),
            "max_blocks": check_int(spec, "max_blocks", 1, 8),
            "channels": check_number_list(spec, "channels", 1, 1024, integer=True),
            "kernels": check_options(spec, "kernels", KERNELS),
            "block_types": check_options(spec, "block_types", BLOCK_TYPES),
            "expansions": check_number_list(spec, "expansions", 1, 8, integer=True),
        }
        check_order(out, "min_stages", "max_stages")
        check_order(out, "min_blocks", "max_blocks")
        out["strides"] = check_int_sequence(spec, "strides", 1, 2, length=out["max_stages"])
        out["stem_channels"] = check_int(spec, "stem_channels", 1, 256)
        return out

    def build_decisions(self) -> list[Decision]:
        s = self.spec
        decisions = [Decision("stages", tuple(range(s["min_stages"], s["max_stages"] + 1)))]
        for stage in range(1, s["max_stages"] + 1):
            decisions += [
                Decision(f"blocks_{stage}", tuple(range(s["min_blocks"], s["max_blocks"] + 1))),
                Decision(f"channels_{stage}", tuple(s["channels"])),
                Decision(f"kernel_{stage}", tuple(s["kernels"])),
                Decision(f"block_{stage}", tuple(s["block_types"])),
                Decision(f"expansion_{stage}", tuple(s["expansions"])),
            ]
        return decisions

    def active_decisions(self, choices: dict) -> list[str]:
        names = ["stages"]
        for stage in range(1, choices["stages"] + 1):
            names += [f"{d}_{stage}" for d in STAGE_DECISIONS
                      if d != "expansion" or choices[f"block_{stage}"] == "mbconv"]
        return names

    def size(self) -> int:
        s = self.spec
        # Per stage: a plain conv block has no expansion; an mbconv block has one per ratio.
        block_variants = ("conv" in s["block_types"]) + ("mbconv" in s["block_types"]) * len(s["expansions"])
        per_stage = (s["max_blocks"] - s["min_blocks"] + 1) * len(s["channels"]) * len(s["kernels"]) * block_variants
        return sum(per_stage**n for n in range(s["min_stages"], s["max_stages"] + 1))

    def to_torch(self, arch: dict, input_shape: tuple, num_classes: int,
                 task: str = "classification", vocab_size: int = 0):
        from torch import nn

        from . import layers as L  # heavy: layers imports torch; the space package imports without it

        self.validate_arch(arch)
        check_task(task, self.tasks)
        c_in, height, width = check_image_shape(input_shape)
        modules: list = [L.conv_bn_act(c_in, self.spec["stem_channels"], 3)]
        c_in = self.spec["stem_channels"]
        for stage in range(1, arch["stages"] + 1):
            c_out = arch[f"channels_{stage}"]
            for block in range(arch[f"blocks_{stage}"]):
                stride = L.downsampled_stride(self.spec["strides"][stage - 1] if block == 0 else 1, height, width)
                modules.append(L.with_residual_if_shape_kept(self._block(arch, stage, c_in, c_out, stride),
                                                             c_in, c_out, stride))
                height, width = L.output_side(height, stride[0]), L.output_side(width, stride[1])
                c_in = c_out
        modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes)]
        return nn.Sequential(*modules)

    def _block(self, arch: dict, stage: int, c_in: int, c_out: int, stride):
        from . import layers as L  # heavy: layers imports torch; the space package imports without it

        kernel = arch[f"kernel_{stage}"]
        if arch[f"block_{stage}"] == "mbconv":
            return L.inverted_residual(c_in, c_out, kernel, stride, arch[f"expansion_{stage}"])
        return L.conv_bn_act(c_in, c_out, kernel, stride)

    def describe(self, arch: dict) -> str:
        return "CNN " + " | ".join(self._describe_stage(arch, s) for s in range(1, arch["stages"] + 1))

    def _describe_stage(self, arch: dict, stage: int) -> str:
        block = f"MB{arch[f'expansion_{stage}']}" if arch[f"block_{stage}"] == "mbconv" else "conv"
        stride = self.spec["strides"][stage - 1]
        return (f"{arch[f'blocks_{stage}']}x {block} k{arch[f'kernel_{stage}']} "
                f"{arch[f'channels_{stage}']}ch" + (f" /{stride}" if stride > 1 else ""))
