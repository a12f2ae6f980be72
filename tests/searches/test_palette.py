"""Every figure the pages draw uses only the Okabe-Ito palette (colour-blind safe): the search page's, the
trial and compare pages', the share page's, the project comparison's and the device comparison's."""

import re

from devices import charts as device_charts
from searches import charts

PALETTE = {c.upper() for c in charts.COLOUR_BLIND_SAFE}
TRANSPARENT = "RGBA(0,0,0,0)"  # a ring's empty centre: no colour at all


def colours(node, key=""):
    """Every colour named anywhere in a figure: color/colorway/colorscale values, however deeply nested."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from colours(v, k)
    elif isinstance(node, (list, tuple)):
        for item in node:
            yield from colours(item, key)
    elif isinstance(node, str) and key in ("color", "colorway", "colorscale"):
        yield node


def traces_without_colour(figure):
    """Traces that leave their colour to plotly's default colorway (which is not colour-blind safe)."""
    if figure["layout"].get("colorway"):
        return []
    return [t.get("name") for t in figure["data"] if t["type"] not in ("heatmap", "parcoords")
            and not (t.get("marker", {}).get("color") or t.get("line", {}).get("color"))]


def trial(number, value, params=100):
    return {"number": number, "state": "complete", "metrics": {"val_accuracy": value, "params": params},
            "arch": {"edge": "conv" if number % 2 else "skip"}, "value": value}


def every_figure():
    trials = [trial(n, 0.5 + n / 100, 100 * n) for n in range(1, 6)]
    curves = {"val_accuracy": [(1, 0.5), (2, 0.6)], "train_loss": [(1, 1.0), (2, 0.8)]}
    histories = [{"name": f"s{i}", "direction": "max", "points": [(1, 3.0, 0.5), (2, 7.0, 0.6)]} for i in range(9)]
    device_data = {"targets": [{"id": 1, "name": "cpu", "applies": True, "cost": "latency_ms", "cost_label": "ms"}],
                   "trials": [{"id": i, "number": i, "chosen": True, "value": 0.5 + i / 10,
                               "costs": [{"state": "done", "value": 1.0 + i, "text": f"{1 + i} ms"}]}
                              for i in range(9)],
                   "highlight": 2, "objective": {"metric": "val_accuracy", "direction": "max"}}
    device_figures = device_charts.comparison_figures(device_data)
    return {
        "best by trial": charts.best_so_far_figure(trials),
        "best by time": charts.best_by_time_figure([(n * 2.0, 0.5 + n / 100, n) for n in range(5)]),
        "pareto": charts.pareto_figure(trials, "params", "min"),
        "learning curve": charts.learning_curve_figure(curves),
        "trial curves": charts.trial_curves_figure(
            [{"id": i, "number": i, "state": "running" if i == 0 else "complete", "points": [(1, 0.4), (2, 0.5)]}
             for i in range(10)], "val_accuracy"),
        "weights": charts.arch_weights_figure({"edge": {"conv": 0.7, "skip": 0.3}}, 2),
        "supernet": charts.oneshot_curve_figure([{"epoch": 1, "train_accuracy": 0.5, "val_accuracy": 0.4,
                                                  "train_loss": 1.0, "val_loss": 1.2}]),
        "compare": charts.compare_curves_figure([(f"trial {i}", curves) for i in range(9)]),
        "share costs": charts.share_cost_figure([{"target": "cpu", "best_value": 1.0, "median_value": 2.0,
                                                  "best": "1 ms"}]),
        "parallel coordinates": charts.parallel_coordinates_figure(
            [{"name": "edge", "choices": ["conv", "skip"]}], trials, "validation accuracy"),
        "importance": charts.importance_figure([{"decision": "edge", "share": 1.0}]),
        "project by trials": charts.project_comparison_figure(histories, "trials"),
        "project by time": charts.project_comparison_figure(histories, "time"),
        "device bars": device_figures["bars"],
        **{f"device front {k}": f for k, f in device_figures["fronts"].items()},
    }


def test_every_figure_draws_with_palette_colours_only():
    for name, figure in every_figure().items():
        named = list(colours(figure))
        assert named, f"{name} names no colour: plotly's defaults would draw it"
        strays = {c for c in named if c.upper() not in PALETTE and c.replace(" ", "").upper() != TRANSPARENT}
        assert not strays, f"{name} uses {strays}, outside the Okabe-Ito palette"
        assert not traces_without_colour(figure), f"{name}: traces left to plotly's default colours"


def test_the_palette_test_catches_a_stray_colour():
    figure = charts.best_so_far_figure([trial(1, 0.5)])
    figure["data"][1]["line"]["color"] = "#1f6feb"
    assert "#1f6feb" in set(colours(figure)) - {c.lower() for c in PALETTE}
    del figure["data"][0]["marker"]["color"]
    assert traces_without_colour(figure) == ["trial"]


def test_no_template_or_script_draws_with_its_own_colours():
    # The pages draw the server's figures as they come; a colour typed into a template's or script's
    # Plotly call would bypass the palette.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    for path in [*root.glob("static/js/*.js"), *root.glob("templates/**/*.html")]:
        text = path.read_text()
        for call in re.findall(r"Plotly\.\w+\([^;]*", text):
            assert not re.search(r"#[0-9a-fA-F]{6}|rgb\(", call), f"{path.name}: {call[:80]}"
