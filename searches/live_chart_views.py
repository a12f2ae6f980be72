"""The search page's live charts beside the leaderboard, as JSON the page refetches (throttled) when trials
arrive: best so far against time with the learning curves, and the decisions' analysis (searches/live_report.py)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import JsonResponse

from . import charts, queries
from .access import search_for_user
from .live_report import analysis_position, best_by_time_points, learning_curves, live_analysis


def progress_figures(search) -> dict:
    objective = search.primary_objective
    curves = learning_curves(search)
    return {"best_time": charts.best_by_time_figure(best_by_time_points(search), objective["metric"],
                                                     objective["direction"]),
            "curves": charts.trial_curves_figure(curves["curves"], curves["metric"])}


def analysis_payload(search) -> dict:
    analysis = live_analysis(search)
    figures = {"parcoords": charts.parallel_coordinates_figure(analysis["decisions"], analysis["trials"],
                                                                analysis["label"]),
               "importance": charts.importance_figure(analysis["importance"])} if analysis["ready"] else {}
    return {"ready": analysis["ready"], "count": analysis["count"], "min_trials": analysis["min_trials"],
            "empty": analysis["empty"], "headline": analysis["headline"], "sentences": analysis["sentences"],
            "op_sentences": analysis["op_sentences"], **figures}


def _cached(key: str, build) -> JsonResponse:
    payload = cache.get(key)
    if payload is None:
        payload = build()
        cache.set(key, payload, 300)
    return JsonResponse(payload)


@login_required
def search_progress_charts(request, search_id):
    """Cached per position of the search's event stream: any epoch or trial event makes new figures."""
    search = search_for_user(request.user, search_id)
    key = f"search-progress-charts:{search.id}:{':'.join(map(str, queries.stream_position(search)))}"
    return _cached(key, lambda: progress_figures(search))


@login_required
def search_analysis_json(request, search_id):
    """Cached per fit (live_report.analysis_position): the forest is refitted only when trials complete."""
    search = search_for_user(request.user, search_id)
    key = f"search-analysis:{search.id}:{analysis_position(search)}"
    return _cached(key, lambda: analysis_payload(search))
