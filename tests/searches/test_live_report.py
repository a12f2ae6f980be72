"""The search page's live charts: best so far against time, learning curves of running and recent trials,
and the decisions' analysis with its empty state (searches/live_report.py, searches/live_chart_views.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from searches import live_report, runner, services
from searches.analysis import MIN_TRIALS
from searches.models import Trial

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)


@pytest.fixture
def nb201_search(owner, member):
    project = services.create_project(owner, "NB201", services.benchmark_dataset("nb201_cifar10"), members=[member])

    def start(trials):
        search = services.start_search(project, owner, name="lookup", space_kind="nb201", space_spec=None,
                                       strategy="random", max_trials=trials, parallelism=trials, seed=3)
        for trial_id in services.advance_search(search.id):
            runner.run_trial(trial_id, worker="w")
        services.advance_search(search.id)
        search.refresh_from_db()
        return search

    return start


def test_best_by_time_is_seconds_from_the_search_start_to_each_completion(nb201_search):
    search = nb201_search(3)
    start = timezone.now() - timedelta(seconds=100)
    type(search).objects.filter(id=search.id).update(started_at=start)
    search.refresh_from_db()
    for offset, trial in zip((30, 10, 20), search.trials.order_by("number"), strict=True):
        Trial.objects.filter(id=trial.id).update(finished_at=start + timedelta(seconds=offset))
    points = live_report.best_by_time_points(search)
    by_number = {t.number: t.val_accuracy for t in search.trials.all()}
    assert [(round(s), n) for s, _, n in points] == [(10, 2), (20, 3), (30, 1)]
    assert all(v == pytest.approx(by_number[n]) for _, v, n in points)


def test_learning_curves_show_running_trials_first_then_the_most_recent(nb201_search, monkeypatch):
    monkeypatch.setattr(live_report, "MAX_CURVES", 3)
    search = nb201_search(4)
    running = search.trials.order_by("number").last()
    Trial.objects.filter(id=running.id).update(state=Trial.RUNNING, finished_at=None, attempt=7)
    services.record_epoch(running.id, 2, {"val_accuracy": 0.61, "train_loss": 1.5}, attempt=7)
    curves = live_report.learning_curves(search)
    assert curves["metric"] == "val_accuracy"
    shown = [(c["number"], c["state"]) for c in curves["curves"]]
    finished = search.trials.exclude(id=running.id).order_by("-finished_at")[:2]
    assert shown == [(running.number, "running")] + sorted((t.number, "complete") for t in finished)
    assert curves["curves"][0]["points"] == [(1, pytest.approx(running.val_accuracy)), (2, 0.61)]


def test_analysis_says_what_appears_and_when_then_fills_in(nb201_search):
    few = nb201_search(3)
    analysis = live_report.live_analysis(few)
    assert not analysis["ready"] and analysis["importance"] == []
    assert f"after {MIN_TRIALS} completed trials" in analysis["empty"] and f"3 so far, {MIN_TRIALS - 3} to go" in \
        analysis["empty"]
    enough = nb201_search(MIN_TRIALS + 4)
    analysis = live_report.live_analysis(enough)
    assert analysis["ready"] and analysis["empty"] == ""
    top = analysis["importance"][0]
    assert analysis["headline"].startswith(f"{top['decision']} matters most: {100 * top['share']:.0f} %")
    assert any(" on edge_" in s and " on average (" in s for s in analysis["sentences"])


def test_the_json_views_owner_and_member_read_outsider_gets_404(client, nb201_search, owner, member, outsider):
    search = nb201_search(MIN_TRIALS)
    urls = [reverse("searches:search_progress_charts", args=[search.id]),
            reverse("searches:search_analysis_json", args=[search.id])]
    for user, status in ((owner, 200), (member, 200), (outsider, 404)):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == status, (user.username, url)
    client.force_login(owner)
    progress, analysis = (client.get(url).json() for url in urls)
    assert len(progress["best_time"]["data"][0]["x"]) == MIN_TRIALS
    assert {t["meta"]["state"] for t in progress["curves"]["data"]} == {"complete"}
    assert analysis["ready"] and analysis["parcoords"]["data"][0]["type"] == "parcoords"
    assert len(analysis["parcoords"]["data"][0]["dimensions"]) == 7  # six edges and the objective


def test_the_search_page_holds_the_chart_cards_and_their_empty_states(client, nb201_search, owner):
    search = nb201_search(1)
    client.force_login(owner)
    html = client.get(reverse("searches:search_detail", args=[search.id])).content.decode()
    for marker in ('id="best-time-chart"', 'id="curves-chart"', 'id="live-parcoords-chart"',
                   "once the first trial completes", "search_charts_live.js"):
        assert marker in html


def test_the_analysis_is_refitted_per_completed_trial_then_every_few_percent(nb201_search, monkeypatch):
    search = nb201_search(3)
    assert live_report.analysis_position(search) == 3
    counts = iter([49, 50, 51, 52, 1000, 1049, 1050])
    monkeypatch.setattr("django.db.models.query.QuerySet.count", lambda self: next(counts))
    assert [live_report.analysis_position(search) for _ in range(7)] == [49, 50, 50, 52, 992, 1024, 1024]
