"""A person in headless Chromium opens a finished NAS-Bench-201 lookup search (embedded stack) and reads its
charts: best so far by trial and by time, learning curves, parallel coordinates over the six edges and the
importance said in words; a recorded epoch extends its trial's curve in place."""

import json
import re

import pytest

from searches.analysis import MIN_TRIALS
from tests.processes import child_env, log_in_as_demo, manage, server
from tests.test_browser import CHROMIUM_ARGS, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.integration]
TRIALS = MIN_TRIALS + 4


@pytest.fixture
def finished_lookup_search(tmp_path):
    env = child_env(NASWEB_SQLITE_PATH=str(tmp_path / "db.sqlite3"), NASWEB_VAR_DIR=str(tmp_path / "var"))
    manage("migrate", "--noinput", "-v0", env=env)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"project": {"name": "NB201 lookups", "dataset": "benchmark:nb201_cifar10"},
                                "name": "Random cells", "space_kind": "nb201", "strategy": "random",
                                "max_trials": TRIALS, "parallelism": 4, "seed": 2}))
    # One process for both commands: each start of Django and torch costs seconds on a busy machine.
    manage("shell", "-c", "from django.core.management import call_command as c; c('nas_demo', no_search=True); "
           f"c('nas_search', 'create', {str(spec)!r}, user='demo')", env=env)
    with server(env, tmp_path / "server.log") as url:
        yield url


def test_the_search_page_charts_a_finished_lookup_search(finished_lookup_search):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            errors = page_errors(page)  # a plot purged under a pending redraw threw one
            log_in_as_demo(page, finished_lookup_search)
            page.click("text=NB201 lookups")
            page.click("text=Random cells")
            page.wait_for_selector("#search-state:has-text('done')", timeout=60_000)
            # Opened while it ran or after: the charts follow the socket's events to the finished search.
            # The parallel coordinates (WebGL, slow to set up without a GPU) are drawn when asked for.
            page.wait_for_selector("#best-time-chart .main-svg", timeout=60_000)
            # Plotly's set-up was paid on a chart of its own off screen (plotly_warmup.js), removed after.
            page.wait_for_function("window.nasPlotlyWarmedUp === true")
            assert page.locator(".nas-plotly-warmup").count() == 0
            assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == page.evaluate(
                "[...document.querySelectorAll('.chart')].filter(c => c.data).length")
            page.locator("#live-analysis").scroll_into_view_if_needed()
            page.wait_for_selector("#parcoords-show", state="visible", timeout=60_000)
            page.wait_for_timeout(500)  # nothing draws it on its own, scrolled into view or not
            assert page.evaluate("document.getElementById('live-parcoords-chart').data") is None
            page.click("#parcoords-show")
            page.wait_for_function(f"""() => {{ const c = document.getElementById('live-parcoords-chart');
                return c.data && c.data[0].dimensions[6].values.length === {TRIALS}; }}""", timeout=60_000)
            dimensions = page.evaluate("document.getElementById('live-parcoords-chart').data[0].dimensions")
            assert [d["label"] for d in dimensions[:6]] == ["edge_1<-0", "edge_2<-0", "edge_2<-1", "edge_3<-0",
                                                            "edge_3<-1", "edge_3<-2"]
            assert len(dimensions[6]["values"]) == TRIALS
            assert page.is_hidden("#live-analysis-empty")
            headline = page.inner_text("#importance-headline")
            assert re.match(rf"edge_\d<-\d matters most: \d+ % of the importance over {TRIALS} completed", headline)
            sentences = page.inner_text("#importance-sentences")
            assert re.search(r"\w+ on edge_\d<-\d (adds|takes away) \d+\.\d points of validation accuracy on average",
                             sentences)
            page.wait_for_selector("#live-importance-chart .main-svg")

            page.wait_for_function(f"""() => {{ const c = document.getElementById('best-time-chart');
                return c.data && c.data[0].x.length === {TRIALS}; }}""")
            page.wait_for_selector("#best-time-chart .scatterlayer .trace")
            page.wait_for_selector("#curves-chart .scatterlayer .trace")
            assert page.is_hidden("#curves-empty") and page.is_hidden("#best-time-empty")
            assert page.is_hidden("#best-empty") and page.is_visible("#best-chart .scatterlayer .trace")
            width = page.evaluate("[document.getElementById('best-chart').querySelector('.main-svg').clientWidth, "
                                  "document.getElementById('best-chart').clientWidth]")
            assert abs(width[0] - width[1]) <= 2  # drawn while hidden, then fitted to its card
            traces = page.evaluate(
                "document.getElementById('curves-chart').data.map(t => [t.meta.trial_id, t.x.length])")
            assert len(traces) == 8 and all(n == 1 for _, n in traces)  # a lookup records its one epoch

            # An epoch event, as search_live.js announces it from the socket, extends that trial's line in place.
            trial_id = traces[0][0]
            page.evaluate("""id => document.dispatchEvent(new CustomEvent('nas:search-event', {detail:
                {type: 'metric', trial_id: id, epoch: 2, metrics: {val_accuracy: 0.5}}}))""", trial_id)
            assert page.evaluate("document.getElementById('curves-chart').data[0].x") == [1, 2]
            assert errors == [], "\n".join(errors)
        finally:
            browser.close()
