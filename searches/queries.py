"""Read models of the search page: what it paints first, the leaderboard pages, the chart points and
the events a reconnecting page missed. Each answer's size grows with the page, not with the search:
the summary is counts, the best trial and the first leaderboard page; sorting, filtering and paging
happen in the database (indexes in models.Trial.Meta). Writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, FloatField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from .event_log import event_log
from .events import search_payload, trial_payload
from .models import Search, Trial

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
#: Leaderboard columns the database sorts by: name -> (column or metrics key, is a real column).
SORTS = {"number": ("number", True), "val_accuracy": ("val_accuracy", True), "params": ("params", True),
         "test_accuracy": ("test_accuracy", False), "epochs": ("epochs_done", True)}
STATE_FILTERS = ("all", "open", *[s for s, _ in Trial.STATES])


class QueryError(ValueError):
    """A bad sort, filter or page in the query string; the view answers 400 with the message."""


@dataclass(frozen=True)
class Board:
    sort: str
    direction: str
    state: str
    page: int
    per_page: int


def metric_expression(metric: str):
    """A trial's value of a metric, in SQL: its column where it has one, else the JSON key as float."""
    if metric in ("val_accuracy", "params"):
        return F(metric)
    return Cast(KeyTextTransform(metric, "metrics"), FloatField())


def parse_board(search: Search, query) -> Board:
    """The leaderboard's sort/filter/page from a query string; the default ranks by the first objective."""
    objective = search.primary_objective
    sort = query.get("sort") or "objective"
    if sort not in SORTS and sort != "objective":
        raise QueryError(f"sort by one of: objective, {', '.join(SORTS)}")
    default_direction = objective["direction"] if sort == "objective" else ("asc" if sort == "number" else "desc")
    direction = {"max": "desc", "min": "asc"}.get(default_direction, default_direction)
    direction = query.get("dir") or direction
    if direction not in ("asc", "desc"):
        raise QueryError("dir is asc or desc")
    state = query.get("state") or "all"
    if state not in STATE_FILTERS:
        raise QueryError(f"state is one of: {', '.join(STATE_FILTERS)}")
    try:
        page = int(query.get("page") or 1)
        per_page = int(query.get("per_page") or PAGE_SIZE)
    except ValueError:
        raise QueryError("page and per_page are whole numbers") from None
    if page < 1 or not 1 <= per_page <= MAX_PAGE_SIZE:
        raise QueryError(f"page starts at 1; per_page is 1 to {MAX_PAGE_SIZE}")
    return Board(sort, direction, state, page, per_page)


def leaderboard(search: Search, board: Board) -> dict:
    """One page of trials, sorted and filtered in the database; trials without a value sort last."""
    trials = Trial.objects.filter(search=search)
    if board.state == "open":
        trials = trials.filter(state__in=Trial.OPEN_STATES)
    elif board.state != "all":
        trials = trials.filter(state=board.state)
    if board.sort == "objective":
        key = metric_expression(search.primary_metric)
    else:
        column, real = SORTS[board.sort]
        key = F(column) if real else metric_expression(column)
    order = key.desc(nulls_last=True) if board.direction == "desc" else key.asc(nulls_last=True)
    tie = "number" if board.sort != "number" else "id"
    total = trials.count()
    start = (board.page - 1) * board.per_page
    rows = [trial_payload(t) for t in trials.order_by(order, tie)[start:start + board.per_page]]
    return {"trials": rows, "total": total, "page": board.page, "per_page": board.per_page,
            "pages": max(1, -(-total // board.per_page)), "sort": board.sort, "dir": board.direction,
            "state": board.state}


def state_counts(search: Search) -> dict[str, int]:
    counts = dict(search.trials.values_list("state").annotate(n=Count("id")).order_by())
    return {state: counts.get(state, 0) for state, _ in Trial.STATES} | {"total": sum(counts.values())}


def best_trial(search: Search) -> dict | None:
    objective = search.primary_objective
    key = metric_expression(objective["metric"])
    order = key.desc(nulls_last=True) if objective["direction"] == "max" else key.asc(nulls_last=True)
    trial = (Trial.objects.filter(search=search, state=Trial.COMPLETE).annotate(value=key)
             .filter(value__isnull=False).order_by(order, "number").first())
    return trial_payload(trial) if trial else None


def summary(search: Search, query=None) -> dict:
    """What the search page paints first: the search, counts, the best trial, the first leaderboard
    page, and the event stream's position (read first: a later event is one the page will get)."""
    incarnation, last = event_log().position(search.id)
    board = parse_board(search, query or {})
    return {
        "search": search_payload(search), "objective": search.primary_objective,
        "second": second_objective(search), "counts": state_counts(search), "best": best_trial(search),
        "leaderboard": leaderboard(search, board), "log": incarnation, "seq": last,
        "open": [trial_payload(t) for t in search.trials.filter(state__in=Trial.OPEN_STATES).order_by("number")],
        "max_number": search.trials.order_by("-number").values_list("number", flat=True).first() or 0,
        "socket": f"/ws/searches/{search.id}/",
    }


def second_objective(search: Search) -> dict:
    return search.objectives[1] if len(search.objectives) > 1 else {"metric": "params", "direction": "min"}


def chart_points(search: Search) -> dict:
    """(number, first objective[, second objective]) of every complete trial, one query, values only."""
    first, second = search.primary_metric, second_objective(search)["metric"]
    rows = (Trial.objects.filter(search=search, state=Trial.COMPLETE)
            .annotate(a=metric_expression(first), b=metric_expression(second))
            .filter(a__isnull=False).order_by("number").values_list("number", "a", "b"))
    best, pareto = [], []
    for number, a, b in rows:
        best.append((number, a))
        if b is not None:
            pareto.append((b, a, number))
    return {"best": best, "pareto": pareto}


def stream_position(search: Search) -> tuple[str, int]:
    """(incarnation, last number) of the search's event stream: any change to its trials moves it."""
    return event_log().position(search.id)


def events_after(search: Search, after: int, incarnation: str) -> dict:
    """The events a page missed: those numbered above `after` in the stream it knows; a reset when the
    stream was restarted or no longer holds them all (the page then reloads its summary)."""
    current, last, events = event_log().since(search.id, after)
    if (incarnation and current and incarnation != current) or events is None:
        return {"reset": True, "log": current, "seq": last, "events": []}
    return {"reset": False, "log": current, "seq": last, "events": events}
