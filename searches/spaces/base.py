"""The search-space contract every space implements.

An architecture is plain JSON (a dict), so it can be stored on a Trial row and
shipped to any worker. Every space describes itself as a fixed list of
categorical *decisions* (name -> allowed values); a choice for each decision is
an architecture. That single representation gives every strategy what it needs
without knowing the space: random sampling, mutation of one decision, grid
enumeration, one-hot encodings for predictors, and a policy over decisions for
the RL controller. Spaces with a variable depth still list a decision for every
possible layer; decisions beyond the chosen depth are *inactive* and are
normalised away, so the canonical key deduplicates them.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ..checks import SpecError


@dataclass(frozen=True)
class Decision:
    """One categorical choice of a space, e.g. ("width_2", (32, 64, 128))."""

    name: str
    choices: tuple

    def index_of(self, value) -> int:
        return self.choices.index(value)


@dataclass(frozen=True)
class SpecField:
    """How the web form shows one entry of a space spec.

    kind is one of: int, float, int_list, float_list, multi (several of
    `options`), choice (one of `options`), bool.
    """

    name: str
    kind: str
    label: str
    help: str = ""
    options: tuple = field(default=())


class SearchSpace(ABC):
    """Base class. Subclasses set `kind`, `label` and implement the abstract methods."""

    kind: str = ""
    label: str = ""
    #: The task types this space can build models for.
    tasks: tuple = ("classification",)

    def __init__(self, spec: dict | None = None):
        merged = dict(self.default_spec())
        if spec is not None:
            if not isinstance(spec, dict):
                raise SpecError("spec", "must be a JSON object")
            unknown = sorted(set(spec) - set(merged))
            if unknown:
                raise SpecError(unknown[0], "is not a setting of this space")
            merged.update(spec)
        self.spec = self.validate_spec(merged)
        self._decisions = tuple(self.build_decisions())

    # --- what a subclass provides -------------------------------------------------
    @classmethod
    @abstractmethod
    def default_spec(cls) -> dict:
        """A small spec that trains quickly on a CPU."""

    @classmethod
    @abstractmethod
    def spec_fields(cls) -> list[SpecField]:
        """The form fields for the spec, in display order."""

    @abstractmethod
    def validate_spec(self, spec: dict) -> dict:
        """Return the normalised spec or raise SpecError naming the field."""

    @abstractmethod
    def build_decisions(self) -> list[Decision]:
        """The decisions, in a fixed order."""

    @abstractmethod
    def active_decisions(self, choices: dict) -> list[str]:
        """Names of the decisions that matter for these choices (e.g. up to the depth)."""

    @abstractmethod
    def to_torch(self, arch: dict, input_shape: tuple, num_classes: int,
                 task: str = "classification", vocab_size: int = 0):
        """Build a torch.nn.Module for this architecture.

        input_shape excludes the batch dimension: (C, H, W) for images, (F,) of
        floats for tabular data, (L,) of token ids for sequences (then vocab_size
        > 0). task "classification" returns (batch, num_classes) logits;
        "language_modelling" returns (batch, L, vocab_size) next-token logits.
        """

    @abstractmethod
    def describe(self, arch: dict) -> str:
        """A one-line human description of the architecture."""

    # --- derived behaviour shared by every space -----------------------------------
    @property
    def decisions(self) -> tuple[Decision, ...]:
        return self._decisions

    def decision(self, name: str) -> Decision:
        for d in self._decisions:
            if d.name == name:
                return d
        raise KeyError(name)

    def to_arch(self, choices: dict) -> dict:
        """Normalise a full choice dict into an architecture: inactive decisions dropped."""
        arch = {name: choices[name] for name in self.active_decisions(choices)}
        self.validate_arch(arch)
        return arch

    def validate_arch(self, arch: dict) -> None:
        if not isinstance(arch, dict):
            raise SpecError("arch", "must be a JSON object")
        # Values first: active_decisions reads them (a depth, a block type), and a bad
        # value there must be reported as a SpecError, not crash it.
        for d in self._decisions:
            if d.name in arch and arch[d.name] not in d.choices:
                raise SpecError(d.name, f"{arch[d.name]!r} is not one of {list(d.choices)}")
        full = self.complete(arch)
        expected = set(self.active_decisions(full))
        missing = sorted(expected - set(arch))
        extra = sorted(set(arch) - expected)
        if missing:
            raise SpecError(missing[0], "is missing from the architecture")
        if extra:
            raise SpecError(extra[0], "is not an active decision of this architecture")

    def complete(self, arch: dict) -> dict:
        """Fill inactive decisions with their first choice, giving a full choice dict."""
        return {d.name: arch.get(d.name, d.choices[0]) for d in self._decisions}

    def sample(self, rng: random.Random) -> dict:
        return self.to_arch({d.name: rng.choice(d.choices) for d in self._decisions})

    def mutate(self, arch: dict, rng: random.Random) -> dict:
        """Change one active decision to a different value (a new architecture)."""
        full = self.complete(arch)
        candidates = [self.decision(n) for n in self.active_decisions(full)]
        candidates = [d for d in candidates if len(d.choices) > 1]
        if not candidates:
            return dict(arch)
        d = rng.choice(candidates)
        full[d.name] = rng.choice([c for c in d.choices if c != full[d.name]])
        return self.to_arch(full)

    def neighbours(self, arch: dict) -> list[dict]:
        """Every architecture one active decision away, deduplicated, in a fixed order."""
        full = self.complete(arch)
        seen, out = {self.key(arch)}, []
        for name in self.active_decisions(full):
            for value in self.decision(name).choices:
                if value == full[name]:
                    continue
                other = self.to_arch({**full, name: value})
                k = self.key(other)
                if k not in seen:
                    seen.add(k)
                    out.append(other)
        return out

    def encode(self, arch: dict) -> list[float]:
        """Fixed-length one-hot encoding; inactive decisions are all zeros."""
        full = self.complete(arch)
        active = set(self.active_decisions(full))
        vec: list[float] = []
        for d in self._decisions:
            one_hot = [0.0] * len(d.choices)
            if d.name in active:
                one_hot[d.index_of(full[d.name])] = 1.0
            vec.extend(one_hot)
        return vec

    def encoding_length(self) -> int:
        return sum(len(d.choices) for d in self._decisions)

    def key(self, arch: dict) -> str:
        """Canonical key: equal architectures give equal keys."""
        payload = json.dumps(arch, sort_keys=True, separators=(",", ":"))
        return hashlib.sha1(payload.encode()).hexdigest()[:20]

    def log10_size(self) -> float:
        """log10 of the number of distinct architectures (exact via size() when small)."""
        return math.log10(self.size())

    #: What zero_cost_prior computes, for help texts; empty when the space has none.
    zero_cost_prior_label: str = ""

    def zero_cost_prior(self, arch: dict) -> float:
        """A score computed from the architecture alone, without building or training it, that
        ranks architectures like their accuracy (higher is better); spaces without one raise."""
        raise NotImplementedError(f"the {self.kind} space has no zero-cost prior")

    def size(self) -> int:
        """Exact number of distinct architectures. Default: product of choices,
        which is exact for spaces whose decisions are all always active."""
        n = 1
        for d in self._decisions:
            n *= len(d.choices)
        return n

    def enumerate(self, limit: int = 100_000):
        """Yield every architecture once (for grid search on small spaces)."""
        import itertools

        seen: set[str] = set()
        names = [d.name for d in self._decisions]
        for values in itertools.product(*(d.choices for d in self._decisions)):
            arch = self.to_arch(dict(zip(names, values, strict=True)))
            k = self.key(arch)
            if k in seen:
                continue
            seen.add(k)
            yield arch
            if len(seen) >= limit:
                return

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "log10_size": round(self.log10_size(), 3)}
