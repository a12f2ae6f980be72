"""Read model of the shared page: one search told in plain words for a reader who knows no machine learning.

The best model is set against a baseline that is said by name: the median trial
(the middle one when the completed trials are sorted by the search's goal), so
"better than the median" means better than a typical design the search tried.
Reads only.
"""

from __future__ import annotations

from devices.models import HardwareTarget, Measurement
from devices.target_costs import cost_metric, target_applies
from devices.units import format_cost

from .diagrams import arch_svg
from .models import Search, Trial
from .trial_report import METRICS, format_value
from .weights import ranked_completed

GLOSSARY = [
    ("model", "a program that learned from examples to answer a question, here: which class an input belongs to"),
    ("architecture", "the shape of a model: how many layers it has, how wide they are, which operations they use"),
    ("search", "trying many architectures automatically, training each one, and keeping the best"),
    ("trial", "one architecture that was built, trained and measured"),
    ("accuracy", "the share of examples the model answers correctly; 90 % means 9 answers in 10 are right"),
    ("validation data", "examples held back from training and used to compare the trials fairly"),
    ("test data", "a second set of held-back examples, used once at the end to check the best model honestly"),
    ("parameters", "the numbers a model learns; more parameters usually means a bigger, slower model"),
    ("hardware target", "a device the model could run on (a phone, a small computer, a chip), with its speed"),
    ("latency", "how long the model takes to answer one input on a device, in milliseconds (ms)"),
    ("median", "the middle value: half of the trials did better, half did worse"),
]


def median_trial(ranked: list[Trial]) -> Trial | None:
    return ranked[(len(ranked) - 1) // 2] if ranked else None


def _objective_text(search: Search) -> tuple[str, str]:
    metric = search.primary_objective["metric"]
    label, kind, _ = METRICS.get(metric, (metric.replace("_", " "), "float", ""))
    return label, kind


def cost_comparison(search: Search, best: Trial, baseline: Trial) -> list[dict]:
    """Per target: the best model's cost against the median trial's, with the ratio in words."""
    stored = {(m.trial_id, m.target_id): m for m in Measurement.objects.filter(
        trial_id__in=[best.id, baseline.id], state=Measurement.DONE)}
    rows = []
    for target in HardwareTarget.objects.order_by("kind", "name"):
        if not target_applies(target, search.space.kind):
            continue
        key, label = cost_metric(target)
        values = [stored.get((t.id, target.id)) for t in (best, baseline)]
        if not all(values) or key not in values[0].metrics or key not in values[1].metrics:
            continue
        b, m = values[0].metrics[key], values[1].metrics[key]
        ratio = b / m if m else None
        if ratio is None or abs(ratio - 1) < 0.005:
            words = "about the same as the median trial"
        elif ratio < 1:
            words = f"{1 / ratio:.1f}× less than the median trial" if ratio < 0.5 else \
                f"{100 * (1 - ratio):.0f} % less than the median trial"
        else:
            words = f"{ratio:.1f}× more than the median trial" if ratio > 2 else \
                f"{100 * (ratio - 1):.0f} % more than the median trial"
        rows.append({"target": target.name, "label": label.split(" (")[0], "best": format_cost(b, key),
                     "median": format_cost(m, key), "words": words, "best_value": b, "median_value": m})
    return rows


def share_report(search: Search) -> dict:
    ranked = list(ranked_completed(search))
    metric = search.primary_metric
    ranked = [t for t in ranked if isinstance(t.metrics.get(metric), (int, float))]
    best, baseline = (ranked[0] if ranked else None), median_trial(ranked)
    label, kind = _objective_text(search)
    dataset = search.project.dataset
    info = dataset.info or {}
    space = search.space.build()
    total = search.trials.count()
    report = {
        "search": search, "project": search.project, "dataset": dataset, "dataset_info": info,
        "space_label": space.label, "space_size": f"{space.size():,}" if space.log10_size() < 15 else
        f"about 10^{space.log10_size():.0f}", "objective_label": label,
        "direction_words": "higher is better" if search.primary_objective["direction"] == "max" else
        "lower is better", "tried": len(ranked), "total": total, "glossary": GLOSSARY,
        "best": None, "baseline": None,
    }
    report["trials"] = [{"number": t.number, "state": t.state, "metrics": t.metrics} for t in search.trials.all()]
    if best is None:
        return report
    report["best"] = {"trial": best, "value": format_value(kind, best.metrics[metric]),
                      "params": format_value("count", best.params), "diagram": arch_svg(space.kind, best.arch),
                      "test": format_value("percent", best.metrics.get("test_accuracy"))
                      if "test_accuracy" in best.metrics else ""}
    report["baseline"] = {"trial": baseline, "value": format_value(kind, baseline.metrics[metric]),
                          "params": format_value("count", baseline.params)}
    report["costs"] = cost_comparison(search, best, baseline)
    report["certainty"] = certainty_words(len(ranked), total, space.size())
    return report


def certainty_words(tried: int, total: int, size: int) -> str:
    share = tried / size if size else 0
    if tried < 10:
        strength = "Few designs were tried, so a better one very likely exists."
    elif tried < 100:
        strength = "A fair number of designs were tried; the best is a good one, not necessarily the best possible."
    else:
        strength = "Many designs were tried; the best is unlikely to be beaten by much without a different search."
    share_text = f"{100 * share:.2g} %" if share >= 0.0001 else "a tiny fraction"
    return (f"{tried} designs were trained and measured ({total} proposed in all), which is {share_text} of the "
            f"{size:,} possible designs. {strength}")
