"""ProxylessNAS (Cai, Zhu & Han, ICLR 2019): binarised paths and a latency loss.

Per batch, after `warmup_epochs` of weight-only training:
  weight step  one path per decision drawn from softmax(alpha); only that path runs and trains;
  arch step    `arch_paths` (default 2) distinct choices per decision drawn from softmax(alpha),
               the others masked out; a binary gate picks the active one, and the gradient
               reaches alpha through the binary-gate trick (supernet.binary_gate). After the
               step, the sampled choices' alphas are shifted by a common offset so that their
               total probability - and so every unsampled choice's probability - is unchanged
               (the paper's rescaling, which stops unsampled paths drifting).

Loss of the arch step, with E[latency] from a per-choice table (latency.py):
    latency_loss "log":  CE + latency_weight x log E[latency]
    latency_loss "mul":  CE x (E[latency] / target) ** latency_weight   (MnasNet-style; target =
                         latency_target_ms, or E[latency] of the uniform distribution when 0)
E[latency] sums over every decision, active or not; exact for the NB201 cell (all decisions
always active), an approximation for spaces with a searched depth.

Derivation: the most probable choice per decision (as the paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..checks import SpecError
from ..spaces.base import SearchSpace
from ..strategies.settings_checks import check_choice_setting, check_float_setting, check_int_setting
from .search import EpochCallback, OneShotResult, OneShotSearch, averaged
from .supernet import ArchitectureParameters, Gate, argmax_arch, binary_gate, choice_label, sample_indices

LATENCY_LOSSES = ("log", "mul")


class ExpectedLatency:
    """E[latency] as a differentiable function of the choice probabilities."""

    def __init__(self, space: SearchSpace, table: dict, base: float = 0.0):
        self.space = space
        self.base = float(base)
        self.costs = {d.name: torch.tensor([lookup_cost(table, d.name, c) for c in d.choices])
                      for d in space.decisions}
        unknown = sorted(set(table) - {d.name for d in space.decisions})
        if unknown:
            raise SpecError("latency_table", f"{unknown[0]!r} is not a decision of this space")

    def expected(self, probabilities: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = [(probs * self.costs[name].to(probs.device)).sum() for name, probs in probabilities.items()]
        return torch.stack(terms).sum() + self.base

    def of_arch(self, arch: dict) -> float:
        return self.base + sum(float(self.costs[n][self.space.decision(n).index_of(v)]) for n, v in arch.items())

    def uniform(self) -> float:
        return self.base + sum(float(c.mean()) for c in self.costs.values())


def lookup_cost(table: dict, name: str, choice) -> float:
    """table[name][choice]; choices may be keyed by value or by their JSON label ('64')."""
    costs = table.get(name)
    if costs is None:
        raise SpecError("latency_table", f"no latencies for decision {name!r}")
    for key in (choice, choice_label(choice)):
        if key in costs:
            return float(costs[key])
    raise SpecError("latency_table", f"no latency for {name} = {choice!r}")


class ProxylessNAS(OneShotSearch):
    name = "proxyless"
    label = "ProxylessNAS (binarised paths, latency loss)"
    settings_help = {
        "arch_lr": "the architecture weights' learning rate",
        "arch_paths": "paths sampled per architecture step",
        "warmup_epochs": "epochs of weight training before architecture steps",
        "latency_weight": "weight of the latency term in the loss (0: off)",
        "latency_loss": "how latency enters the loss",
        "latency_target_ms": "latency the search aims at (0: the uniform mix)",
    }

    @classmethod
    def strategy_settings(cls) -> dict:
        return {
            "arch_lr": 0.01,
            "arch_paths": 2,
            "warmup_epochs": 0,
            "latency_weight": 0.0,
            "latency_loss": "log",
            "latency_target_ms": 0.0,
        }

    def check_strategy_settings(self, settings: dict) -> None:
        check_float_setting(settings, "arch_lr", 0.0, 10.0, open_low=True)
        check_int_setting(settings, "arch_paths", 2, 1_000)
        check_int_setting(settings, "warmup_epochs", 0, settings["epochs"] - 1)
        check_float_setting(settings, "latency_weight", 0.0, 1e6)
        check_choice_setting(settings, "latency_loss", LATENCY_LOSSES)
        check_float_setting(settings, "latency_target_ms", 0.0, 1e9)

    def __init__(self, space, data, settings=None, seed=0, latency_table: dict | None = None,
                 latency_base_ms: float = 0.0):
        super().__init__(space, data, settings, seed)
        self.latency = ExpectedLatency(space, latency_table, latency_base_ms) if latency_table else None
        if self.settings["latency_weight"] > 0 and self.latency is None:
            raise SpecError("latency_table", "a latency table is needed when latency_weight > 0")
        if self.latency is not None and self.latency.uniform() <= 0:
            raise SpecError("latency_table", "expected latency must be positive; give a positive base latency")
        self.target = self.settings["latency_target_ms"] or (self.latency.uniform() if self.latency else 0.0)
        self.alphas = ArchitectureParameters(space.decisions, generator=self.generator).to(self.device)
        # beta1 = 0 as in the paper's code: the sampled gradients are too noisy for momentum.
        self.arch_optimizer = torch.optim.Adam(self.alphas.parameters(), lr=self.settings["arch_lr"],
                                               betas=(0.0, 0.999))

    # --- the epoch ------------------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict:
        searching = epoch > self.settings["warmup_epochs"]
        loss_total, correct, seen, arch_losses = 0.0, 0, 0, []
        for x, y in self.train_batches():
            loss, right = self.weight_step(x, y, self.sampled_path_gates())
            loss_total, correct, seen = loss_total + loss * len(y), correct + right, seen + len(y)
            if searching:
                arch_losses.append(self.arch_step(*self.next_val_batch()))
        metrics = {"train_loss": averaged(loss_total, seen), "train_accuracy": averaged(correct, seen),
                   "arch_loss": averaged(sum(arch_losses), len(arch_losses))}
        if self.latency is not None:
            with torch.no_grad():
                metrics["expected_latency"] = float(self.latency.expected(self.alphas.probabilities()))
        return metrics

    def sampled_path_gates(self) -> dict[str, Gate]:
        with torch.no_grad():
            return {name: Gate(sample_indices(p, 1, self.generator))
                    for name, p in self.alphas.probabilities().items()}

    def arch_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        self.supernet.train()
        alphas = list(self.alphas.alphas)
        probabilities = self.alphas.probabilities()
        sampled = {d.name: sample_indices(probabilities[d.name], self.settings["arch_paths"], self.generator)
                   for d in self.space.decisions}
        gates = {d.name: binary_gate(alpha, sampled[d.name], self.generator)
                 for d, alpha in zip(self.space.decisions, alphas, strict=True)}
        loss = self.arch_loss(F.cross_entropy(self.supernet(x, gates), y), probabilities)
        grads = torch.autograd.grad(loss, alphas, allow_unused=True)
        before = [torch.logsumexp(a.detach()[list(sampled[d.name])], 0)
                  for d, a in zip(self.space.decisions, alphas, strict=True)]
        self.arch_optimizer.zero_grad(set_to_none=True)
        for alpha, grad in zip(alphas, grads, strict=True):
            alpha.grad = torch.zeros_like(alpha) if grad is None else grad
        self.arch_optimizer.step()
        self._keep_unsampled_probabilities(alphas, sampled, before)
        return loss.item()

    def arch_loss(self, cross_entropy: torch.Tensor, probabilities: dict[str, torch.Tensor]) -> torch.Tensor:
        weight = self.settings["latency_weight"]
        if self.latency is None or weight == 0:
            return cross_entropy
        expected = self.latency.expected(probabilities).clamp_min(1e-12)
        if self.settings["latency_loss"] == "log":
            return cross_entropy + weight * torch.log(expected)
        return cross_entropy * (expected / self.target) ** weight

    def _keep_unsampled_probabilities(self, alphas, sampled, before) -> None:
        with torch.no_grad():
            for decision, alpha, old_total in zip(self.space.decisions, alphas, before, strict=True):
                index = list(sampled[decision.name])
                alpha[index] += old_total - torch.logsumexp(alpha[index], 0)

    # --- reporting and deriving ------------------------------------------------------------------
    def arch_weights(self) -> dict[str, dict[str, float]]:
        return self.alphas.table()

    def current_arch(self) -> dict:
        with torch.no_grad():
            return argmax_arch(self.space, self.alphas.probabilities())

    def epoch_info(self, epoch: int, metrics: dict, seconds: float) -> dict:
        info = super().epoch_info(epoch, metrics, seconds)
        if self.latency is not None:
            info["derived_latency"] = self.latency.of_arch(info["derived_arch"])
        return info

    def derive(self) -> tuple[dict, list[dict]]:
        return self.current_arch(), []


def run_proxyless(space, data, settings: dict | None = None, seed: int = 0, on_epoch: EpochCallback | None = None,
                  latency_table: dict | None = None, latency_base_ms: float = 0.0) -> OneShotResult:
    return ProxylessNAS(space, data, settings, seed, latency_table, latency_base_ms).run(on_epoch)
