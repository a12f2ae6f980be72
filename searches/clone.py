"""A stored search as the initial values of the new-search form, so that Clone opens it prefilled."""

from __future__ import annotations

import json

from .forms import spec_field_name
from .models import Search


def clone_initial(search: Search) -> dict:
    """Form field -> initial value for every setting of `search` (name gets a "copy of" prefix)."""
    kind = search.space.kind
    initial = {
        "name": f"copy of {search.name}"[:120], "space_kind": kind, "strategy": search.strategy,
        "strategy_settings": _json(search.strategy_settings), "pruner": search.pruner,
        "pruner_settings": _json(search.pruner_settings), "max_trials": search.max_trials,
        "max_seconds": search.max_seconds, "parallelism": search.parallelism, "seed": search.seed,
        "device": search.device, "warm_start_from": list(search.warm_start_from.values_list("id", flat=True)),
        **{k: v for k, v in (search.training or {}).items()},
        **{k: v for k, v in (search.estimation or {}).items() if v not in (None, "")},
    }
    if len(search.objectives) > 1:
        initial["second_objective"] = search.objectives[1]["metric"]
    for constraint in search.constraints:
        if constraint["metric"] == "params":
            initial["max_params"] = constraint["max"]
        else:
            initial["cost_limit"], initial["cost_limit_target"] = constraint["max"], constraint["metric"]
    for field in search.space.build().spec_fields():
        value = search.space.spec.get(field.name)
        if field.kind in ("int_list", "float_list"):
            value = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value or [])
        initial[spec_field_name(kind, field.name)] = value
    return initial


def _json(value: dict) -> str:
    return json.dumps(value) if value else ""
