"""The sub-architectures of a trained architecture: the search space of a pruning search."""

from __future__ import annotations

from ..checks import SpecError
from ..spaces.base import Decision, SearchSpace, SpecField
from ..spaces.registry import build_space

#: space kind -> how a decision shrinks: "width" (any choice up to the trained one), "depth" (the
#: same), anything else is kept as trained.
PRUNABLE_KINDS: dict[str, dict[str, str]] = {
    "chain_mlp": {"depth": "depth", "width_": "width"},
    "macro_cnn": {"stages": "depth", "blocks_": "depth", "channels_": "width"},
    "transformer": {"depth": "depth", "mlp_ratio_": "width"},
}


def shrink_kind(space_kind: str, decision: str) -> str | None:
    for prefix, kind in PRUNABLE_KINDS[space_kind].items():
        if decision == prefix or (prefix.endswith("_") and decision.startswith(prefix)):
            return kind
    return None


class PrunedSpace(SearchSpace):
    """`parent`'s architectures that fit inside `arch`: widths and depth at most the trained ones,
    every other decision as trained. Its architectures are architectures of `parent`."""

    def __init__(self, parent: SearchSpace, arch: dict):
        if parent.kind not in PRUNABLE_KINDS:
            raise SpecError("space", f"pruning is not available for the {parent.kind!r} space yet; "
                                     f"use one of {sorted(PRUNABLE_KINDS)}")
        parent.validate_arch(arch)
        self.parent = parent
        self.trained_arch = dict(arch)
        self.kind = parent.kind
        self.label = f"{parent.label} (pruned from {parent.describe(arch)})"
        self.tasks = parent.tasks
        super().__init__(parent.spec)

    # the parent's spec is already valid; the decisions shrink
    def default_spec(self) -> dict:  # type: ignore[override]
        return dict(self.parent.spec)

    @classmethod
    def spec_fields(cls) -> list[SpecField]:
        return []

    def validate_spec(self, spec: dict) -> dict:
        return spec

    def build_decisions(self) -> list[Decision]:
        full = self.parent.complete(self.trained_arch)
        decisions = []
        for d in self.parent.decisions:
            trained = full[d.name]
            if d.name in self.trained_arch and shrink_kind(self.kind, d.name):
                choices = tuple(c for c in d.choices if c <= trained)
            else:
                choices = (trained,)
            decisions.append(Decision(d.name, choices))
        return decisions

    def active_decisions(self, choices: dict) -> list[str]:
        return self.parent.active_decisions(choices)

    def to_torch(self, arch: dict, input_shape: tuple, num_classes: int, task: str = "classification",
                 vocab_size: int = 0):
        self.validate_arch(arch)
        return self.parent.to_torch(arch, input_shape, num_classes, task, vocab_size)

    def describe(self, arch: dict) -> str:
        return self.parent.describe(arch)

    def size(self) -> int:
        return sum(1 for _ in self.enumerate())


#: The key a stored space spec carries when its search prunes a trained model:
#: {"trial": the parent trial's id, "arch": its trained architecture}. The rest of the spec is the
#: parent space's own, so the stored kind stays the parent's (diagrams, costs and exports are its).
PRUNED_FROM = "pruned_from"


def parent_spec(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != PRUNED_FROM}


def build_stored_space(kind: str, spec: dict) -> SearchSpace:
    """The space a stored (kind, spec) describes: a PrunedSpace when the spec says what it prunes."""
    parent = build_space(kind, parent_spec(spec))
    if PRUNED_FROM not in spec:
        return parent
    source = spec[PRUNED_FROM]
    if not isinstance(source, dict) or not isinstance(source.get("arch"), dict):
        raise SpecError(PRUNED_FROM, "must be {\"trial\": id, \"arch\": the trained architecture}")
    return PrunedSpace(parent, source["arch"])
