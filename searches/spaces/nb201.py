"""NAS-Bench-201 cell space (Dong & Yang, ICLR 2020).

A cell is a DAG of 4 nodes; each of its 6 edges (j <- i, i < j) carries one op.
Node j sums the ops of all its incoming edges, and node 3 is the cell output.
Every network stacks the same cell in three stages separated by residual
reduction blocks, exactly as the paper's macro skeleton, so the 15,625 cells of
the full op set are the 15,625 rows of the published benchmark table.
"""

from __future__ import annotations

from .base import Decision, SearchSpace, SpecField
from .nb201_cell import EDGE_NAMES, OPS, arch_to_string, effective_cell_weights
from .spec_checks import check_image_shape, check_int, check_options, check_task


class NB201Space(SearchSpace):
    kind = "nb201"
    label = "NAS-Bench-201 cell"
    tasks = ("classification",)

    @classmethod
    def default_spec(cls) -> dict:
        return {"C": 8, "N": 1, "ops": list(OPS)}

    @classmethod
    def spec_fields(cls) -> list[SpecField]:
        return [
            SpecField("C", "int", "Channels (C)", "channels of the first stage, 1-128; the paper uses 16"),
            SpecField("N", "int", "Cells per stage (N)", "1-10; the paper uses 5"),
            SpecField("ops", "multi", "Operations", "ops an edge may carry", options=OPS),
        ]

    def validate_spec(self, spec: dict) -> dict:
        return {
            "C": check_int(spec, "C", 1, 128),
            "N": check_int(spec, "N", 1, 10),
            "ops": check_options(spec, "ops", OPS),
        }

    def build_decisions(self) -> list[Decision]:
        return [Decision(name, tuple(self.spec["ops"])) for name in EDGE_NAMES]

    def active_decisions(self, choices: dict) -> list[str]:
        return list(EDGE_NAMES)

    def to_torch(self, arch: dict, input_shape: tuple, num_classes: int,
                 task: str = "classification", vocab_size: int = 0):
        from . import nb201_modules  # heavy: torch; the space package imports without torch

        check_task(task, self.tasks)
        channels_in, _, _ = check_image_shape(input_shape)
        self.validate_arch(arch)
        return nb201_modules.Network(arch, channels_in, self.spec["C"], self.spec["N"], num_classes)

    zero_cost_prior_label = "effective parameters (convolution weights on edges that reach the output)"

    def zero_cost_prior(self, arch: dict) -> float:
        """Effective parameters of the network: the live edges' convolution weights of one cell
        (nb201_cell.effective_cell_weights) times C squared, over the 3 x N cells of widths C, 2C, 4C."""
        self.validate_arch(arch)
        return float(effective_cell_weights(arch) * self.spec["C"] ** 2 * 21 * self.spec["N"])

    def describe(self, arch: dict) -> str:
        return arch_to_string(arch)
