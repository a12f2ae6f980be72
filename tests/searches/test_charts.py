import random

from searches import charts


def trial(number, state, value):
    return {"number": number, "state": state, "metrics": {"val_accuracy": value} if value is not None else {}}


def test_best_so_far_ignores_unfinished_trials_and_keeps_the_max():
    trials = [trial(3, "complete", 0.7), trial(1, "complete", 0.5), trial(2, "failed", None),
              trial(4, "running", None), trial(5, "complete", 0.6)]
    assert charts.best_so_far(trials) == ([1, 3, 5], [0.5, 0.7, 0.7])


def test_best_so_far_for_a_minimised_metric():
    trials = [{"number": 1, "state": "complete", "metrics": {"params": 50}},
              {"number": 2, "state": "complete", "metrics": {"params": 80}},
              {"number": 3, "state": "complete", "metrics": {"params": 20}}]
    assert charts.best_so_far(trials, "params", "min") == ([1, 2, 3], [50, 50, 20])


def test_figure_has_trials_and_the_best_line():
    fig = charts.best_so_far_figure([trial(1, "complete", 0.5), trial(2, "complete", 0.9)])
    assert fig["data"][0]["y"] == [0.5, 0.9] and fig["data"][1]["y"] == [0.5, 0.9]


def test_pareto_front_keeps_the_non_dominated_points():
    points = [(100, 0.9), (50, 0.8), (200, 0.85), (50, 0.7), (10, 0.5)]
    assert charts.pareto_indices(points, ("min", "max")) == [0, 1, 4]


def test_pareto_figure_from_trials():
    trials = [{"number": n, "state": s, "metrics": m} for n, s, m in [
        (1, "complete", {"val_accuracy": 0.9, "params": 100}), (2, "complete", {"val_accuracy": 0.8, "params": 50}),
        (3, "complete", {"val_accuracy": 0.7, "params": 80}), (4, "failed", {})]]
    fig = charts.pareto_figure(trials, "params", "min")
    assert fig["data"][0]["x"] == [100, 50, 80]
    assert (fig["data"][1]["x"], fig["data"][1]["y"]) == ([50, 100], [0.8, 0.9])


def test_the_weights_heat_map_keeps_number_like_choices_as_categories():
    # A chain MLP's choices: depths and widths look like numbers, activations do not. On a numeric axis plotly
    # cannot place "relu" (NaN in the console, an empty heat map).
    figure = charts.arch_weights_figure({"depth": {"1": 0.5, "2": 0.5}, "activation": {"relu": 0.4, "gelu": 0.6}}, 1)
    assert figure["layout"]["xaxis"]["type"] == "category" and figure["layout"]["yaxis"]["type"] == "category"
    assert figure["data"][0]["x"] == ["1", "2", "relu", "gelu"]


def test_pareto_sweep_matches_the_pairwise_definition_on_random_points():
    from devices.charts import dominates

    rng = random.Random(3)
    for directions in [("min", "max"), ("max", "max"), ("min", "min")]:
        points = [(rng.randint(0, 30), rng.randint(0, 30)) for _ in range(400)]  # many ties
        expected = [i for i, p in enumerate(points) if not any(dominates(q, p, directions) for q in points)]
        assert charts.pareto_indices(points, directions) == expected


def test_best_line_is_its_improvement_points_carried_to_the_last_trial():
    points = [(n, v) for n, v in [(1, 0.5), (2, 0.4), (3, 0.7), (4, 0.6), (5, 0.7), (6, 0.65)]]
    assert charts.improvements(points) == ([1, 3], [0.5, 0.7])
    fig = charts.best_figure(points)
    assert (fig["data"][1]["x"], fig["data"][1]["y"]) == ([1, 3, 6], [0.5, 0.7, 0.7])


def test_large_scatters_are_thinned_svg_but_keep_every_step():
    points = [(n, n / 10_000) for n in range(1, 20_001)]
    fig = charts.best_figure(points)
    assert fig["data"][0]["type"] == "scatter" and len(fig["data"][0]["x"]) == charts.MAX_SCATTER_POINTS
    assert fig["data"][0]["x"][0] == 1 and fig["data"][0]["x"][-1] > 19_900  # spread over every trial
    assert fig["data"][1]["x"][-1] == 20_000 and len(fig["data"][1]["x"]) == 20_000  # every step kept
    assert fig["meta"] == {"points": 20_000, "shown": charts.MAX_SCATTER_POINTS, "limit": charts.MAX_SCATTER_POINTS}
    small = charts.best_figure(points[:100])
    assert small["data"][0]["type"] == "scatter" and len(small["data"][0]["x"]) == 100


