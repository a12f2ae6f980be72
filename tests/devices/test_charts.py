"""The comparison page's figures, from plain data: no database."""


from devices import charts

ACCURACY = {"metric": "val_accuracy", "direction": "max"}


def cell(value, state="done"):
    return {"state": state, "value": value, "text": str(value) if state == "done" else state, "note": ""}


def trial(number, value, costs, chosen=True):
    return {"id": 100 + number, "number": number, "description": "", "value": value, "chosen": chosen,
            "costs": costs}


TARGETS = [
    {"id": 1, "name": "Pi", "kind": "benchmark", "cost": "latency_ms", "cost_label": "latency (ms)",
     "applies": True, "note": ""},
    {"id": 2, "name": "Analytical", "kind": "analytical", "cost": "macs", "cost_label": "MACs",
     "applies": True, "note": ""},
]


def test_pareto_front_keeps_the_points_nothing_beats():
    # (cost, accuracy): (200, .85) loses to (100, .9); (50, .7) loses to (50, .8)
    points = [(100, 0.9), (50, 0.8), (200, 0.85), (50, 0.7), (10, 0.5)]
    assert charts.pareto_indices(points, ("min", "max")) == [0, 1, 4]


def test_equal_points_do_not_dominate_each_other():
    assert charts.pareto_indices([(1, 1), (1, 1), (2, 0)], ("min", "max")) == [0, 1]


def test_pareto_front_follows_the_senses():
    points = [(1, 1), (2, 2), (3, 0)]
    assert charts.pareto_indices(points, ("max", "max")) == [1, 2]
    assert charts.pareto_indices(points, ("min", "min")) == [0, 2]
    assert charts.pareto_indices([], ("min", "max")) == []


def test_grouped_bars_have_one_trace_per_trial_and_one_group_per_target():
    trials = [trial(1, 0.9, [cell(10.0), cell(400)]), trial(2, 0.8, [cell(5.0), cell(200)]),
              trial(3, 0.7, [cell(None, "pending"), cell(100)])]
    fig = charts.cost_bars_figure(TARGETS, trials)
    assert fig["layout"]["barmode"] == "group"
    assert [t["name"] for t in fig["data"]] == ["#1", "#2", "#3"]
    assert all(t["x"] == ["Pi", "Analytical"] for t in fig["data"])
    # relative to the cheapest chosen trial on each target; a missing cost is a gap
    assert [t["y"] for t in fig["data"]] == [[2.0, 4.0], [1.0, 2.0], [None, 1.0]]
    assert fig["data"][2]["hovertext"][0] == "#3 on Pi: pending"


def test_targets_that_do_not_apply_get_no_bars():
    targets = [TARGETS[0] | {"applies": False}, TARGETS[1]]
    fig = charts.cost_bars_figure(targets, [trial(1, 0.9, [cell(None, "n/a"), cell(400)])])
    assert fig["data"][0]["x"] == ["Analytical"] and fig["data"][0]["y"] == [1.0]


def test_no_chosen_trials_give_empty_bars():
    assert charts.cost_bars_figure(TARGETS, [])["data"] == []


def test_pareto_figure_draws_the_front_in_cost_order_and_rings_the_highlight():
    points = [{"id": 1, "number": 1, "cost": 100, "value": 0.9}, {"id": 2, "number": 2, "cost": 50, "value": 0.8},
              {"id": 3, "number": 3, "cost": 200, "value": 0.85}]
    fig = charts.pareto_figure(points, 3, "latency_ms", "latency (ms)", ACCURACY)
    everything, front, ring = fig["data"]
    assert everything["x"] == [100, 50, 200]
    assert (front["x"], front["y"], front["customdata"]) == ([50, 100], [0.8, 0.9], [2, 1])
    assert (ring["x"], ring["y"], ring["customdata"]) == ([200], [0.85], [3])


def test_pareto_figure_for_a_minimised_objective():
    points = [{"id": 1, "number": 1, "cost": 1, "value": 30}, {"id": 2, "number": 2, "cost": 2, "value": 10}]
    fig = charts.pareto_figure(points, None, "macs", "MACs", {"metric": "loss", "direction": "min"})
    assert fig["data"][1]["customdata"] == [1, 2] and fig["data"][2]["x"] == []


def test_comparison_figures_skip_targets_that_do_not_apply():
    targets = [TARGETS[0] | {"applies": False, "note": "n/a"}, TARGETS[1]]
    data = {"objective": ACCURACY, "targets": targets, "highlight": 101,
            "trials": [trial(1, 0.9, [cell(None, "n/a"), cell(400)]), trial(2, 0.8, [cell(None, "n/a"), cell(90)],
                                                                             chosen=False)]}
    figures = charts.comparison_figures(data)
    assert list(figures["fronts"]) == ["2"]
    assert figures["fronts"]["2"]["data"][0]["x"] == [400, 90]
    assert [t["name"] for t in figures["bars"]["data"]] == ["#1"]  # only the chosen trial
