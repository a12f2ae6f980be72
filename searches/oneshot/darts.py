"""DARTS (Liu, Simonyan & Yang, ICLR 2019): differentiable search over a softmax mixture.

Bi-level optimisation, alternating per batch: the architecture logits (alpha) take an Adam step
on a validation batch, then the supernet weights take an SGD step on a training batch, both
through the mixture gates softmax(alpha).

    order 1  grad_alpha L_val(w, alpha)                       (DARTS-V1 in NAS-Bench-201)
    order 2  grad_alpha L_val(w', alpha), w' = w - xi grad_w L_train(w, alpha) (one unrolled
             step, xi = the current weight learning rate, momentum and weight decay included),
             whose Hessian-vector term is the paper's finite difference
             - xi (grad_alpha L_train(w+, alpha) - grad_alpha L_train(w-, alpha)) / (2 eps),
             w+- = w +- eps grad_w' L_val(w', alpha), eps = 0.01 / ||grad_w' L_val||.

Discretisation: the most probable op per decision, never 'none' (as in the paper).

Collapse mitigation. On NAS-Bench-201, DARTS drifts to parameter-free ops (the benchmark paper
reports 54.30% CIFAR-10 test accuracy for DARTS-V1, a cell of skip connections), because a skip
connection helps the supernet train fastest. Two documented remedies, each a setting:
  early_stop_skips = k   DARTS+ (Liang et al., 2019): stop the search after the epoch whose
                         derived cell has k or more skip connections (the paper uses 2) and
                         keep that cell.
  auxiliary_skip = true  DARTS- (Chu et al., ICLR 2021): add beta x input to every mixed edge,
                         beta decaying linearly from 1 to 0 over the search, so the learnable
                         skip op no longer gets the residual advantage for itself.
Both are off by default, so `darts` alone is the paper's algorithm.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import SpecError
from ..strategies.settings_checks import check_bool_setting, check_float_setting, check_int_setting
from .search import EpochCallback, OneShotResult, OneShotSearch, averaged
from .supernet import NONE_OP, SKIP_OP, ArchitectureParameters, argmax_arch

#: eps of the finite difference is this over the norm of the validation gradient (DARTS's 0.01).
FINITE_DIFFERENCE_SCALE = 0.01


def skip_count(arch: dict) -> int:
    return sum(1 for value in arch.values() if value == SKIP_OP)


class Darts(OneShotSearch):
    name = "darts"
    label = "DARTS (differentiable)"
    settings_help = {
        "order": "1: first-order DARTS; 2: second order (unrolled, slower)",
        "arch_lr": "the architecture weights' learning rate",
        "arch_weight_decay": "weight decay of the architecture weights",
        "early_stop_skips": "DARTS+: stop when this many edges prefer skip (0: off)",
        "auxiliary_skip": "DARTS-: an auxiliary skip on every edge, decayed to zero",
    }

    @classmethod
    def strategy_settings(cls) -> dict:
        return {
            "order": 1,
            # The paper's 3e-4 over ~19,500 CIFAR-10 steps moves alpha about as far as 0.015 over the
            # ~400 steps of 20 epochs on a small dataset such as digits; with 3e-4 alpha would
            # hardly leave the uniform distribution there.
            "arch_lr": 0.015,
            "arch_weight_decay": 1e-3,
            "early_stop_skips": 0,
            "auxiliary_skip": False,
        }

    def check_strategy_settings(self, settings: dict) -> None:
        check_int_setting(settings, "order", 1, 2)
        check_float_setting(settings, "arch_lr", 0.0, 10.0, open_low=True)
        check_float_setting(settings, "arch_weight_decay", 0.0, 1.0)
        check_int_setting(settings, "early_stop_skips", 0, len(self.space.decisions))
        check_bool_setting(settings, "auxiliary_skip")
        has_skip = any(SKIP_OP in d.choices for d in self.space.decisions)
        if settings["early_stop_skips"] and not has_skip:
            raise SpecError("early_stop_skips", f"this space has no {SKIP_OP!r} op to count")

    resumable_fields = ("steps_done",)

    def __init__(self, space, data, settings=None, seed=0):
        super().__init__(space, data, settings, seed)
        if self.settings["auxiliary_skip"] and not self.supernet.supports_auxiliary_skip:
            raise SpecError("auxiliary_skip", f"the {space.kind} supernet has no mixed edges to add a skip to")
        self.init_arch_parameters()
        self.steps_done = 0

    def init_arch_parameters(self) -> None:
        """Fresh alphas (DARTS: 1e-3 x N(0, 1)) and their Adam optimiser."""
        self.alphas = ArchitectureParameters(self.space.decisions, generator=self.generator).to(self.device)
        self.arch_optimizer = torch.optim.Adam(self.arch_parameters(), lr=self.settings["arch_lr"],
                                               betas=(0.5, 0.999), weight_decay=self.settings["arch_weight_decay"])

    def arch_parameters(self) -> list[torch.nn.Parameter]:
        """What the architecture step updates (PC-DARTS adds its edge weights)."""
        return list(self.alphas.parameters())

    def searches_arch(self, epoch: int) -> bool:
        """Whether this epoch takes architecture steps (P-DARTS warms the weights up first)."""
        return True

    # --- the epoch ------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict:
        totals = {"train_loss": 0.0, "train_correct": 0, "train_seen": 0,
                  "val_loss": 0.0, "val_correct": 0, "val_seen": 0}
        searching = self.searches_arch(epoch)
        for x_train, y_train in self.train_batches():
            self.supernet.auxiliary_skip_weight = self.auxiliary_skip_weight()
            self.before_step(epoch)
            if searching:
                x_val, y_val = self.next_val_batch()
                val_loss, val_correct = self.arch_step(x_train, y_train, x_val, y_val)
                totals["val_loss"] += val_loss * len(y_val)
                totals["val_correct"] += val_correct
                totals["val_seen"] += len(y_val)
            loss, correct = self.weight_step(x_train, y_train, self.mixture_gates())
            self.steps_done += 1
            totals["train_loss"] += loss * len(y_train)
            totals["train_correct"] += correct
            totals["train_seen"] += len(y_train)
        return {
            "train_loss": averaged(totals["train_loss"], totals["train_seen"]),
            "train_accuracy": averaged(totals["train_correct"], totals["train_seen"]),
            "val_loss": averaged(totals["val_loss"], totals["val_seen"]),
            "val_accuracy": averaged(totals["val_correct"], totals["val_seen"]),
            "auxiliary_skip_weight": self.supernet.auxiliary_skip_weight,
        }

    def before_step(self, epoch: int) -> None:
        """Called before each batch's steps (P-DARTS sets its skip dropout here)."""

    def auxiliary_skip_weight(self) -> float:
        """DARTS-'s beta: 1 at the first step, falling linearly to 0 at the last; 0 when off."""
        if not self.settings["auxiliary_skip"]:
            return 0.0
        total = self.settings["epochs"] * self.steps_per_epoch()
        return max(0.0, 1.0 - self.steps_done / max(1, total - 1))

    # --- architecture steps ------------------------------------------------------------------------
    def arch_step(self, x_train, y_train, x_val, y_val) -> tuple[float, int]:
        """One update of alpha; returns the validation loss and correct count before it."""
        self.supernet.train()
        alphas = self.arch_parameters()
        if self.settings["order"] == 1:
            loss, correct = self.mixture_loss(x_val, y_val)
            # A decision can be out of the graph (P-DARTS: the layers of a depth it no longer keeps).
            gradients = zeros_where_unused(torch.autograd.grad(loss, alphas, allow_unused=True), alphas)
        else:
            loss, correct, gradients = self.second_order_gradients(x_train, y_train, x_val, y_val)
        self.arch_optimizer.zero_grad(set_to_none=True)
        for alpha, gradient in zip(alphas, gradients, strict=True):
            alpha.grad = gradient
        self.arch_optimizer.step()
        return loss.item(), correct

    def mixture_gates(self) -> dict:
        """The gates of one mixture forward pass (P-DARTS restricts them to the ops it keeps)."""
        return self.alphas.mixture_gates()

    def mixture_loss(self, x, y) -> tuple[torch.Tensor, int]:
        logits = self.supernet(x, self.mixture_gates())
        return F.cross_entropy(logits, y), int((logits.argmax(1) == y).sum())

    def second_order_gradients(self, x_train, y_train, x_val, y_val):
        weights = [p for p in self.supernet.parameters() if p.requires_grad]
        alphas = self.arch_parameters()
        originals = [w.detach().clone() for w in weights]
        xi = self.weight_optimizer.param_groups[0]["lr"]
        self._virtual_step(weights, x_train, y_train, xi)
        val_loss, correct = self.mixture_loss(x_val, y_val)
        grads = torch.autograd.grad(val_loss, alphas + weights, allow_unused=True)
        alpha_grads = zeros_where_unused(grads[:len(alphas)], alphas)
        weight_grads = zeros_where_unused(grads[len(alphas):], weights)
        restore(weights, originals)
        hessian = self._hessian_vector_product(weights, originals, weight_grads, x_train, y_train)
        return val_loss, correct, [g - xi * h for g, h in zip(alpha_grads, hessian, strict=True)]

    def _virtual_step(self, weights, x, y, xi: float) -> None:
        """w <- w - xi (momentum buffer + grad + weight decay x w), as the weight optimiser would."""
        loss, _ = self.mixture_loss(x, y)
        grads = zeros_where_unused(torch.autograd.grad(loss, weights, allow_unused=True), weights)
        momentum, decay = self.settings["weight_momentum"], self.settings["weight_decay"]
        with torch.no_grad():
            for w, g in zip(weights, grads, strict=True):
                buffer = self.weight_optimizer.state.get(w, {}).get("momentum_buffer")
                step = g + decay * w
                if buffer is not None:
                    step = step + momentum * buffer
                w.sub_(xi * step)

    def _hessian_vector_product(self, weights, originals, vector, x, y) -> list[torch.Tensor]:
        """(grad_alpha L_train(w + eps v) - grad_alpha L_train(w - eps v)) / (2 eps)."""
        alphas = self.arch_parameters()
        norm = torch.sqrt(sum((v**2).sum() for v in vector))
        eps = FINITE_DIFFERENCE_SCALE / (float(norm) + 1e-12)
        sides = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                for w, original, v in zip(weights, originals, vector, strict=True):
                    w.copy_(original + sign * eps * v)
            loss, _ = self.mixture_loss(x, y)
            sides.append(zeros_where_unused(torch.autograd.grad(loss, alphas, allow_unused=True), alphas))
        restore(weights, originals)
        return [(plus - minus) / (2 * eps) for plus, minus in zip(*sides, strict=True)]

    # --- reporting and deriving ------------------------------------------------------------------
    def arch_weights(self) -> dict[str, dict[str, float]]:
        return self.alphas.table()

    def current_arch(self) -> dict:
        with torch.no_grad():
            return argmax_arch(self.space, self.alphas.probabilities(), exclude=(NONE_OP,))

    def epoch_info(self, epoch: int, metrics: dict, seconds: float) -> dict:
        info = super().epoch_info(epoch, metrics, seconds)
        info["skip_count"] = skip_count(info["derived_arch"])
        return info

    def should_stop(self, info: dict) -> bool:
        limit = self.settings["early_stop_skips"]
        return bool(limit) and info["skip_count"] >= limit

    def derive(self) -> tuple[dict, list[dict]]:
        return self.current_arch(), []


def zeros_where_unused(grads, params) -> list[torch.Tensor]:
    return [torch.zeros_like(p) if g is None else g for g, p in zip(grads, params, strict=True)]


def restore(weights, originals) -> None:
    with torch.no_grad():
        for w, original in zip(weights, originals, strict=True):
            w.copy_(original)


def run_darts(space, data, settings: dict | None = None, seed: int = 0,
              on_epoch: EpochCallback | None = None) -> OneShotResult:
    return Darts(space, data, settings, seed).run(on_epoch)
