"""Plotly figures of the device comparison page, built from plain data (devices.queries.comparison).

The page refetches its data.json when a trial changes or the choice changes and redraws these
figures as they come, so the drawing rules live here only.
"""

from __future__ import annotations

from searches import charts as search_charts

from .units import format_cost

TRIAL_COLOURS = search_charts.COLOUR_BLIND_SAFE  # Okabe-Ito, as on every chart
HIGHLIGHT_COLOUR = search_charts.VERMILLION


def _better(a: float, b: float, sense: str) -> bool:
    return a > b if sense == "max" else a < b


def dominates(p: tuple, q: tuple, senses: tuple[str, ...]) -> bool:
    """p is at least as good as q everywhere and strictly better somewhere."""
    at_least = all(a == b or _better(a, b, s) for a, b, s in zip(p, q, senses, strict=True))
    return at_least and any(_better(a, b, s) for a, b, s in zip(p, q, senses, strict=True))


def pareto_indices(points: list[tuple], senses: tuple[str, ...] = ("min", "max")) -> list[int]:
    """Indices (ascending) of the points no other point dominates: two objectives by a sort and a
    sweep (O(n log n), searches/charts.py), more by pairwise comparison."""
    if len(senses) == 2:
        return search_charts.pareto_indices(points, senses)
    return [i for i, p in enumerate(points) if not any(dominates(q, p, senses) for q in points)]


def trial_label(trial: dict) -> str:
    return f"#{trial['number']}"


def relative_costs(values: list) -> list:
    """Each value over the smallest positive one (1.0 = the cheapest chosen trial); None stays None."""
    known = [v for v in values if isinstance(v, (int, float)) and v > 0]
    if not known:
        return [None for _ in values]
    cheapest = min(known)
    return [v / cheapest if isinstance(v, (int, float)) else None for v in values]


def cost_bars_figure(targets: list[dict], trials: list[dict]) -> dict:
    """Grouped bars: one group per applicable target, one bar per chosen trial. Targets measure in different
    units, so a bar is the trial's cost relative to the cheapest chosen trial on that target; the
    hover text gives the real figure."""
    shown = [i for i, target in enumerate(targets) if target["applies"]]  # n/a targets get no empty group
    columns = {i: relative_costs([t["costs"][i]["value"] for t in trials]) for i in shown}
    data = []
    for row, trial in enumerate(trials):
        cells = trial["costs"]
        data.append({
            "type": "bar", "name": trial_label(trial), "x": [targets[i]["name"] for i in shown],
            "y": [columns[i][row] for i in shown],
            "hovertext": [f"{trial_label(trial)} on {targets[i]['name']}: {cells[i]['text']}" for i in shown],
            "hoverinfo": "text", "marker": {"color": TRIAL_COLOURS[row % len(TRIAL_COLOURS)]},
        })
    return {
        "data": data,
        "layout": {
            "barmode": "group", "height": 340, "margin": {"l": 60, "r": 10, "t": 10, "b": 90},
            "yaxis": {"title": {"text": "cost / cheapest chosen trial"}, "rangemode": "tozero"},
            "legend": {"orientation": "h", "y": 1.12}, "showlegend": bool(data),
        },
    }


def front_points(target_index: int, trials: list[dict]) -> list[dict]:
    """The trials with a cost on that target: {id, number, cost, value}."""
    points = []
    for t in trials:
        cell = t["costs"][target_index]
        if cell["state"] == "done" and isinstance(cell["value"], (int, float)):
            points.append({"id": t["id"], "number": t["number"], "cost": cell["value"], "value": t["value"]})
    return points


def pareto_figure(points: list[dict], highlight_id: int | None, cost_key: str, cost_label: str,
                  objective: dict) -> dict:
    """Objective against cost for one target: every trial, the Pareto front as a step line, and the
    highlighted trial ringed (the same trial is ringed on every target's chart)."""
    pairs = [(p["cost"], p["value"]) for p in points]
    front = sorted((points[i] for i in pareto_indices(pairs, ("min", objective["direction"]))),
                   key=lambda p: p["cost"])
    chosen = [p for p in points if p["id"] == highlight_id]
    positive = [p["cost"] for p in points if p["cost"] > 0]
    spread = max(positive) / min(positive) if positive else 1
    return {
        "data": [
            _points_trace("trials", points, cost_key, {**search_charts.BACKGROUND_POINTS, "size": 7}),
            {**_points_trace("Pareto front", front, cost_key, {"color": search_charts.BLUE, "size": 8}),
             "mode": "lines+markers", "line": {"shape": "hv", "color": search_charts.BLUE}},
            _points_trace("highlighted", chosen, cost_key,
                          {"color": "rgba(0,0,0,0)", "size": 16, "line": {"color": HIGHLIGHT_COLOUR, "width": 3}}),
        ],
        "layout": {
            "height": 260, "margin": {"l": 50, "r": 10, "t": 10, "b": 40}, "showlegend": False,
            "xaxis": {"title": {"text": cost_label}, "type": "log" if spread > 100 else "linear"},
            "yaxis": {"title": {"text": objective["metric"].replace("_", " ")}},
        },
    }


def _points_trace(name: str, points: list[dict], cost_key: str, marker: dict) -> dict:
    return {
        "type": "scatter", "mode": "markers", "name": name, "marker": marker,
        "x": [p["cost"] for p in points], "y": [p["value"] for p in points],
        "customdata": [p["id"] for p in points],
        "hovertext": [f"#{p['number']}: {format_cost(p['cost'], cost_key)}" for p in points], "hoverinfo": "text+y",
    }


def comparison_figures(data: dict) -> dict:
    """The bars of the chosen trials and one Pareto figure per applicable target."""
    chosen = [t for t in data["trials"] if t["chosen"]]
    fronts = {}
    for index, target in enumerate(data["targets"]):
        if target["applies"]:
            fronts[str(target["id"])] = pareto_figure(front_points(index, data["trials"]), data["highlight"],
                                                      target["cost"], target["cost_label"], data["objective"])
    return {"bars": cost_bars_figure(data["targets"], chosen), "fronts": fronts}
