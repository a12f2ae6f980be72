"""A stored search as the initial values of the new-search form, so that Clone opens it prefilled."""

from __future__ import annotations

import json

from .forms import spec_field_name
from .models import Search
from .settings_fields import clone_setting_initial, pruner_schema, strategy_schema


def clone_initial(search: Search) -> dict:
    """Form field -> initial value for every setting of `search` (name gets a "copy of" prefix)."""
    kind = search.space.kind
    strategy_fields, strategy_json = clone_setting_initial("setting", search.strategy,
                                                           strategy_schema(search.strategy, kind),
                                                           search.strategy_settings)
    pruner_fields, pruner_json = clone_setting_initial("pruner_setting", search.pruner, pruner_schema(search.pruner),
                                                       search.pruner_settings)
    initial = {
        "name": f"copy of {search.name}"[:120], "space_kind": kind, "strategy": search.strategy,
        "strategy_settings": _json(strategy_json), "pruner": search.pruner, **strategy_fields, **pruner_fields,
        "pruner_settings": _json(pruner_json), "max_trials": search.max_trials,
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
