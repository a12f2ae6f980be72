"""The trial list: the leaderboard's sort, filters, and a keyset cursor.

`sort` is "best" (the search's first objective in its direction: the leaderboard's order), or a
field with an optional "-" for descending: number, epochs_done, val_accuracy, params, or any
objective metric. Trials without a value sort last either way; ties go by trial number. The cursor
is the last row's (value, number), so pages stay right while trials finish: a new or changed trial
never repeats or skips the ones already paged past in number order of equal values.
"""

from __future__ import annotations

import base64
import binascii
import json

from django.core.exceptions import ValidationError
from django.db.models import F, FloatField, Q, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from ..models import Search, Trial

COLUMNS = ("number", "epochs_done", "val_accuracy", "params")
MISSING = 1e300  # stands for "no value" so it sorts last: -MISSING when descending
DEFAULT_LIMIT, MAX_LIMIT = 50, 500


def sort_of(search: Search, sort: str) -> tuple[str, bool]:
    """(field, descending) for a sort parameter; ValidationError naming `sort` otherwise."""
    sort = (sort or "best").strip()
    if sort == "best":
        objective = search.primary_objective
        return objective["metric"], objective["direction"] == "max"
    descending, name = sort.startswith("-"), sort.lstrip("-")
    allowed = set(COLUMNS) | {o["metric"] for o in search.objectives}
    if name not in allowed:
        raise ValidationError({"sort": f"sort by best or one of {sorted(allowed)}, with - for descending"})
    return name, descending


def _value_expression(name: str, descending: bool):
    raw = Cast(F(name), FloatField()) if name in COLUMNS else Cast(KeyTextTransform(name, "metrics"), FloatField())
    return Coalesce(raw, Value(-MISSING if descending else MISSING), output_field=FloatField())


def filtered(search: Search, params) -> object:
    trials = search.trials.all()
    if params.get("state"):
        states = [s.strip() for s in params["state"].split(",") if s.strip()]
        unknown = sorted(set(states) - {s for s, _ in Trial.STATES})
        if unknown:
            raise ValidationError({"state": f"unknown state {unknown[0]!r}; use {[s for s, _ in Trial.STATES]}"})
        trials = trials.filter(state__in=states)
    for key, lookup in (("min_val_accuracy", "val_accuracy__gte"), ("max_params", "params__lte")):
        if params.get(key) not in (None, ""):
            try:
                bound = float(params[key])
            except ValueError:
                raise ValidationError({key: "must be a number"}) from None
            if bound != bound or abs(bound) > 1e18:
                raise ValidationError({key: "must be a finite number"})
            trials = trials.filter(**{lookup: bound})
    return trials


def encode_cursor(sort: str, value: float, number: int) -> str:
    raw = json.dumps({"s": sort, "v": value, "n": number}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[float, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, number = float(data["v"]), int(data["n"])
        cursor_sort = data["s"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": "not a cursor this API gave out"}) from None
    if cursor_sort != sort:
        raise ValidationError({"cursor": f"this cursor is for sort={cursor_sort}; keep the sort while paging"})
    return value, number


def trial_page(search: Search, params) -> dict:
    """{"count", "sort", "results" (Trial rows), "cursor" (for the next page, or None)}."""
    sort = (params.get("sort") or "best").strip()
    name, descending = sort_of(search, sort)
    try:
        limit = int(params.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise ValidationError({"limit": "must be a whole number"}) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError({"limit": f"must be from 1 to {MAX_LIMIT}"})
    trials = filtered(search, params)
    count = trials.count()
    trials = trials.annotate(sort_value=_value_expression(name, descending))
    if params.get("cursor"):
        value, number = decode_cursor(params["cursor"], sort)
        beyond = Q(sort_value__lt=value) if descending else Q(sort_value__gt=value)
        trials = trials.filter(beyond | Q(sort_value=value, number__gt=number))
    order = "-sort_value" if descending else "sort_value"
    rows = list(trials.order_by(order, "number")[: limit + 1])
    more, rows = len(rows) > limit, rows[:limit]
    cursor = encode_cursor(sort, rows[-1].sort_value, rows[-1].number) if more else None
    return {"count": count, "sort": sort, "results": rows, "cursor": cursor}
