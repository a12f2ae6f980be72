"""ENAS (Pham et al., ICML 2018): a controller trained by REINFORCE on shared-weight rewards.

Each epoch alternates ENAS's two phases:
  1. shared weights: one pass over the training split, each batch training the single path of
     an architecture sampled from the controller;
  2. controller: `controller_steps` REINFORCE updates; each samples `controller_samples`
     architectures and rewards each with its accuracy on one validation batch, computed with the
     shared weights (no training). Loss: -(reward - baseline) log pi(arch) - entropy_weight H(pi),
     the baseline an exponential moving average of the rewards.
Derivation as in the paper: sample `derive_samples` architectures from the trained policy (plus
its most probable one), evaluate each on the whole validation split with the shared weights,
keep the best.

The controller here is a policy with independent logits per decision, not the paper's LSTM:
our spaces are lists of categorical decisions (searches/spaces/base.py), and the REINFORCE
controller of searches/strategies/reinforce.py makes the same choice.
"""

from __future__ import annotations

import torch
from torch import nn

from ..spaces.base import Decision, SearchSpace
from ..strategies.settings_checks import check_float_setting, check_int_setting
from .search import EpochCallback, OneShotResult, OneShotSearch, averaged, batch_accuracy
from .supernet import argmax_arch, path_gates, probability_table


class Controller(nn.Module):
    """A categorical policy per decision; an architecture is one draw from each."""

    def __init__(self, decisions: tuple[Decision, ...]):
        super().__init__()
        self.decisions = tuple(decisions)
        self.logits = nn.ParameterList(nn.Parameter(torch.zeros(len(d.choices))) for d in self.decisions)

    def probabilities(self) -> dict[str, torch.Tensor]:
        return {d.name: torch.softmax(logit, dim=0) for d, logit in zip(self.decisions, self.logits, strict=True)}

    def sample(self, space: SearchSpace, generator: torch.Generator) -> dict:
        """An architecture (inactive decisions dropped, so they earn no credit for the reward)."""
        choices = {}
        with torch.no_grad():
            for decision, probs in self.probabilities().items():
                index = int(torch.multinomial(probs.cpu(), 1, generator=generator))
                choices[decision] = space.decision(decision).choices[index]
        return space.to_arch(choices)

    def log_probability(self, space: SearchSpace, arch: dict) -> torch.Tensor:
        probs = self.probabilities()
        return sum(torch.log(probs[name][space.decision(name).index_of(value)]) for name, value in arch.items())

    def entropy(self) -> torch.Tensor:
        return sum(-(p * torch.log(p)).sum() for p in self.probabilities().values())


class ReinforceTrainer:
    """REINFORCE with a moving-average baseline and an entropy bonus, for a Controller."""

    def __init__(self, controller: Controller, space: SearchSpace, lr: float, baseline_decay: float,
                 entropy_weight: float):
        self.controller = controller
        self.space = space
        self.optimizer = torch.optim.Adam(controller.parameters(), lr=lr)
        self.baseline_decay = baseline_decay
        self.entropy_weight = entropy_weight
        self.baseline: float | None = None

    def update(self, archs: list[dict], rewards: list[float]) -> float:
        """One policy-gradient step on a batch of (arch, reward); returns the baseline used."""
        if self.baseline is None:
            # The first batch sets the baseline to its own mean, so its advantages are centred.
            self.baseline = sum(rewards) / len(rewards)
        baseline = self.baseline
        loss = -self.entropy_weight * self.controller.entropy()
        for arch, reward in zip(archs, rewards, strict=True):
            loss = loss - (reward - baseline) * self.controller.log_probability(self.space, arch) / len(archs)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        for reward in rewards:
            self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        return baseline


class Enas(OneShotSearch):
    name = "enas"
    label = "ENAS (controller on shared weights)"
    settings_help = {
        "controller_lr": "the controller's learning rate",
        "controller_steps": "controller updates per epoch",
        "controller_samples": "architectures sampled per controller update",
        "baseline_decay": "moving-average decay of the reward baseline",
        "entropy_weight": "entropy bonus that keeps the controller exploring",
        "derive_samples": "architectures sampled to pick the result",
    }

    @classmethod
    def strategy_settings(cls) -> dict:
        return {
            "controller_lr": 0.05,
            "controller_steps": 20,
            "controller_samples": 4,
            "baseline_decay": 0.9,
            "entropy_weight": 1e-3,
            "derive_samples": 10,
        }

    def check_strategy_settings(self, settings: dict) -> None:
        check_float_setting(settings, "controller_lr", 0.0, 10.0, open_low=True)
        check_int_setting(settings, "controller_steps", 0, 100_000)
        check_int_setting(settings, "controller_samples", 1, 1_000)
        check_float_setting(settings, "baseline_decay", 0.0, 0.9999)
        check_float_setting(settings, "entropy_weight", 0.0, 10.0)
        check_int_setting(settings, "derive_samples", 0, 10_000)

    def __init__(self, space, data, settings=None, seed=0):
        super().__init__(space, data, settings, seed)
        self.controller = Controller(space.decisions).to(self.device)
        self.trainer = ReinforceTrainer(self.controller, space, self.settings["controller_lr"],
                                        self.settings["baseline_decay"], self.settings["entropy_weight"])

    def extra_state(self) -> dict:
        return {"controller_optimizer": self.trainer.optimizer.state_dict(), "baseline": self.trainer.baseline}

    def load_extra_state(self, state: dict) -> None:
        self.trainer.optimizer.load_state_dict(state["controller_optimizer"])
        self.trainer.baseline = state["baseline"]

    def train_epoch(self, epoch: int) -> dict:
        loss_total, correct, seen = 0.0, 0, 0
        for x, y in self.train_batches():
            arch = self.controller.sample(self.space, self.generator)
            loss, right = self.weight_step(x, y, path_gates(self.space, arch))
            loss_total, correct, seen = loss_total + loss * len(y), correct + right, seen + len(y)
        rewards = self.train_controller()
        return {
            "train_loss": averaged(loss_total, seen),
            "train_accuracy": averaged(correct, seen),
            "mean_reward": averaged(sum(rewards), len(rewards)),
            "baseline": self.trainer.baseline,
        }

    def train_controller(self) -> list[float]:
        all_rewards: list[float] = []
        for _ in range(self.settings["controller_steps"]):
            x, y = self.next_val_batch()
            archs = [self.controller.sample(self.space, self.generator)
                     for _ in range(self.settings["controller_samples"])]
            rewards = [batch_accuracy(self.supernet, path_gates(self.space, arch), x, y) for arch in archs]
            self.trainer.update(archs, rewards)
            all_rewards += rewards
        return all_rewards

    def arch_weights(self) -> dict[str, dict[str, float]]:
        with torch.no_grad():
            return probability_table(self.space.decisions, self.controller.probabilities())

    def current_arch(self) -> dict:
        with torch.no_grad():
            return argmax_arch(self.space, self.controller.probabilities())

    def derive(self) -> tuple[dict, list[dict]]:
        sampled = [self.controller.sample(self.space, self.generator) for _ in range(self.settings["derive_samples"])]
        return self.evaluate_candidates(self.distinct([self.current_arch(), *sampled]))


def run_enas(space, data, settings: dict | None = None, seed: int = 0,
             on_epoch: EpochCallback | None = None) -> OneShotResult:
    return Enas(space, data, settings, seed).run(on_epoch)
