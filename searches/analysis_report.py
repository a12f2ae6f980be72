"""Read models of the analysis views: a search's decisions against its objective, and a project's searches
on one chart. Plain data for searches/charts.py; reads only."""

from __future__ import annotations

from .analysis import (
    MAX_TRIALS,
    MIN_TRIALS,
    decision_effects,
    decision_importance,
    effect_sentence,
    op_effects,
    op_sentence,
)
from .models import Project, Search, Trial
from .trial_report import METRICS


def _objective(search: Search) -> tuple[str, str, bool]:
    metric = search.primary_metric
    label, kind, _ = METRICS.get(metric, (metric.replace("_", " "), "float", ""))
    return metric, label, kind == "percent"


def scored_trials(search: Search) -> list[Trial]:
    """The most recent completed trials with a value of the first objective (at most MAX_TRIALS)."""
    metric = search.primary_metric
    trials = search.trials.filter(state=Trial.COMPLETE).order_by("-number")[:MAX_TRIALS]
    return [t for t in reversed(trials) if isinstance(t.metrics.get(metric), (int, float))]


def search_analysis(search: Search) -> dict:
    metric, label, points = _objective(search)
    trials = scored_trials(search)
    space = search.space.build()
    out = {"metric": metric, "label": label, "count": len(trials), "min_trials": MIN_TRIALS,
           "direction": search.primary_objective["direction"],
           "decisions": [{"name": d.name, "choices": list(d.choices)} for d in space.decisions],
           "trials": [{"number": t.number, "arch": t.arch, "value": t.metrics[metric]} for t in trials],
           "importance": [], "sentences": [], "op_sentences": []}
    if len(trials) < MIN_TRIALS:
        return out
    archs, values = [t.arch for t in trials], [t.metrics[metric] for t in trials]
    importance = decision_importance(space, archs, values, seed=search.seed)
    out["importance"] = [{"decision": k, "share": v} for k, v in importance.items()]
    out["sentences"] = [effect_sentence(e, label, points) for e in decision_effects(space, archs, values)[:8]]
    out["op_sentences"] = [op_sentence(e, label, points) for e in op_effects(space, archs, values)]
    return out


def project_histories(project: Project) -> list[dict]:
    """For each search of the project: its completed trials' (number, seconds since start, value) in order."""
    out = []
    for search in project.searches.select_related("space").order_by("created_at"):
        metric = search.primary_metric
        rows = search.trials.filter(state=Trial.COMPLETE).order_by("finished_at").values_list(
            "number", "finished_at", "metrics")
        start = search.started_at or search.created_at
        points = [(n, (f - start).total_seconds(), m[metric]) for n, f, m in rows
                  if f and isinstance(m.get(metric), (int, float))]
        out.append({"name": search.name, "id": search.id, "metric": metric,
                    "direction": search.primary_objective["direction"], "points": points})
    return out
