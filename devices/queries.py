"""Read model of the device comparison page: every target, every ranked trial and its cost on each.

Plain data for devices/views.py and devices/charts.py; writes nothing.
"""

from __future__ import annotations

from searches.models import Search, Trial

from .access import targets_for_search
from .models import HardwareTarget, Measurement
from .target_costs import cost_metric, not_applicable_reason, target_applies
from .units import format_cost

TOP_TRIALS = 5


def ranked_trials(search: Search) -> list[Trial]:
    """Complete trials with a value of the search's first objective, best first."""
    objective = search.primary_objective
    trials = [t for t in search.trials.filter(state=Trial.COMPLETE)
              if isinstance((t.metrics or {}).get(objective["metric"]), (int, float))]
    best_first = objective["direction"] == "max"
    return sorted(trials, key=lambda t: (-t.metrics[objective["metric"]] if best_first
                                         else t.metrics[objective["metric"]], t.number))


def _cell(target: HardwareTarget, measurement: Measurement | None, space_kind: str) -> dict:
    """One trial's cost on one target: state done/n/a/missing/pending/failed, value, text and note."""
    if not target_applies(target, space_kind):
        return {"state": "n/a", "value": None, "text": "n/a", "note": not_applicable_reason(target, space_kind)}
    if measurement is None:
        return {"state": "missing", "value": None, "text": "–", "note": "not computed yet"}
    if measurement.state == Measurement.FAILED:
        return {"state": "failed", "value": None, "text": "failed", "note": measurement.error}
    if measurement.state != Measurement.DONE:
        return {"state": "pending", "value": None, "text": "pending", "note": f"{measurement.state} on its worker"}
    key = cost_metric(target)[0]
    value = measurement.metrics.get(key)
    return {"state": "done", "value": value, "text": format_cost(value, key), "note": ""}


def comparison(search: Search, chosen_ids: list[int] | None = None, highlight_id: int | None = None) -> dict:
    """Plain data for the device comparison page: every target, every ranked trial with its cost on
    each target, which trials are chosen (default: the best TOP_TRIALS) and which is highlighted."""
    trials = ranked_trials(search)
    targets = sorted(targets_for_search(search), key=lambda t: (t.is_measured, t.kind, t.name))
    stored = {(m.trial_id, m.target_id): m for m in Measurement.objects.filter(trial__search=search)}
    chosen = set(chosen_ids) if chosen_ids is not None else {t.id for t in trials[:TOP_TRIALS]}
    ids = [t.id for t in trials]
    if highlight_id not in ids:
        highlight_id = next((i for i in ids if i in chosen), ids[0] if ids else None)
    space_kind = search.space.kind
    objective = search.primary_objective
    return {
        "objective": objective,
        "targets": [{"id": t.id, "name": t.name, "kind": t.kind, "cost": cost_metric(t)[0],
                     "cost_label": cost_metric(t)[1], "applies": target_applies(t, space_kind),
                     "note": not_applicable_reason(t, space_kind)} for t in targets],
        "trials": [{"id": t.id, "number": t.number, "description": t.description,
                    "value": t.metrics[objective["metric"]], "chosen": t.id in chosen,
                    "costs": [_cell(target, stored.get((t.id, target.id)), space_kind) for target in targets]}
                   for t in trials],
        "highlight": highlight_id,
    }