def test_large_pareto_scatters_are_thinned_but_keep_the_whole_front():
    rng = random.Random(3)
    points = [(rng.uniform(0, 1), rng.uniform(0, 1), n) for n in range(20_000)]
    fig = charts.pareto_points_figure(points, "params", "min")
    front = charts.pareto_indices([p[:2] for p in points], ("min", "max"))
    assert len(fig["data"][0]["x"]) == charts.MAX_SCATTER_POINTS
    assert sorted(fig["data"][1]["text"]) == sorted(f"trial {points[i][2]}" for i in front)


def test_best_by_time_steps_against_seconds_and_carries_on_to_the_last_trial():
    # (seconds, value, number): trial 2 finished first but scored lower than trial 1
    fig = charts.best_by_time_figure([(9.0, 0.6, 1), (4.0, 0.5, 2), (12.0, 0.55, 3), (20.0, 0.7, 4), (25.0, 0.65, 5)])
    best = fig["data"][1]
    assert (best["x"], best["y"]) == ([4.0, 9.0, 20.0, 25.0], [0.5, 0.6, 0.7, 0.7])
    assert fig["data"][0]["text"][0] == "trial 2" and "seconds" in fig["layout"]["xaxis"]["title"]["text"]


def test_best_by_time_for_a_minimised_metric_and_no_trials():
    fig = charts.best_by_time_figure([(1.0, 50, 0), (2.0, 80, 1), (3.0, 20, 2)], "params", "min")
    assert fig["data"][1]["y"] == [50, 20] and fig["layout"]["yaxis"]["title"]["text"] == "parameters"
    empty = charts.best_by_time_figure([])
    assert empty["data"][0]["x"] == [] and empty["data"][1]["x"] == []


def test_trial_curves_draw_running_trials_dashed_and_carry_the_trial_id():
    fig = charts.trial_curves_figure([
        {"id": 7, "number": 3, "state": "running", "points": [(1, 0.4), (2, 0.5)]},
        {"id": 9, "number": 4, "state": "complete", "points": [(1, 0.45)]}], "val_accuracy")
    running, done = fig["data"]
    assert (running["x"], running["y"], running["line"]["dash"]) == ([1, 2], [0.4, 0.5], "dash")
    assert running["name"] == "#3 (running)" and running["meta"]["trial_id"] == 7
    assert done["line"]["dash"] == "solid" and done["line"]["color"] != running["line"]["color"]
    assert fig["meta"]["metric"] == "val_accuracy" and fig["layout"]["yaxis"]["title"]["text"] == "validation accuracy"


def test_project_comparison_puts_every_search_on_one_chart_by_trials_and_by_time():
    # (number, seconds since that search started, value): search a's trial 2 finished before its trial 1
    histories = [{"name": "a", "direction": "max", "points": [(1, 30.0, 0.6), (2, 10.0, 0.5), (3, 40.0, 0.7)]},
                 {"name": "b", "direction": "min", "points": [(1, 5.0, 9.0), (2, 8.0, 4.0)]}]
    by_trials = charts.project_comparison_figure(histories, "trials")
    by_time = charts.project_comparison_figure(histories, "time")
    assert [t["name"] for t in by_trials["data"]] == ["a", "b"] == [t["name"] for t in by_time["data"]]
    assert (by_trials["data"][0]["x"], by_trials["data"][0]["y"]) == ([1, 2, 3], [0.6, 0.6, 0.7])
    assert (by_time["data"][0]["x"], by_time["data"][0]["y"]) == ([10.0, 30.0, 40.0], [0.5, 0.6, 0.7])
    assert by_time["data"][1]["y"] == [9.0, 4.0] and "seconds" in by_time["layout"]["xaxis"]["title"]["text"]
    assert by_trials["data"][0]["line"]["color"] != by_trials["data"][1]["line"]["color"]
