"""The search page at 5,000, 20,000 and 50,000 trials, served by daphne, painted by Chromium.

    python bench/scale.py [--sizes 5000,20000,50000] [--requests 20] [--database nasweb_bench_scale]

For each size a search is made with bulk inserts (complete trials with accuracy, parameters and a
learning-curve epoch, as the services write them), then: time to first byte and size of the search
page; p50/p95 over `--requests` requests of each endpoint the page calls (data.json, leaderboard.json
as first shown and sorted by parameters on a far page, charts.json, events.json, progress-charts.json,
analysis.json); and in headless
Chromium, first paint and first contentful paint, the time until every chart of the page is drawn
(PAGE_CHARTS), and the longest main-thread tasks (PerformanceObserver "longtask", from navigation until
the last chart is drawn), each with when it started; then the longest task once the parallel
coordinates are drawn on their button (WebGL: drawn only when asked for).
Prints the machine load with each size. Needs PostgreSQL and Redis (DATABASE_URL's server, REDIS_URL).
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from throughput import load, setup_django  # noqa: E402

LONGTASKS = """
window.__longest = 0; window.__tasks = 0; window.__taskList = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) {
  window.__tasks += 1; window.__longest = Math.max(window.__longest, e.duration);
  window.__taskList.push([Math.round(e.startTime), Math.round(e.duration)]); } })
  .observe({type: "longtask", buffered: true});
"""
#: Every chart the search page draws as it loads, for a finished search of complete trials: the longest
#: task is measured until the last of them is drawn. The parallel coordinates (WebGL) are drawn when the
#: user asks (their button): measured apart, after the click.
PAGE_CHARTS = ("best-chart", "pareto-chart", "best-time-chart", "curves-chart", "live-importance-chart")
LONGEST_SINCE = "(since) => Math.max(0, ...window.__taskList.filter(([at]) => at >= since).map(([, ms]) => ms))"


def make_search(user, size: int):
    from django.db import connection, transaction
    from django.utils import timezone

    from searches import dispatch, services
    from searches.models import Search, Trial, TrialMetric

    project = services.create_project(user, f"scale {size}", services.builtin_dataset("digits"))
    real_send = dispatch.send_now
    dispatch.send_now = lambda *a: None  # no worker: the rows are made here
    try:
        search = services.start_search(project, user, name=f"{size} trials", space_kind="chain_mlp", space_spec=None,
                                       strategy="random", max_trials=size, training={"epochs": 1}, seed=size)
    finally:
        dispatch.send_now = real_send
    space, rng = search.space.build(), random.Random(size)
    started = timezone.now() - timedelta(seconds=size)  # one trial a second, as a lookup search finishes them
    with transaction.atomic():
        rows = []
        for number in range(1, size + 1):
            arch = space.sample(rng)
            acc, params = rng.uniform(0.3, 0.98), rng.randint(1_000, 2_000_000)
            rows.append(Trial(search=search, number=number, arch=arch, arch_key=f"scale-{number}",
                              description=space.describe(arch)[:300], state="complete", val_accuracy=acc,
                              params=params, epochs_done=1, worker="bench",
                              started_at=started + timedelta(seconds=number - 1),
                              finished_at=started + timedelta(seconds=number),
                              metrics={"val_accuracy": acc, "test_accuracy": acc - 0.01, "params": params}))
        Trial.objects.bulk_create(rows, batch_size=5000)
        ids = Trial.objects.filter(search=search).values_list("id", "val_accuracy")
        TrialMetric.objects.bulk_create([TrialMetric(trial_id=i, epoch=1, name="val_accuracy", value=v)
                                         for i, v in ids], batch_size=5000)
        Search.objects.filter(id=search.id).update(state=Search.DONE, started_at=started,
                                                   finished_at=started + timedelta(seconds=size))
    with connection.cursor() as cursor:  # what autovacuum does within a minute of a bulk insert
        cursor.execute("VACUUM ANALYZE searches_trial")
        cursor.execute("VACUUM ANALYZE searches_trialmetric")
    return search


def session_cookie(user) -> str:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def timed_get(port: int, path: str, cookie: str) -> tuple[float, float, int]:
    """(seconds to the first byte, seconds to the last, bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": f"sessionid={cookie}"})
    response = conn.getresponse()
    first = time.perf_counter() - started
    body = response.read()
    total = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"{path}: HTTP {response.status}: {body[:300]!r}")
    return first, total, len(body)


