"""Plotly figures built from plain data (lists of trial dicts), no Django.

The search page draws these on load and the browser redraws them with the same
rules as websocket updates arrive (static/js/search_live.js mirrors best_so_far).
"""

from __future__ import annotations


def best_so_far(trials: list[dict], metric: str = "val_accuracy", direction: str = "max") -> tuple[list, list]:
    """(trial numbers, best value among complete trials up to each number)."""
    xs, ys, best = [], [], None
    for t in sorted(trials, key=lambda t: t["number"]):
        value = (t.get("metrics") or {}).get(metric)
        if t["state"] != "complete" or value is None:
            continue
        if best is None or (value > best if direction == "max" else value < best):
            best = value
        xs.append(t["number"])
        ys.append(best)
    return xs, ys


def best_so_far_figure(trials: list[dict], metric: str = "val_accuracy", direction: str = "max") -> dict:
    done = [t for t in trials if t["state"] == "complete" and (t.get("metrics") or {}).get(metric) is not None]
    xs, ys = best_so_far(trials, metric, direction)
    return {
        "data": [
            {"type": "scatter", "mode": "markers", "name": "trial",
             "x": [t["number"] for t in done], "y": [t["metrics"][metric] for t in done],
             "marker": {"color": "#9aa5b1", "size": 7}},
            {"type": "scatter", "mode": "lines+markers", "name": "best so far", "line": {"shape": "hv"},
             "x": xs, "y": ys, "marker": {"color": "#1f6feb"}},
        ],
        "layout": {
            "margin": {"l": 50, "r": 10, "t": 10, "b": 40},
            "xaxis": {"title": {"text": "trial number"}, "rangemode": "tozero"},
            "yaxis": {"title": {"text": metric.replace("_", " ")}},
            "legend": {"orientation": "h"},
            "height": 320,
        },
    }


def learning_curve_figure(epochs: dict[str, list[tuple[int, float]]]) -> dict:
    """One line per metric name: {"val_accuracy": [(1, 0.5), ...], ...}."""
    data = []
    for name, points in sorted(epochs.items()):
        axis = "y" if "accuracy" in name else "y2"
        data.append({"type": "scatter", "mode": "lines+markers", "name": name.replace("_", " "),
                     "x": [p[0] for p in points], "y": [p[1] for p in points], "yaxis": axis})
    return {
        "data": data,
        "layout": {
            "margin": {"l": 50, "r": 50, "t": 10, "b": 40}, "height": 320,
            "xaxis": {"title": {"text": "epoch"}},
            "yaxis": {"title": {"text": "accuracy"}},
            "yaxis2": {"title": {"text": "loss"}, "overlaying": "y", "side": "right"},
            "legend": {"orientation": "h"},
        },
    }
