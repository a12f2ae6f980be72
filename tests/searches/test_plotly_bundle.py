"""The search page loads the partial plotly.js bundle (static/vendor/plotly-search), served from our own
static files (no CDN, works offline), and draws only the trace types the bundle registers, at any size."""

import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from searches import charts
from searches.models import Search, Trial, TrialMetric

pytestmark = pytest.mark.django_db
BUNDLE = "/static/vendor/plotly-search/plotly-search.min.js"
VENDOR = Path(__file__).resolve().parents[2] / "static" / "vendor" / "plotly-search"


def served(client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, path
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_search_page_loads_the_partial_bundle_deferred(client, owner, start_search):
    client.force_login(owner)
    html = client.get(reverse("searches:search_detail", args=[start_search().id])).content.decode()
    assert f'<script defer src="{BUNDLE}"></script>' in html
    assert "vendor/plotly/plotly.min.js" not in html  # the full bundle is for the other pages
    scripts = re.findall(r"<script[^>]* src=\"([^\"]+)\"", html)
    assert scripts[0] == BUNDLE and all('defer src="' + s in html for s in scripts)  # run in order, after parsing
    # Plotly's set-up is paid after the chart scripts started their fetches (plotly_warmup.js says why).
    assert scripts.index("/static/js/plotly_warmup.js") > scripts.index("/static/js/search_charts_live.js")


def test_the_partial_bundle_is_served_from_our_static_files(client):
    body = served(client, BUNDLE)
    assert body.startswith(b"/* plotly.js v4.1.1 (MIT") and b"var Plotly=" in body[:2000]
    full = served(client, "/static/vendor/plotly/plotly.min.js")
    assert len(body) < len(full) / 3  # the point of it: 1.3 MB against 4.8 MB
    assert (VENDOR / "LICENSE").read_text().startswith("MIT License")


def test_the_bundle_registers_exactly_the_traces_the_search_page_draws():
    entry = (VENDOR / "index.js").read_text()
    registered = re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry)
    assert registered[0] == "core"  # the core registers scatter
    assert ("scatter", *registered[1:]) == charts.SEARCH_PAGE_TRACES


def trace_types(figure: dict) -> set[str]:
    return {trace["type"] for trace in figure["data"]}


def bulk_search(start_search, size: int) -> Search:
    """A finished search of `size` complete trials a second apart, written as bench/scale.py writes them."""
    search = start_search(max_trials=size)
    space, rng, started = search.space.build(), random.Random(size), timezone.now() - timedelta(seconds=size)
    Trial.objects.bulk_create([
        Trial(search=search, number=n, arch=(arch := space.sample(rng)), arch_key=f"bulk-{n}",
              description=space.describe(arch)[:300], state="complete", val_accuracy=(acc := rng.uniform(0.3, 0.98)),
              params=(params := rng.randint(1_000, 2_000_000)), epochs_done=1, worker="bulk",
              started_at=started + timedelta(seconds=n - 1), finished_at=started + timedelta(seconds=n),
              metrics={"val_accuracy": acc, "test_accuracy": acc - 0.01, "params": params})
        for n in range(1, size + 1)])
    TrialMetric.objects.bulk_create([TrialMetric(trial_id=i, epoch=1, name="val_accuracy", value=v)
                                     for i, v in search.trials.values_list("id", "val_accuracy")])
    Search.objects.filter(id=search.id).update(state=Search.DONE, started_at=started)
    return search


def test_at_scale_the_search_page_draws_only_the_bundles_traces_and_thinned_scatters(client, owner, start_search,
                                                                                    settings):
    # A cache of its own: the figures are cached per search id and stream position, which a Redis cache
    # kept from an earlier run of the tests (the same ids in a new test database) would answer.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "plotly-bundle-test"}}
    size = 2 * charts.MAX_SCATTER_POINTS + 37
    search = bulk_search(start_search, size)
    client.force_login(owner)
    figures = {}
    for name in ("search_charts", "search_progress_charts", "search_analysis_json"):
        answer = client.get(reverse(f"searches:{name}", args=[search.id])).json()
        figures.update({f"{name}.{key}": fig for key, fig in answer.items() if isinstance(fig, dict) and "data" in fig})
    assert {"search_charts.best", "search_charts.pareto", "search_progress_charts.best_time",
            "search_progress_charts.curves", "search_analysis_json.parcoords"} <= set(figures)
    for name, figure in figures.items():
        assert trace_types(figure) <= set(charts.SEARCH_PAGE_TRACES), name
    for name in ("search_charts.best", "search_charts.pareto", "search_progress_charts.best_time"):
        trials = figures[name]["data"][0]
        assert trials["name"] == "trial" and len(trials["x"]) == charts.MAX_SCATTER_POINTS, name
        assert figures[name]["meta"] == {**figures[name]["meta"], "points": size, "limit": charts.MAX_SCATTER_POINTS}


def test_one_shot_figures_use_the_bundles_traces_too():
    weights = charts.arch_weights_figure({"edge_1<-0": {"conv_3x3": 0.7, "skip": 0.3}}, epoch=2)
    curve = charts.oneshot_curve_figure([{"epoch": 1, "train_loss": 1.0, "val_accuracy": 0.5}])
    assert trace_types(weights) | trace_types(curve) <= set(charts.SEARCH_PAGE_TRACES)
