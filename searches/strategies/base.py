"""The strategy contract: stateless, seeded ask(history, n).

A strategy keeps no private history. Each call to `ask` receives every trial of
the search as TrialRecords (rebuilt from the database by the caller), so any
worker can continue any search after a crash. Determinism comes from seeding a
fresh RNG with the search seed and the history length: the same history gives
the same proposals.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from ..spaces.base import SearchSpace
from .settings_checks import SettingInfo, merge_settings, read_schema

# Trial states as the engine sees them (the Django model uses the same strings).
QUEUED, RUNNING, COMPLETE, PRUNED, FAILED, CANCELLED = (
    "queued", "running", "complete", "pruned", "failed", "cancelled",
)
FINISHED_STATES = (COMPLETE, PRUNED, FAILED, CANCELLED)


@dataclass(frozen=True)
class TrialRecord:
    """One trial as a strategy sees it."""

    number: int
    arch: dict
    state: str
    metrics: dict = field(default_factory=dict)
    #: objective value per finished epoch (for multi-fidelity pruners and curve fits)
    curve: tuple = ()
    #: the space's key of `arch` when the caller has it (a stored trial's arch_key); empty: computed when
    #: needed. Every ask reads the keys of the whole history, and computing them (JSON and a hash per
    #: record) was most of an ask of a search thousands of trials long.
    key: str = ""

    def value(self, metric: str) -> float | None:
        v = self.metrics.get(metric)
        return float(v) if v is not None else None


@dataclass(frozen=True)
class Objective:
    """The metric a single-objective strategy maximises (or minimises)."""

    metric: str = "val_accuracy"
    direction: str = "max"

    def score(self, record: TrialRecord) -> float | None:
        """Higher is better, whatever the direction; None when not available."""
        if record.state != COMPLETE:
            return None
        v = record.value(self.metric)
        if v is None:
            return None
        return v if self.direction == "max" else -v

    def as_dict(self) -> dict:
        """The form a search stores its objectives in: {"metric": ..., "direction": ...}."""
        return {"metric": self.metric, "direction": self.direction}


#: What a search optimises when it names no objective: validation accuracy, the higher the better.
DEFAULT_OBJECTIVE = Objective()


#: A hard constraint: True when the architecture may be trained.
Constraint = Callable[[dict], bool]


class Strategy(ABC):
    name: str = ""
    label: str = ""
    #: True when the strategy reads a list of objectives from its "objectives" setting.
    multi_objective: bool = False

    def __init__(
        self,
        space: SearchSpace,
        settings: dict | None = None,
        seed: int = 0,
        objective: Objective | None = None,
        constraints: list[Constraint] | None = None,
    ):
        self.space = space
        self.settings = self.validate_settings(dict(settings or {}))
        self.seed = int(seed)
        self.objective = objective or Objective()
        self.constraints = list(constraints or [])

    #: One line of help per setting, for the form.
    settings_help: dict[str, str] = {}

    @classmethod
    def default_settings(cls) -> dict:
        return {}

    @classmethod
    def settings_schema(cls, space: SearchSpace) -> list[SettingInfo]:
        """Each setting with its default, its range (read off validate_settings' checks) and its help."""
        probe = cls.__new__(cls)
        probe.space = space
        return read_schema(probe.validate_settings, cls.default_settings(), cls.settings_help)

    def validate_settings(self, settings: dict) -> dict:
        return merge_settings(self.default_settings(), settings, f"the {self.name} strategy")

    @abstractmethod
    def ask(self, history: list[TrialRecord], n: int) -> list[dict]:
        """Return up to n new architectures, none already in history, all feasible."""

    # --- helpers for subclasses -----------------------------------------------------
    def rng(self, history: list[TrialRecord], salt: int = 0) -> random.Random:
        return random.Random(f"{self.seed}:{len(history)}:{salt}:{self.name}")

    def feasible(self, arch: dict) -> bool:
        return all(check(arch) for check in self.constraints)

    def seen_keys(self, history: list[TrialRecord]) -> set[str]:
        return {t.key or self.space.key(t.arch) for t in history}

    def scored(self, history: list[TrialRecord]) -> list[tuple[float, TrialRecord]]:
        out = []
        for t in history:
            s = self.objective.score(t)
            if s is not None:
                out.append((s, t))
        return out

    def accept(self, arch: dict, seen: set[str]) -> bool:
        """True (and arch recorded as seen) when arch is new and feasible."""
        k = self.space.key(arch)
        if k in seen or not self.feasible(arch):
            return False
        seen.add(k)
        return True

    def sample_new(self, rng: random.Random, seen: set[str], n: int, max_tries: int = 2000) -> list[dict]:
        """Up to n random, new, feasible architectures (fewer when the space runs out)."""
        out: list[dict] = []
        tries = 0
        while len(out) < n and tries < max_tries:
            tries += 1
            arch = self.space.sample(rng)
            if self.accept(arch, seen):
                out.append(arch)
        return out

    def breed(self, history: list[TrialRecord], n: int, parents: list,
              make_child: Callable[[list, random.Random, set[str]], dict | None]) -> list[dict]:
        """Proposals of an evolutionary strategy: random until the population is full, then
        `make_child(parents, rng, seen)`; random again whenever no new child comes of it."""
        rng, seen = self.rng(history), self.seen_keys(history)

        def child(i: int) -> dict | None:
            if parents and len(history) + i >= self.settings["population_size"]:
                return make_child(parents, rng, seen)
            return None

        return self.propose_each(n, rng, seen, child)

    def propose_each(self, n: int, rng: random.Random, seen: set[str],
                     propose: Callable[[int], dict | None]) -> list[dict]:
        """Up to n proposals from `propose(i)`; a random new architecture wherever it gives
        none, so fewer than n come back only when the space is exhausted."""
        out: list[dict] = []
        for i in range(n):
            arch = propose(i)
            if arch is None:
                arch = next(iter(self.fill_random(rng, seen, 1)), None)
            if arch is None:
                break
            out.append(arch)
        return out

    def fill_random(self, rng: random.Random, seen: set[str], n: int) -> list[dict]:
        """Like sample_new, but when random draws run dry on a small space, walk the whole
        space in a shuffled order, so fewer than n come back only when it is exhausted."""
        out = self.sample_new(rng, seen, n)
        if len(out) < n and self.space.size() <= EXHAUSTIVE_FALLBACK_LIMIT:
            remaining = list(self.space.enumerate(limit=EXHAUSTIVE_FALLBACK_LIMIT))
            rng.shuffle(remaining)
            for arch in remaining:
                if len(out) == n:
                    break
                if self.accept(arch, seen):
                    out.append(arch)
        return out

    def neighbours_of(self, arch: dict) -> list[tuple[str, dict]]:
        """(key, arch) of every neighbour; memoised because it is a pure function of the space."""
        cache = self.__dict__.setdefault("_neighbour_cache", {})
        k = self.space.key(arch)
        if k not in cache:
            cache[k] = [(self.space.key(other), other) for other in self.space.neighbours(arch)]
        return cache[k]


#: Spaces up to this size may be enumerated to find the last unseen architectures.
EXHAUSTIVE_FALLBACK_LIMIT = 100_000


def by_number(history: list[TrialRecord]) -> list[TrialRecord]:
    """History in trial-number order: the order in which a strategy replays it."""
    return sorted(history, key=lambda t: t.number)
