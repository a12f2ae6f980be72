"""What the stored trials say about the space's decisions (no Django): importance and average effects.

Two views a reader can check:

- ``decision_effects``: for each decision and each of its values, the mean objective of the
  trials that chose it against the mean of those that did not (plain averages of stored trials);
- ``decision_importance``: permutation importance on a random-forest surrogate fitted to the
  one-hot architectures: shuffle one decision's columns across trials and see how much worse the
  surrogate predicts the objective (the increase in mean squared error, as a share of the total).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_TRIALS = 8
MAX_TRIALS = 3000  # the most recent; enough for stable averages and a quick forest


@dataclass(frozen=True)
class Effect:
    decision: str
    value: object
    with_n: int
    with_mean: float
    without_n: int
    without_mean: float

    @property
    def difference(self) -> float:
        return self.with_mean - self.without_mean


def decision_effects(space, archs: list[dict], values: list[float]) -> list[Effect]:
    """Every (decision, value) chosen by some but not all trials, largest absolute difference first."""
    y = np.asarray(values, dtype=float)
    effects = []
    for d in space.decisions:
        column = [space.complete(a)[d.name] if d.name in a else None for a in archs]
        for value in d.choices:
            chosen = np.array([c == value for c in column])
            if 0 < chosen.sum() < len(column):
                effects.append(Effect(d.name, value, int(chosen.sum()), float(y[chosen].mean()),
                                      int((~chosen).sum()), float(y[~chosen].mean())))
    return sorted(effects, key=lambda e: -abs(e.difference))


def decision_importance(space, archs: list[dict], values: list[float], seed: int = 0,
                        repeats: int = 5) -> dict[str, float]:
    """decision -> share of the surrogate's permutation importance (shares sum to 1; all 0 if none)."""
    from sklearn.ensemble import RandomForestRegressor  # heavy

    x = np.array([space.encode(a) for a in archs], dtype=float)
    y = np.asarray(values, dtype=float)
    forest = RandomForestRegressor(n_estimators=100, min_samples_leaf=2, random_state=seed).fit(x, y)
    base = float(np.mean((forest.predict(x) - y) ** 2))
    rng = np.random.default_rng(seed)
    raw, start = {}, 0
    for d in space.decisions:
        block = slice(start, start + len(d.choices))
        start += len(d.choices)
        losses = []
        for _ in range(repeats):
            shuffled = x.copy()
            shuffled[:, block] = x[rng.permutation(len(x))][:, block]
            losses.append(float(np.mean((forest.predict(shuffled) - y) ** 2)))
        raw[d.name] = max(0.0, float(np.mean(losses)) - base)
    total = sum(raw.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in sorted(raw.items(), key=lambda kv: -kv[1])}


def effect_sentence(effect: Effect, metric_label: str, points: bool) -> str:
    """'nor_conv_3x3 on edge_1<-0 adds 1.1 points of validation accuracy on average (12 trials with it:
    85.1, 30 without: 84.0)': plain means a reader can recompute from the CSV."""
    scale, unit = (100, " points") if points else (1, "")
    diff = effect.difference * scale
    verb = "adds" if diff >= 0 else "takes away"
    fmt = ".1f" if points else ".3g"
    return (f"{effect.value} on {effect.decision} {verb} {abs(diff):{fmt}}{unit} of {metric_label} on average "
            f"({effect.with_n} trials with it: {effect.with_mean * scale:{fmt}}, {effect.without_n} without: "
            f"{effect.without_mean * scale:{fmt}})")


@dataclass(frozen=True)
class OpEffect:
    """How the objective moves with the number of decisions that chose one op (a choice shared by several
    decisions, such as a cell's ops over its edges): the least-squares slope over the trials."""
    value: object
    slope: float
    trials: int
    fewest: int
    most: int


def op_effects(space, archs: list[dict], values: list[float]) -> list[OpEffect]:
    """For each choice offered by two or more decisions and chosen a varying number of times: the slope of
    the objective on that count, largest absolute slope first."""
    y = np.asarray(values, dtype=float)
    completed = [space.complete(a) for a in archs]
    offered: dict[object, list[str]] = {}
    for d in space.decisions:
        for value in d.choices:
            offered.setdefault(value, []).append(d.name)
    effects = []
    for value, names in offered.items():
        if len(names) < 2:
            continue
        counts = np.array([sum(a.get(n) == value for n in names) for a in completed], dtype=float)
        if counts.min() == counts.max():
            continue
        slope = float(np.polyfit(counts, y, 1)[0])
        effects.append(OpEffect(value, slope, len(archs), int(counts.min()), int(counts.max())))
    return sorted(effects, key=lambda e: -abs(e.slope))


def op_sentence(effect: OpEffect, metric_label: str, points: bool) -> str:
    """'each more nor_conv_3x3 (on any decision) adds 1.4 points of validation accuracy on average ...'."""
    scale, unit, fmt = (100, " points", ".1f") if points else (1, "", ".3g")
    slope = effect.slope * scale
    verb = "adds" if slope >= 0 else "takes away"
    return (f"each more {effect.value} (on any decision) {verb} {abs(slope):{fmt}}{unit} of {metric_label} on "
            f"average (least-squares slope over {effect.trials} trials choosing it {effect.fewest} to "
            f"{effect.most} times)")
