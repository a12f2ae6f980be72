"""Read model of the trial page and the compare page: numbers as people read them, no raw keys.

Every metric gets a label, a unit and a rounding; costs are listed per hardware
target by name; the architecture comes as an SVG diagram. Reads only.
"""

from __future__ import annotations

import math

from devices.models import HardwareTarget, Measurement
from devices.target_costs import METRIC_LABELS as COST_LABELS
from devices.target_costs import in_process_cost_metrics, not_applicable_reason, target_applies
from devices.units import format_cost

from .diagrams import arch_svg
from .models import Trial
from .trial_export import exportable_formats, why_no_weights

SECONDS_MEANING = ("Training time (train_seconds) counts the epochs and the final test only. Wall time, the "
                   "leaderboard's “Seconds”, runs from the moment a worker claimed the trial to its end, so it "
                   "also counts loading the data, building the model and writing each epoch: it is always larger.")
#: key -> (label, kind, what it means); kind picks the rounding and unit.
METRICS = {
    "val_accuracy": ("validation accuracy", "percent", "share of the validation split classified right, at the "
                     "best epoch; the search ranks trials by it"),
    "test_accuracy": ("test accuracy", "percent", "share of the held-out test split classified right, with the "
                      "best epoch's weights"),
    "params": ("parameters", "count", "trainable numbers in the model; a proxy for its size"),
    "train_seconds": ("training time", "seconds", "seconds spent training and testing (see below)"),
    "epochs_run": ("epochs run", "int", "passes over the training split"),
    "best_epoch": ("best epoch", "int", "the epoch whose weights are kept"),
    "val_perplexity": ("validation perplexity", "float", "lower is better: how surprised the model is by the "
                       "next token"),
    "test_perplexity": ("test perplexity", "float", "perplexity on the test split"),
    "pruned_at_epoch": ("stopped at epoch", "int", "the pruner stopped the trial after this epoch"),
    "stopped": ("how training ended", "text", "completed, early_stopped (no improvement) or stopped"),
    "source": ("answered by", "text", "where the numbers come from"),
    "test_accuracy_200": ("test accuracy (200 epochs)", "percent", "the benchmark table's figure"),
}


