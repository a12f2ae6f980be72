"""P-DARTS (Chen, Xie, Wu & Tian, ICCV 2019): progressive DARTS.

The search runs in `stages` (default 3), each a DARTS search (first order) from fresh weights
and fresh alphas, with its own cosine schedule and its share of `epochs`:

  deeper     the NB201 supernet gets `stage_cells[s]` cells per stage in stage s (default: growing
             to the space's own N, so the last stage searches at the depth that is retrained);
             the paper grows 5 -> 11 -> 17 cells to close the depth gap between search and
             evaluation. chain_mlp and macro_cnn search their depth as a decision, so there the
             supernet keeps its shape and only the op set shrinks;
  fewer ops  after stage s, each decision keeps its `ops_kept[s]` most probable choices (the
             paper: 8 -> 5 -> 3 ops per edge); 'none' is dropped at the last cut, since
             discretisation never keeps it. Dropped choices are not computed any more;
  skip drop  dropout after every skip connection, at `skip_dropout[s]` at the start of stage s
             and decaying linearly to 0 over the stage (the authors' code: 0.0, 0.4, 0.7 on
             CIFAR-10), so parameter-free skips do not win just by training fastest;
  warm-up    the first `warmup_fraction` of each stage's epochs train weights only (10 of 25).

Derivation: per decision the most probable kept choice (never 'none'); then P-DARTS's
architecture refinement caps the skip connections at `max_skips` (the paper's M = 2): only the
skips with the largest probability stay, each other skip edge takes its next preferred op.
A choice's preference is its final probability among the kept ones, then the choices dropped
at later cuts before those dropped earlier (each cut ordered by its probabilities then).
"""

from __future__ import annotations

import math

import torch

from ..checks import SpecError
from ..strategies.settings_checks import check_float_setting, check_int_setting
from .darts import Darts
from .supernet import NONE_OP, SKIP_OP, Gate, Supernet, choice_label
from .supernet_nb201 import NB201Supernet
from .supernets import build_supernet


