"""Plotly figures built from plain data (lists of trial dicts), no Django.

The search page fetches them once (searches/<id>/charts.json) and then keeps them current from the
websocket's deltas (static/js/search_live.js); at any size the figures carry every improvement of the
best-so-far line and every point of the Pareto front, and at most MAX_SCATTER_POINTS other points.
"""

from __future__ import annotations

#: Okabe-Ito (Okabe & Ito 2008): distinguishable with every common colour-vision deficiency. Every figure
#: here and in devices/charts.py draws with these only (tests/searches/test_palette.py).
BLUE, ORANGE, GREEN, PURPLE, SKY_BLUE, VERMILLION, YELLOW, BLACK = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
COLOUR_BLIND_SAFE = (BLUE, ORANGE, GREEN, PURPLE, SKY_BLUE, VERMILLION, YELLOW, BLACK)
#: A sequential scale from three palette colours, dark to light (its lightness rises monotonically).
SEQUENTIAL_SCALE = [[0.0, BLUE], [0.5, SKY_BLUE], [1.0, YELLOW]]
#: The many points behind a highlighted line: the palette's sky blue, half transparent.
BACKGROUND_POINTS = {"color": SKY_BLUE, "opacity": 0.55}

# Above the plot: below it, a horizontal legend collides with the x-axis title.
LEGEND_ON_TOP = {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"}
METRIC_LABELS = {"val_accuracy": "validation accuracy", "test_accuracy": "test accuracy", "params": "parameters",
                 "train_seconds": "training seconds"}


#: The trace types of static/vendor/plotly-search/plotly-search.min.js (its index.js registers them), the
#: search page's partial plotly.js bundle: every figure that page draws uses only these. No scattergl: its
#: WebGL code and set-up were most of the page's longest task; a thinned SVG scatter draws in less.
SEARCH_PAGE_TRACES = ("scatter", "bar", "heatmap", "parcoords")
#: An SVG scatter of this many points is drawn in about 100 ms in headless Chromium at load 6 on two cores
#: (bench/scale.py); beyond it the points are thinned (the best line and the Pareto front, separate
#: traces, are always drawn in full).
MAX_SCATTER_POINTS = 1000


def _better(a, b, direction: str) -> bool:
    return a > b if direction == "max" else a < b


def improvements(points: list[tuple[int, float]], direction: str = "max") -> tuple[list, list]:
    """(trial numbers, values) where the best value so far improved, from (number, value) pairs: the
    best-so-far line is these steps (drawn as "hv"), however many trials lie between them."""
    xs, ys, best = [], [], None
    for number, value in sorted(points):
        if value is not None and (best is None or _better(value, best, direction)):
            best = value
            xs.append(number)
            ys.append(value)
    return xs, ys


def best_so_far(trials: list[dict], metric: str = "val_accuracy", direction: str = "max") -> tuple[list, list]:
    """(trial numbers, best value among complete trials up to each number)."""
    xs, ys, best = [], [], None
    for t in sorted(trials, key=lambda t: t["number"]):
        value = (t.get("metrics") or {}).get(metric)
        if t["state"] != "complete" or value is None:
            continue
        if best is None or _better(value, best, direction):
            best = value
        xs.append(t["number"])
        ys.append(best)
    return xs, ys


def thin(points: list, limit: int = MAX_SCATTER_POINTS) -> list:
    """At most `limit` points, evenly spread over the list (its order kept); all of them when fewer."""
    if len(points) <= limit:
        return points
    step = len(points) / limit
    return [points[int(i * step)] for i in range(limit)]


def scatter_trace(points: list) -> dict:
    """The many points behind a line, drawn with SVG and thinned above MAX_SCATTER_POINTS (the front or the
    best line, drawn in full, carries what matters); smaller markers once they are thinned."""
    size = 7 if len(points) <= MAX_SCATTER_POINTS else 4
    return {"type": "scatter", "mode": "markers", "marker": {**BACKGROUND_POINTS, "size": size}}


def best_so_far_figure(trials: list[dict], metric: str = "val_accuracy", direction: str = "max") -> dict:
    points = [(t["number"], t["metrics"][metric]) for t in trials
              if t["state"] == "complete" and (t.get("metrics") or {}).get(metric) is not None]
    return best_figure(points, metric, direction)


def best_figure(points: list[tuple[int, float]], metric: str = "val_accuracy", direction: str = "max",
                total: int | None = None) -> dict:
    """From (trial number, value) of the complete trials: every trial (thinned) and the best-so-far
    steps, carried on to the last trial."""
    points = sorted(points)
    xs, ys = improvements(points, direction)
    if points and xs[-1] != points[-1][0]:
        xs, ys = xs + [points[-1][0]], ys + [ys[-1]]
    shown = thin(points)
    return {
        "data": [
            {**scatter_trace(points), "name": "trial", "x": [p[0] for p in shown], "y": [p[1] for p in shown]},
            {"type": "scatter", "mode": "lines+markers", "name": "best so far",
             "x": xs, "y": ys, "marker": {"color": BLUE}, "line": {"shape": "hv", "color": BLUE}},
        ],
        "layout": {
            "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
            "xaxis": {"title": {"text": "trial number"}, "rangemode": "tozero"},
            "yaxis": {"title": {"text": metric.replace("_", " ")}},
            "legend": LEGEND_ON_TOP,
            "height": 320,
        },
        "meta": {"points": len(points), "shown": len(shown), "limit": MAX_SCATTER_POINTS},
    }


def learning_curve_figure(epochs: dict[str, list[tuple[int, float]]]) -> dict:
    """One line per metric name: {"val_accuracy": [(1, 0.5), ...], ...}."""
    data = []
    for index, (name, points) in enumerate(sorted(epochs.items())):
        axis = "y" if "accuracy" in name else "y2"
        colour = COLOUR_BLIND_SAFE[index % len(COLOUR_BLIND_SAFE)]
        data.append({"type": "scatter", "mode": "lines+markers", "name": name.replace("_", " "),
                     "x": [p[0] for p in points], "y": [p[1] for p in points], "yaxis": axis,
                     "line": {"color": colour}, "marker": {"color": colour}})
    return {
        "data": data,
        "layout": {
            "margin": {"l": 50, "r": 50, "t": 30, "b": 40}, "height": 320,
            "xaxis": {"title": {"text": "epoch"}},
            "yaxis": {"title": {"text": "accuracy"}},
            "yaxis2": {"title": {"text": "loss"}, "overlaying": "y", "side": "right"},
            "legend": LEGEND_ON_TOP,
        },
    }


def metric_label(metric: str, labels: dict | None = None) -> str:
    return (labels or {}).get(metric) or METRIC_LABELS.get(metric, metric.replace("_", " "))


def _value(trial: dict, metric: str):
    return (trial.get("metrics") or {}).get(metric)


def pareto_indices(points: list[tuple[float, float]], directions: tuple[str, str]) -> list[int]:
    """Indices (ascending) of the points no other point beats on both objectives: a sort and one sweep,
    O(n log n). Equal points do not beat each other, so each copy of a front point is on the front."""
    signs = [1.0 if d == "max" else -1.0 for d in directions]
    oriented = [(p[0] * signs[0], p[1] * signs[1]) for p in points]
    order = sorted(range(len(points)), key=lambda i: (-oriented[i][0], -oriented[i][1]))
    front, best_y, last = [], None, None
    for i in order:  # best x first; a point is on the front when no better x had as good a y
        x, y = oriented[i]
        if best_y is None or y > best_y or (x, y) == last:
            front.append(i)
            last = (x, y)
            best_y = y if best_y is None else max(best_y, y)
    return sorted(front)


def pareto_figure(trials: list[dict], x_metric: str, x_direction: str,
                  y_metric: str = "val_accuracy", y_direction: str = "max", labels: dict | None = None) -> dict:
    done = [(_value(t, x_metric), _value(t, y_metric), t["number"]) for t in trials if t["state"] == "complete"
            and _value(t, x_metric) is not None and _value(t, y_metric) is not None]
    return pareto_points_figure(done, x_metric, x_direction, y_metric, y_direction, labels)


def pareto_points_figure(points: list[tuple[float, float, int]], x_metric: str, x_direction: str,
                         y_metric: str = "val_accuracy", y_direction: str = "max", labels: dict | None = None) -> dict:
    """From (x, y, trial number) of the complete trials: every trial (thinned) and the whole front."""
    front = sorted(points[i] for i in pareto_indices([p[:2] for p in points], (x_direction, y_direction)))
    shown = thin(points)
    return {
        "data": [
            {**scatter_trace(points), "name": "trial", "x": [p[0] for p in shown],
             "y": [p[1] for p in shown], "text": [f"trial {p[2]}" for p in shown]},
            {"type": "scatter", "mode": "lines+markers", "name": "Pareto front",
             "x": [p[0] for p in front], "y": [p[1] for p in front], "text": [f"trial {p[2]}" for p in front],
             "marker": {"color": VERMILLION, "size": 9}, "line": {"shape": "hv", "color": VERMILLION}},
        ],
        "layout": {
            "margin": {"l": 50, "r": 10, "t": 30, "b": 40}, "height": 320, "legend": LEGEND_ON_TOP,
            "xaxis": {"title": {"text": metric_label(x_metric, labels)},
                      "type": "log" if x_metric == "params" else "linear"},
            "yaxis": {"title": {"text": metric_label(y_metric, labels)}},
        },
        "meta": {"points": len(points), "shown": len(shown), "limit": MAX_SCATTER_POINTS,
                 "directions": [x_direction, y_direction]},
    }


def arch_weights_figure(weights: dict[str, dict[str, float]], epoch: int | None = None) -> dict:
    """Heat map of a one-shot search's architecture weights: one row per decision (edge),
    one column per choice (op), colour = probability."""
    decisions = list(weights)
    choices: list[str] = []
    for probs in weights.values():
        choices += [c for c in probs if c not in choices]
    z = [[weights[d].get(c) for c in choices] for d in decisions]
    return {
        # Scaled to the largest weight, not to 1: early in a search all weights sit near
        # 1/len(choices), and the differences are what the user is watching. The scale runs dark to
        # light, hence reversed: heavy ops are dark.
        "data": [{"type": "heatmap", "x": choices, "y": decisions, "z": z, "zmin": 0,
                  "colorscale": SEQUENTIAL_SCALE, "reversescale": True, "hoverongaps": False,
                  "text": [[f"{v:.2f}" if v is not None else "" for v in row] for row in z],
                  "texttemplate": "%{text}", "colorbar": {"title": {"text": "weight"}}}],
        "layout": {"margin": {"l": 110, "r": 10, "t": 30, "b": 60}, "height": 120 + 34 * len(decisions),
                   "title": {"text": f"epoch {epoch}" if epoch else "", "font": {"size": 13}},
                   # Choices such as widths ("32") look like numbers: without "category" plotly makes a
                   # numeric axis and cannot place "relu" on it (NaN, an empty heat map).
                   "xaxis": {"type": "category"}, "yaxis": {"autorange": "reversed", "type": "category"}},
    }


def oneshot_curve_figure(history: list[dict]) -> dict:
    """Supernet training per epoch: accuracies on the left axis, losses on the right."""
    series = [name for name in ("train_accuracy", "val_accuracy", "train_loss", "val_loss")
              if any(name in h for h in history)]
    data = [{"type": "scatter", "mode": "lines+markers", "name": name.replace("_", " "),
             "x": [h["epoch"] for h in history if name in h], "y": [h[name] for h in history if name in h],
             "yaxis": "y" if "accuracy" in name else "y2", "line": {"color": COLOUR_BLIND_SAFE[index]},
             "marker": {"color": COLOUR_BLIND_SAFE[index]}} for index, name in enumerate(series)]
    return {"data": data, "layout": {
        "margin": {"l": 50, "r": 50, "t": 30, "b": 40}, "height": 300, "legend": LEGEND_ON_TOP,
        "xaxis": {"title": {"text": "supernet epoch"}}, "yaxis": {"title": {"text": "accuracy"}},
        "yaxis2": {"title": {"text": "loss"}, "overlaying": "y", "side": "right"}}}




def compare_curves_figure(series: list[tuple[str, dict[str, list[tuple[int, float]]]]]) -> dict:
    """Validation accuracy (solid) and validation loss (dotted, right axis) of several trials overlaid."""
    data = []
    for index, (name, epochs) in enumerate(series):
        colour = COLOUR_BLIND_SAFE[index % len(COLOUR_BLIND_SAFE)]
        for metric, axis, dash in (("val_accuracy", "y", "solid"), ("val_loss", "y2", "dot")):
            points = epochs.get(metric, [])
            if points:
                label = f"{name} {metric.replace('_', ' ')}"
                data.append({"type": "scatter", "mode": "lines+markers", "name": label,
                             "x": [p[0] for p in points], "y": [p[1] for p in points], "yaxis": axis,
                             "line": {"color": colour, "dash": dash}, "marker": {"color": colour}})
    return {"data": data, "layout": {
        "margin": {"l": 50, "r": 50, "t": 30, "b": 40}, "height": 340, "legend": LEGEND_ON_TOP,
        "xaxis": {"title": {"text": "epoch"}}, "yaxis": {"title": {"text": "validation accuracy"}},
        "yaxis2": {"title": {"text": "validation loss"}, "overlaying": "y", "side": "right"}}}


def share_cost_figure(costs: list[dict]) -> dict:
    """Per hardware target: the best model's cost as a share of the median trial's (100 % = the same)."""
    targets = [c["target"] for c in costs]
    ratios = [100 * c["best_value"] / c["median_value"] if c["median_value"] else None for c in costs]
    return {"data": [
        {"type": "bar", "name": "best model", "x": targets, "y": ratios, "marker": {"color": COLOUR_BLIND_SAFE[0]},
         "text": [c["best"] for c in costs], "hovertemplate": "%{x}: %{text} (%{y:.0f} % of the median)"},
        {"type": "scatter", "mode": "lines", "name": "median trial = 100 %", "x": targets, "y": [100] * len(costs),
         "line": {"color": COLOUR_BLIND_SAFE[1], "dash": "dash"}},
    ], "layout": {"margin": {"l": 60, "r": 10, "t": 30, "b": 80}, "height": 320, "legend": LEGEND_ON_TOP,
                  "yaxis": {"title": {"text": "cost, % of the median trial"}, "rangemode": "tozero"}}}


def parallel_coordinates_figure(decisions: list[dict], trials: list[dict], label: str) -> dict:
    """One axis per decision (its choices as ticks; "inactive" below them) and one for the objective;
    each trial a line coloured by the objective (a scale of palette colours)."""
    dimensions = []
    for d in decisions:
        choices = d["choices"]
        values = [choices.index(t["arch"][d["name"]]) if t["arch"].get(d["name"]) in choices else -1 for t in trials]
        ticks = ([-1] if -1 in values else []) + list(range(len(choices)))
        texts = (["inactive"] if -1 in values else []) + [str(c) for c in choices]
        dimensions.append({"label": d["name"], "values": values, "tickvals": ticks, "ticktext": texts,
                           "range": [min(ticks), max(ticks)]})
    objective = [t["value"] for t in trials]
    dimensions.append({"label": label, "values": objective})
    return {"data": [{"type": "parcoords", "dimensions": dimensions,
                      "line": {"color": objective, "colorscale": SEQUENTIAL_SCALE, "showscale": True,
                               "colorbar": {"title": {"text": label}}}}],
            "layout": {"margin": {"l": 60, "r": 60, "t": 50, "b": 30}, "height": 420}}


def importance_figure(importance: list[dict]) -> dict:
    rows = list(reversed(importance))
    return {"data": [{"type": "bar", "orientation": "h", "x": [100 * r["share"] for r in rows],
                      "y": [r["decision"] for r in rows], "marker": {"color": COLOUR_BLIND_SAFE[0]},
                      "hovertemplate": "%{y}: %{x:.0f} %<extra></extra>"}],
            "layout": {"margin": {"l": 120, "r": 10, "t": 20, "b": 40}, "height": 120 + 24 * len(rows),
                       "xaxis": {"title": {"text": "share of importance (%)"}, "rangemode": "tozero"}}}


def project_comparison_figure(histories: list[dict], by: str) -> dict:
    """Best so far of each search on one chart, against trials (by="trials") or seconds (by="time")."""
    data = []
    for index, h in enumerate(histories):
        best, xs, ys = None, [], []
        points = sorted(h["points"], key=lambda p: p[0] if by == "trials" else p[1])
        for count, (_number, seconds, value) in enumerate(points, start=1):
            if best is None or (value > best if h["direction"] == "max" else value < best):
                best = value
            xs.append(count if by == "trials" else seconds)
            ys.append(best)
        data.append({"type": "scatter", "mode": "lines", "name": h["name"], "x": xs, "y": ys,
                     "line": {"shape": "hv", "color": COLOUR_BLIND_SAFE[index % len(COLOUR_BLIND_SAFE)]}})
    axis = "completed trials" if by == "trials" else "seconds since the search started"
    return {"data": data, "layout": {"margin": {"l": 50, "r": 10, "t": 30, "b": 40}, "height": 340,
                                     "legend": LEGEND_ON_TOP, "xaxis": {"title": {"text": axis}},
                                     "yaxis": {"title": {"text": "best so far"}}}}


def best_by_time_figure(points: list[tuple[float, float, int]], metric: str = "val_accuracy",
                        direction: str = "max") -> dict:
    """From (seconds since the search started, value, trial number) of the complete trials: every trial
    (thinned) and the best-so-far steps against wall-clock time, carried on to the last trial."""
    points = sorted(points)
    xs, ys = improvements([(p[0], p[1]) for p in points], direction)
    if points and xs[-1] != points[-1][0]:
        xs, ys = xs + [points[-1][0]], ys + [ys[-1]]
    shown = thin(points)
    return {
        "data": [
            {**scatter_trace(points), "name": "trial", "x": [p[0] for p in shown], "y": [p[1] for p in shown],
             "text": [f"trial {p[2]}" for p in shown]},
            {"type": "scatter", "mode": "lines+markers", "name": "best so far", "x": xs, "y": ys,
             "marker": {"color": ORANGE}, "line": {"shape": "hv", "color": ORANGE}},
        ],
        "layout": {
            "margin": {"l": 50, "r": 10, "t": 30, "b": 40}, "height": 320, "legend": LEGEND_ON_TOP,
            "xaxis": {"title": {"text": "seconds since the search started"}, "rangemode": "tozero"},
            "yaxis": {"title": {"text": metric_label(metric)}},
        },
        "meta": {"points": len(points), "shown": len(shown), "limit": MAX_SCATTER_POINTS},
    }


def trial_curve_trace(curve: dict, index: int, label: str) -> dict:
    """One trial's per-epoch line: dashed while it runs, solid once it has finished."""
    colour = COLOUR_BLIND_SAFE[index % len(COLOUR_BLIND_SAFE)]
    running = curve["state"] in ("queued", "running")
    name = f"#{curve['number']}" + (" (running)" if running else "")
    return {"type": "scatter", "mode": "lines+markers", "name": name,
            "x": [p[0] for p in curve["points"]], "y": [p[1] for p in curve["points"]],
            "line": {"color": colour, "dash": "dash" if running else "solid"}, "marker": {"color": colour},
            "meta": {"trial_id": curve["id"], "number": curve["number"], "state": curve["state"]},
            "hovertemplate": f"#{curve['number']} epoch %{{x}}: %{{y:.4g}} {label}<extra></extra>"}


def trial_curves_figure(curves: list[dict], metric: str) -> dict:
    """Learning curves of several trials on one chart: {id, number, state, points: [(epoch, value)]} each;
    the page extends a running trial's line as its epochs are recorded."""
    label = metric_label(metric)
    return {"data": [trial_curve_trace(c, i, label) for i, c in enumerate(curves)],
            "layout": {"margin": {"l": 50, "r": 10, "t": 30, "b": 40}, "height": 320, "legend": LEGEND_ON_TOP,
                       "colorway": list(COLOUR_BLIND_SAFE),
                       "xaxis": {"title": {"text": "epoch"}, "rangemode": "tozero"},
                       "yaxis": {"title": {"text": label}}},
            "meta": {"metric": metric}}
