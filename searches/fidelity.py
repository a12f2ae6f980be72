"""Low-fidelity training by width: train a thinner copy of an architecture (no Django).

The space's spec is scaled with training.trainer.scale_widths, and the
architecture's width choices are mapped the same way, so the thin model is the
same architecture with every width times the multiplier.
"""

from __future__ import annotations

from .spaces.registry import build_space
from .training.trainer import WIDTH_KEYS, scale_width, scale_widths


def width_decisions(space) -> set[str]:
    """Decisions whose choices are one of the spec's width lists."""
    lists = {tuple(space.spec[k]) for k in WIDTH_KEYS if isinstance(space.spec.get(k), list)}
    return {d.name for d in space.decisions if tuple(d.choices) in lists}


def thinner(space, arch: dict, multiplier: float):
    """(scaled space, mapped architecture); the originals when the multiplier is 1."""
    if multiplier == 1:
        return space, arch
    scaled_space = build_space(space.kind, scale_widths(space.spec, multiplier))
    widths = width_decisions(space)
    mapped = {name: scale_width(value, multiplier) if name in widths else value for name, value in arch.items()}
    return scaled_space, mapped
