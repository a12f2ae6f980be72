"""Read models of the search page's charts beside the leaderboard: the best so far against wall-clock
time, the learning curves of the running and most recent trials, and the analysis of the decisions
(searches/analysis_report.py) with its empty state. Plain data for searches/charts.py; reads only."""

from __future__ import annotations

from .analysis_report import search_analysis
from .models import Search, Trial, TrialMetric
from .queries import metric_expression

#: The learning-curve chart shows every running trial and the most recently finished ones, this many in all
#: at most: more lines than the palette has colours cannot be told apart.
MAX_CURVES = 8
EXACT_UP_TO = 50
FINISHED = (Trial.COMPLETE, Trial.PRUNED, Trial.FAILED, Trial.CANCELLED)


def best_by_time_points(search: Search) -> list[tuple[float, float, int]]:
    """(seconds from the search's start to the trial's end, first objective, number) of the complete trials."""
    start = search.started_at or search.created_at
    rows = (Trial.objects.filter(search=search, state=Trial.COMPLETE, finished_at__isnull=False)
            .annotate(a=metric_expression(search.primary_metric)).filter(a__isnull=False)
            .order_by("finished_at").values_list("finished_at", "a", "number"))
    return [(max(0.0, (finished - start).total_seconds()), value, number) for finished, value, number in rows]


def curve_metric(search: Search) -> str:
    """The per-epoch metric the curves draw: the first objective when trainers record it every epoch
    (validation accuracy, loss), otherwise validation accuracy (a cost such as params is known only at the end)."""
    metric = search.primary_metric
    recorded = TrialMetric.objects.filter(trial__search=search, name=metric).exists()
    return metric if recorded else "val_accuracy"


def curve_trials(search: Search) -> list[Trial]:
    """The running trials (lowest numbers first), then the most recently finished trials that recorded an
    epoch, MAX_CURVES in all."""
    running = list(search.trials.filter(state=Trial.RUNNING).order_by("number")[:MAX_CURVES])
    recent = list(search.trials.filter(state__in=FINISHED, epochs_done__gt=0)
                  .exclude(finished_at__isnull=True).order_by("-finished_at")[:MAX_CURVES - len(running)])
    return running + sorted(recent, key=lambda t: t.number)


def learning_curves(search: Search) -> dict:
    """{"metric", "curves": [{id, number, state, points: [(epoch, value)]}]} for the chart's trials."""
    metric = curve_metric(search)
    trials = curve_trials(search)
    points: dict[int, list] = {t.id: [] for t in trials}
    rows = TrialMetric.objects.filter(trial_id__in=points, name=metric).order_by("epoch")
    for trial_id, epoch, value in rows.values_list("trial_id", "epoch", "value"):
        points[trial_id].append((epoch, value))
    return {"metric": metric, "curves": [{"id": t.id, "number": t.number, "state": t.state, "points": points[t.id]}
                                         for t in trials]}


def analysis_position(search: Search) -> int:
    """Which fit of the analysis is current, from the number of completed trials: a refit per completion up
    to EXACT_UP_TO trials, then one per 3 to 6 % more, in steps of a power of two near count / 20 (the forest
    takes seconds at thousands of trials (bench/analysis_speed.py), and one more trial barely moves it)."""
    count = search.trials.filter(state=Trial.COMPLETE).count()
    if count < EXACT_UP_TO:
        return count
    step = 1 << ((count // 20).bit_length() - 1)
    return count - count % step


def analysis_empty_text(analysis: dict) -> str:
    """What the analysis card says before it has enough trials: what will appear, and when."""
    wanted, have = analysis["min_trials"], analysis["count"]
    return (f"Parallel coordinates and the importance of each decision appear after {wanted} completed trials "
            f"with a {analysis['label']}: {have} so far, {wanted - have} to go.")


def live_analysis(search: Search) -> dict:
    """The analysis read model plus the words the card shows: the empty state, or the importance in a sentence."""
    analysis = search_analysis(search)
    analysis["ready"] = analysis["count"] >= analysis["min_trials"]
    analysis["empty"] = "" if analysis["ready"] else analysis_empty_text(analysis)
    top = analysis["importance"][0] if analysis["importance"] else None
    analysis["headline"] = (f"{top['decision']} matters most: {100 * top['share']:.0f} % of the importance "
                            f"over {analysis['count']} completed trials." if top and top["share"] > 0 else "")
    return analysis