def format_value(kind: str, value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if kind == "percent" and isinstance(value, (int, float)):
        return f"{100 * value:.2f} %" if value <= 1 else f"{value:.2f} %"
    if kind == "count":
        return format_cost(value, "params")
    if kind == "seconds":
        return f"{value:.2f} s"
    if kind == "int":
        return f"{int(value)}"
    if kind == "float" and isinstance(value, (int, float)):
        return f"{value:.4g}"
    return str(value)


def metric_rows(metrics: dict, cost_labels: dict[str, str]) -> list[dict]:
    """[{key, label, text, value, help}] for every final metric, known ones first, costs by target name."""
    rows = []
    for key, (label, kind, help_text) in METRICS.items():
        if key in metrics:
            rows.append({"key": key, "label": label, "text": format_value(kind, metrics[key]),
                         "value": metrics[key], "help": help_text})
    for key in sorted(set(metrics) - set(METRICS)):
        cost, _, _ = key.partition("@")
        label = cost_labels.get(key) or COST_LABELS.get(cost) or key.replace("_", " ")
        value = metrics[key]
        text = format_cost(value, cost) if isinstance(value, (int, float)) else str(value)
        rows.append({"key": key, "label": label, "text": text, "value": value, "help": ""})
    return rows


def target_costs(trial: Trial) -> list[dict]:
    """Every hardware target by name with this trial's costs on it (or why there are none)."""
    stored = {m.target_id: m for m in Measurement.objects.filter(trial=trial)}
    kind = trial.search.space.kind
    rows = []
    for target in HardwareTarget.objects.order_by("kind", "name"):
        m = stored.get(target.id)
        if not target_applies(target, kind):
            costs, note = [], not_applicable_reason(target, kind)
        elif m is None:
            costs, note = [], "not computed (costs are computed when a trial completes)"
        elif m.state != Measurement.DONE:
            costs, note = [], m.error or f"measurement {m.state}"
        else:
            costs = [{"key": k, "label": _plain(COST_LABELS.get(k, k.replace("_", " "))), "text": format_cost(v, k),
                      "value": v} for k, v in sorted(m.metrics.items()) if isinstance(v, (int, float))]
            note = ""
        rows.append({"target": target.name, "kind": target.get_kind_display(), "costs": costs, "note": note})
    return rows


def _plain(label: str) -> str:
    """'energy (mJ)' -> 'energy': the formatted value carries its unit."""
    return label.split(" (")[0]


def state_message(trial: Trial) -> str:
    """What the trial's state means for its final metrics, in words."""
    return {
        Trial.QUEUED: "Waiting for a worker: nothing is measured yet.",
        Trial.RUNNING: f"Training now: {trial.epochs_done} epoch(s) done; final metrics appear when it ends.",
        Trial.COMPLETE: "",
        Trial.PRUNED: "Stopped early by the pruner; the figures are those of its last epoch.",
        Trial.FAILED: "Failed: no final metrics. The error is below.",
        Trial.CANCELLED: "Cancelled before it finished (the search was cancelled or the trial was taken away): "
                         "it has no final metrics.",
    }[trial.state]


def curves(trial: Trial) -> dict[str, list]:
    out: dict[str, list] = {}
    for m in trial.epoch_metrics.all():
        if m.name in ("val_accuracy", "train_loss", "val_loss"):
            out.setdefault(m.name, []).append((m.epoch, m.value))
    return out


def settings_rows(search) -> list[tuple[str, str]]:
    training = search.training or {}
    rows = [("search space", f"{search.space.build().label} ({search.space.kind})"),
            ("strategy", search.strategy), ("seed", str(search.seed))]
    rows += [(k.replace("_", " "), str(v)) for k, v in sorted(training.items())]
    return rows


def trial_report(trial: Trial) -> dict:
    labels = in_process_cost_metrics(trial.search.space.kind)
    return {
        "metrics": metric_rows(trial.metrics or {}, labels),
        "state_message": state_message(trial),
        "costs": target_costs(trial),
        "diagram": arch_svg(trial.search.space.kind, trial.arch),
        "settings": settings_rows(trial.search),
        "curves": curves(trial),
        "wall_seconds": format_value("seconds", trial.seconds),
        "seconds_meaning": SECONDS_MEANING,
        "formats": exportable_formats(trial),
        "no_weights": why_no_weights(trial),
    }


def compare_report(trials: list[Trial]) -> dict:
    """Side by side: diagrams, curves overlaid, one table of metrics and costs with the best marked."""
    search = trials[0].search
    labels = in_process_cost_metrics(search.space.kind)
    per_trial = [{m["key"]: m for m in metric_rows(t.metrics or {}, labels)} for t in trials]
    keys = [k for k in list(METRICS) + sorted({k for p in per_trial for k in p} - set(METRICS))
            if any(k in p for p in per_trial)]
    rows = []
    for key in keys:
        cells = [p.get(key) for p in per_trial]
        label = next(c["label"] for c in cells if c)
        numbers = [c["value"] if c and isinstance(c["value"], (int, float)) else None for c in cells]
        best = _best_index(key, numbers)
        rows.append({"label": label, "cells": [{"text": c["text"] if c else "–", "best": i == best}
                                               for i, c in enumerate(cells)]})
    return {"rows": rows, "diagrams": [arch_svg(search.space.kind, t.arch) for t in trials],
            "curves": [(f"trial {t.number}", curves(t)) for t in trials]}


LOWER_IS_BETTER = ("params", "train_seconds", "val_perplexity", "test_perplexity")


def _best_index(key: str, numbers: list) -> int | None:
    if key in ("epochs_run", "best_epoch", "pruned_at_epoch") or sum(n is not None for n in numbers) < 2:
        return None
    lower = key in LOWER_IS_BETTER or "@" in key
    candidates = [(n if lower else -n, i) for i, n in enumerate(numbers) if n is not None]
    return min(candidates)[1]


def _json_text(value) -> str:
    if not value:
        return "defaults"
    return ", ".join(f"{k} = {v}" for k, v in sorted(value.items()))


def config_rows(search) -> list[tuple[str, str]]:
    """What the search was configured with, in words, for the search page's configuration panel."""
    space = search.space.build()
    objectives = "; ".join(f"{o['metric'].replace('_', ' ')} ({'higher' if o['direction'] == 'max' else 'lower'} "
                           "is better)" for o in (search.objectives or [search.primary_objective]))
    constraints = "; ".join(f"{c['metric']} at most {c['max']:g}" for c in search.constraints) or "none"
    trials = f"{search.max_trials} trial{'' if search.max_trials == 1 else 's'}" if search.max_trials else ""
    budget = " and ".join(x for x in (trials,
                                       f"{search.max_seconds} s" if search.max_seconds else "") if x) or "none"
    warm = ", ".join(s.name for s in search.warm_start_from.all()) or "none"
    estimation = {k: v for k, v in (search.estimation or {}).items() if v not in (None, "")}
    return [
        ("space", f"{space.label} ({space.size():,} architectures)"),
        ("space settings", _json_text(search.space.spec)),
        ("strategy", search.strategy), ("strategy settings", _json_text(search.strategy_settings)),
        ("objectives", objectives), ("constraints", constraints),
        ("pruner", search.pruner or "none"), ("pruner settings", _json_text(search.pruner_settings)),
        ("budget", budget), ("parallelism", str(search.parallelism)),
        ("training", _json_text(search.training)), ("candidate filters", _json_text(estimation)),
        ("warm start from", warm), ("seed", str(search.seed)), ("workers", search.get_device_display()),
    ]
