"""A person in headless Chromium: log in, start a search from the form, watch the
leaderboard fill without reloading. Run on both stacks: the embedded default
(SQLite, no Redis, one process) and production (daphne + Celery + PostgreSQL + Redis).
Then, on the same embedded stack, one search per search space from the form's defaults."""

import os
import uuid
from contextlib import contextmanager

import pytest
from django.db import connection

from searches.spaces.registry import SPACES
from tests.processes import celery_worker, child_env, log_in_as_demo, manage, postgres_url, server

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def page_errors(page) -> list[str]:
    """The uncaught script errors of `page` from now on, with their page and stack, as they happen."""
    errors = []
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}\n{error.stack}"))
    return errors


@contextmanager
def chromium_page():
    """Opened inside the test and closed before fixtures tear down: sync Playwright
    runs an event loop, and Django refuses database work while one runs. A test that passes
    fails here if a script of the page threw an uncaught error on the way."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(20_000)
            errors = page_errors(page)
            yield page
            assert errors == [], "uncaught script errors on the pages:\n" + "\n".join(errors)
        finally:
            browser.close()


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory):
    """One for the module: migrating and starting the server costs more than a test's searches."""
    tmp_path = tmp_path_factory.mktemp("embedded")
    env = child_env(NASWEB_SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    manage("migrate", "--noinput", "-v0", env=env)
    manage("nas_demo", "--no-search", env=env)
    with server(env, tmp_path / "server.log") as url:
        yield url


@pytest.fixture
def production_stack(tmp_path):
    prefix = f"b{uuid.uuid4().hex[:8]}-"
    env = child_env(DATABASE_URL=postgres_url(connection.settings_dict["NAME"]), REDIS_URL=os.environ["REDIS_URL"],
                    NASWEB_QUEUE_PREFIX=prefix, NASWEB_CHANNEL_PREFIX=prefix)
    # The demo user is made by the server's own code, with the server's password hasher.
    manage("nas_demo", "--no-search", env=env)
    with celery_worker(env, [f"{prefix}default", f"{prefix}cpu"], tmp_path / "worker.log"), \
            server(env, tmp_path / "server.log") as url:
        yield url


@pytest.mark.parametrize("stack", [
    "embedded_stack",
    pytest.param("production_stack", marks=pytest.mark.django_db(transaction=True)),
])
def test_start_a_search_and_watch_it_live(request, stack):
    base = request.getfixturevalue(stack)
    with chromium_page() as page:
        start_and_watch(page, base)


def start_and_watch(page, base):
    log_in_as_demo(page, base)
    page.click("text=Digits demo")
    page.click("text=New search")

    page.fill("#id_name", "browser search")
    page.wait_for_selector("#space-size:has-text('exactly')")  # the live size of the default space
    page.fill("#id_spec__chain_mlp__widths", "8, x")  # a typo first: the form must say what is wrong
    page.wait_for_selector("#space-size:has-text('widths')")  # ...live, under the space's fields
    page.click("#start-search")
    assert "enter whole numbers separated by commas" in page.inner_text("#row-spec__chain_mlp__widths")
    page.fill("#id_spec__chain_mlp__widths", "16, 32")
    page.wait_for_selector("#space-size:has-text('exactly')")
    page.fill("#id_max_trials", "3")
    page.fill("#id_epochs", "2")
    page.click("#start-search")

    page.wait_for_selector("#leaderboard")
    page.evaluate("window.__loaded_once = true")  # gone if the page reloads
    page.wait_for_selector("#live-status:has-text('live')")
    page.wait_for_selector("#leaderboard tbody tr.trial-row", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('#leaderboard tbody tr.state-row-complete').length === 3",
                           timeout=120_000)
    page.wait_for_selector("#search-state:has-text('done')", timeout=30_000)
    page.wait_for_selector("#progress-text:has-text('3 of 3 trials finished (100%)')")  # the status, live
    assert page.evaluate("window.__loaded_once") is True
    page.wait_for_function("document.getElementById('best-value').textContent.includes('%')")
    assert page.locator("#best-chart .scatterlayer .trace").count() == 2  # Plotly drew trials + best line
    assert page.locator("#pareto-chart .scatterlayer .trace").count() == 2  # trials + Pareto front


#: The budget of the one-search-per-space test: 1 trial of 1 epoch on a twentieth of the data, a quarter of the
#: widths; every other field at its default.
TINY = {"#id_max_trials": "1", "#id_epochs": "1", "#id_data_fraction": "0.05", "#id_width_multiplier": "0.25"}


def shown(page, selector: str) -> bool:
    return page.locator(selector).is_visible()


def settings_follow_the_selects(page) -> None:
    page.select_option("#id_strategy", "evolution")
    assert shown(page, "fieldset.strategy-settings[data-owner=evolution]")
    assert shown(page, "#id_setting__evolution__population_size")
    assert not shown(page, "fieldset.strategy-settings[data-owner=random]")
    assert page.input_value("#id_setting__evolution__population_size") == "10"  # its default
    page.select_option("#id_strategy", "random")
    assert not shown(page, "fieldset.strategy-settings[data-owner=evolution]")
    assert not shown(page, "fieldset.pruner-settings[data-owner=asha]")
    page.select_option("#id_pruner", "asha")
    assert shown(page, "#id_pruner_setting__asha__eta")
    page.select_option("#id_pruner", "")
    assert not shown(page, "fieldset.pruner-settings[data-owner=asha]")


@pytest.mark.timeout(240)
def test_one_search_per_space_starts_from_the_form_and_completes_a_trial(embedded_stack):
    base = embedded_stack
    with chromium_page() as page:
        log_in_as_demo(page, base)
        page.click("text=Digits demo")
        page.click("text=New search")
        new_search = page.url
        settings_follow_the_selects(page)
        started = {}
        for kind in SPACES:
            page.goto(new_search)
            page.fill("#id_name", f"{kind} from the form")
            page.select_option("#id_space_kind", kind)
            for selector, value in TINY.items():
                page.fill(selector, value)
            page.click("#start-search")
            page.wait_for_selector("#leaderboard", timeout=30_000)
            started[kind] = page.url
        for kind, url in started.items():
            page.goto(url)
            page.wait_for_selector("#leaderboard tbody tr.state-row-complete", timeout=120_000)
            assert f"{kind} from the form" in page.inner_text("h1")