class PDarts(Darts):
    name = "pdarts"
    label = "P-DARTS (progressive depth, shrinking ops)"
    settings_help = {
        **Darts.settings_help,
        "stages": "searches in this many stages, each from fresh weights (one epoch each at least)",
        "stage_cells": "NB201: cells per stage, e.g. [1, 2, 2]: the supernet deepens stage by stage",
        "ops_kept": "after each stage but the last, each edge keeps its this many most probable ops",
        "skip_dropout": "dropout on skip connections per stage, decayed to 0 within the stage",
        "max_skips": "the derived cell keeps at most this many skip connections (the strongest)",
        "warmup_fraction": "share of each stage that trains the weights only, before the architecture",
    }

    @classmethod
    def strategy_settings(cls) -> dict:
        return {
            **super().strategy_settings(),
            "stages": 3,
            "stage_cells": [],
            "ops_kept": [3, 2],
            "skip_dropout": [0.0, 0.4, 0.7],
            "max_skips": 2,
            "warmup_fraction": 0.4,
        }

    def check_strategy_settings(self, settings: dict) -> None:
        super().check_strategy_settings(settings)
        if settings["order"] != 1:
            raise SpecError("order", "P-DARTS uses the first-order approximation (order 1)")
        check_int_setting(settings, "stages", 1, 10)
        stages = settings["stages"]
        if settings["epochs"] < stages:
            raise SpecError("epochs", f"P-DARTS needs at least one epoch per stage ({stages} stages)")
        self._check_int_list(settings, "ops_kept", stages - 1, 1)
        if any(b > a for a, b in zip(settings["ops_kept"], settings["ops_kept"][1:], strict=False)):
            raise SpecError("ops_kept", "the op set only shrinks: each count must be at most the one before")
        cells = settings["stage_cells"]
        if cells:
            if self.space.kind != "nb201":
                raise SpecError("stage_cells", f"the {self.space.kind} space searches its depth as a decision; "
                                               "only nb201 has a repeated cell to deepen (leave stage_cells [])")
            self._check_int_list(settings, "stage_cells", stages, 1)
            if any(b < a for a, b in zip(cells, cells[1:], strict=False)):
                raise SpecError("stage_cells", "the supernet only deepens: each count must be at least the one before")
        rates = settings["skip_dropout"]
        if not isinstance(rates, list) or len(rates) != stages:
            raise SpecError("skip_dropout", f"give one dropout rate per stage ({stages})")
        for rate in rates:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
                raise SpecError("skip_dropout", f"{rate!r} is not a rate in [0, 1)")
        check_int_setting(settings, "max_skips", 0, len(self.space.decisions))
        check_float_setting(settings, "warmup_fraction", 0.0, 0.9)

    @staticmethod
    def _check_int_list(settings: dict, name: str, length: int, low: int) -> None:
        values = settings[name]
        if not isinstance(values, list) or len(values) != length:
            raise SpecError(name, f"give {length} whole numbers (one per {'cut' if name == 'ops_kept' else 'stage'})")
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise SpecError(name, f"{value!r} is not a whole number >= {low}")

    resumable_fields = ("steps_done", "stage", "kept", "dropped", "epoch_start_step")

    def __init__(self, space, data, settings=None, seed=0):
        #: decision -> indices of the choices still searched; decision -> dropped indices, latest cut first.
        self.kept = {d.name: list(range(len(d.choices))) for d in space.decisions}
        self.dropped = {d.name: [] for d in space.decisions}
        self.stage = 0
        self.epoch_start_step = 0
        super().__init__(space, data, settings, seed)
        self.stage_epochs = split_epochs(self.settings["epochs"], self.settings["stages"])
        self.reset_weight_optimizer(self.stage_epochs[0])

    # --- stages ----------------------------------------------------------------------------------
    def cells_in_stage(self, stage: int) -> int | None:
        """NB201 cells per network stage in search stage `stage`; None where the depth is a decision."""
        if self.space.kind != "nb201":
            return None
        if self.settings["stage_cells"]:
            return self.settings["stage_cells"][stage]
        return max(1, math.ceil(self.space.spec["N"] * (stage + 1) / self.settings["stages"]))

    def build_supernet(self) -> Supernet:
        cells = self.cells_in_stage(self.stage)
        if cells is None:
            return build_supernet(self.space, self.data.input_shape, self.data.num_classes)
        return NB201Supernet(self.space, self.data.input_shape, self.data.num_classes, cells_per_stage=cells)

    def stage_of(self, epoch: int) -> tuple[int, int]:
        """(stage, epoch within the stage, from 0) of a 1-based epoch."""
        start = 0
        for stage, count in enumerate(self.stage_epochs):
            if epoch <= start + count:
                return stage, epoch - start - 1
            start += count
        return len(self.stage_epochs) - 1, self.stage_epochs[-1] - 1

    def train_epoch(self, epoch: int) -> dict:
        stage, _ = self.stage_of(epoch)
        if stage != self.stage:
            self.next_stage(stage)
        self.epoch_start_step = self.steps_done
        return {**super().train_epoch(epoch), "stage": stage + 1, "cells": self.cells_in_stage(stage)}

    def next_stage(self, stage: int) -> None:
        """Cut the op set, then a deeper supernet with fresh weights and alphas."""
        self.cut_ops(self.settings["ops_kept"][stage - 1], last_cut=stage == self.settings["stages"] - 1)
        self.stage = stage
        self.supernet = self.build_supernet().to(self.device)
        self.reset_weight_optimizer(self.stage_epochs[stage])
        self.init_arch_parameters()

    def rebuild_for_resume(self) -> None:
        """A checkpoint of a later stage holds that stage's (deeper) supernet and fresh alphas."""
        if self.stage:
            self.supernet = self.build_supernet().to(self.device)
            self.reset_weight_optimizer(self.stage_epochs[self.stage])
            self.init_arch_parameters()

    def cut_ops(self, keep: int, last_cut: bool) -> None:
        with torch.no_grad():
            probabilities = self.alphas.probabilities()
        for d in self.space.decisions:
            ranked = sorted(self.kept[d.name], key=lambda i, p=probabilities[d.name]: -float(p[i]))
            if last_cut:
                ranked = [i for i in ranked if d.choices[i] != NONE_OP] + \
                         [i for i in ranked if d.choices[i] == NONE_OP]
            count = min(keep, len(ranked))
            if last_cut and count == len(ranked) and any(d.choices[i] == NONE_OP for i in ranked) and count > 1:
                count -= 1
            self.kept[d.name], cut = ranked[:count], ranked[count:]
            self.dropped[d.name] = cut + self.dropped[d.name]

    def searches_arch(self, epoch: int) -> bool:
        stage, within = self.stage_of(epoch)
        return within >= int(self.settings["warmup_fraction"] * self.stage_epochs[stage])

    def before_step(self, epoch: int) -> None:
        if isinstance(self.supernet, NB201Supernet):
            stage, within = self.stage_of(epoch)
            total = self.stage_epochs[stage] * self.steps_per_epoch()
            done = within * self.steps_per_epoch() + self.steps_done - self.epoch_start_step
            self.supernet.set_skip_dropout(self.settings["skip_dropout"][stage] * max(0.0, 1 - done / total))

    # --- gates and weights ----------------------------------------------------------------------
    def kept_probabilities(self) -> dict[str, torch.Tensor]:
        """softmax over each decision's kept choices, 0 for the dropped ones (full-length vectors)."""
        out = {}
        for d, alpha in zip(self.space.decisions, self.alphas.alphas, strict=True):
            kept = self.kept[d.name]
            probs = torch.zeros_like(alpha)
            out[d.name] = probs.index_put((torch.tensor(kept, device=alpha.device),), torch.softmax(alpha[kept], 0))
        return out

    def mixture_gates(self) -> dict[str, Gate]:
        probabilities = self.kept_probabilities()
        return {name: Gate(tuple(self.kept[name]), probabilities[name][self.kept[name]])
                for name in self.kept}

    def arch_weights(self) -> dict[str, dict[str, float]]:
        with torch.no_grad():
            probabilities = self.kept_probabilities()
        return {d.name: {choice_label(c): float(p) for c, p in zip(d.choices, probabilities[d.name], strict=True)}
                for d in self.space.decisions}

    # --- deriving --------------------------------------------------------------------------------
    def preference(self, name: str, probabilities: dict[str, torch.Tensor]) -> list[int]:
        kept = sorted(self.kept[name], key=lambda i: -float(probabilities[name][i]))
        return kept + self.dropped[name]

    def current_arch(self) -> dict:
        with torch.no_grad():
            probabilities = self.kept_probabilities()
        order = {d.name: [i for i in self.preference(d.name, probabilities) if d.choices[i] != NONE_OP]
                 or self.preference(d.name, probabilities) for d in self.space.decisions}
        choices = {d.name: d.choices[order[d.name][0]] for d in self.space.decisions}
        cap = self.settings["max_skips"]
        skips = [d for d in self.space.decisions if choices[d.name] == SKIP_OP]
        if cap and len(skips) > cap:
            skip_weight = {d.name: float(probabilities[d.name][d.index_of(SKIP_OP)]) for d in skips}
            for d in sorted(skips, key=lambda d: -skip_weight[d.name])[cap:]:
                others = [i for i in order[d.name] if d.choices[i] != SKIP_OP]
                if others:
                    choices[d.name] = d.choices[others[0]]
        return self.space.to_arch(choices)

    def epoch_info(self, epoch: int, metrics: dict, seconds: float) -> dict:
        info = super().epoch_info(epoch, metrics, seconds)
        info["kept_choices"] = {d.name: [choice_label(d.choices[i]) for i in self.kept[d.name]]
                                for d in self.space.decisions}
        return info


def split_epochs(epochs: int, stages: int) -> list[int]:
    """epochs shared among stages as evenly as possible, the remainder to the last stages."""
    base, extra = divmod(epochs, stages)
    return [base + (1 if stage >= stages - extra else 0) for stage in range(stages)]