def percentiles(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"p50 {1000 * statistics.median(values):7.1f} ms  p95 {1000 * p95:7.1f} ms"


def chromium(url: str, cookie: str) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM_ARGS, page_errors

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            # The cookie for the whole site: given the page's URL, its path would be /searches/<id>/ and the
            # browser would not send it to the page's socket (/ws/searches/<id>/), which refused it.
            origin = "/".join(url.split("/")[:3]) + "/"
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": origin}])
            page = context.new_page()
            errors = page_errors(page)
            page.add_init_script(LONGTASKS)
            page.set_default_timeout(300_000)
            page.goto(url)
            for chart in PAGE_CHARTS:
                page.wait_for_selector(f"#{chart} .main-svg")
            page.wait_for_function("document.querySelectorAll('#leaderboard tbody tr').length > 0")
            page.wait_for_timeout(300)
            figures = page.evaluate("""() => {
              const paint = Object.fromEntries(performance.getEntriesByType("paint").map((e) => [e.name, e.startTime]));
              return {first_paint: paint["first-paint"], first_contentful_paint: paint["first-contentful-paint"],
                      charts_drawn: performance.now(), longest_task: window.__longest, long_tasks: window.__tasks,
                      longest_three: window.__taskList.sort((a, b) => b[1] - a[1]).slice(0, 3)
                        .map(([at, ms]) => ms + " ms at " + at + " ms").join(", ") || "none"};
            }""")
            scrolled = page.evaluate("performance.now()")
            page.locator("#live-analysis").scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            figures["scrolled_task"] = page.evaluate(LONGEST_SINCE, scrolled)
            clicked = page.evaluate("performance.now()")
            page.click("#parcoords-show")
            page.wait_for_selector("#live-parcoords-chart .main-svg")
            page.wait_for_timeout(300)
            figures["parcoords_task"] = page.evaluate(LONGEST_SINCE, clicked)
            figures["page_errors"] = "; ".join(e.splitlines()[0] for e in errors) or "none"
        finally:
            browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000,50000")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database", default="nasweb_bench_scale")
    args = parser.parse_args()
    env = setup_django(args.database)
    from django.contrib.auth import get_user_model

    from tests.processes import child_env, server

    user, _ = get_user_model().objects.get_or_create(username="scale-bench")
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / "nasweb-bench"
    logs.mkdir(exist_ok=True)
    with server(child_env(**env), logs / "scale-server.log") as base:
        port = int(base.rsplit(":", 1)[1])
        for size in [int(s) for s in args.sizes.split(",")]:
            started = time.perf_counter()
            search = make_search(user, size)
            cookie = session_cookie(user)
            print(f"\n== {size:,} trials (inserted in {time.perf_counter() - started:.1f} s; {load()})")
            page = f"/searches/{search.id}/"
            first, total, size_bytes = timed_get(port, page, cookie)
            print(f"search page: first byte {1000 * first:.1f} ms, all {1000 * total:.1f} ms, {size_bytes:,} bytes")
            endpoints = {
                "search page": page, "data.json": page + "data.json",
                "leaderboard.json": page + "leaderboard.json",
                "leaderboard.json by params, far page": page + "leaderboard.json?sort=params&dir=asc&page=" +
                str(max(1, size // 100)),
                "charts.json": page + "charts.json", "events.json": page + "events.json?after=0",
                "progress-charts.json": page + "progress-charts.json", "analysis.json": page + "analysis.json",
            }
            first_charts = timed_get(port, endpoints["charts.json"], cookie)[1]
            print(f"  charts.json, first (uncached) request: {1000 * first_charts:.1f} ms")
            for name, path in endpoints.items():
                runs = [timed_get(port, path, cookie) for _ in range(args.requests)]
                timings = percentiles([r[1] for r in runs])
                print(f"  {name:38s} {timings}  {runs[0][2]:>10,} bytes")
            figures = chromium(base + page, cookie)
            print("  chromium: first paint {first_paint:.0f} ms, first contentful paint "
                  "{first_contentful_paint:.0f} ms, charts drawn {charts_drawn:.0f} ms, "
                  "longest main-thread task {longest_task:.0f} ms ({long_tasks} tasks over 50 ms; "
                  "longest: {longest_three}); scrolled to the analysis: longest task {scrolled_task:.0f} ms; "
                  "parallel coordinates drawn on their button: longest task {parcoords_task:.0f} ms; "
                  "uncaught page errors: {page_errors}".format(**figures))
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
