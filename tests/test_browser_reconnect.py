"""Restart the web server under an open search page: the page's socket reconnects and the page
resynchronises (the trials that finished while the server was down appear) without a reload.
Production stack: daphne + Celery + PostgreSQL + Redis; the new server listens on the same port."""

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from searches.models import Search, Trial
from tests.processes import celery_worker, child_env, free_port, log_in_as_demo, manage, postgres_url, server
from tests.test_browser import chromium_page

COMPLETE_ROWS = "document.querySelectorAll('#leaderboard tbody tr.state-row-complete').length"
pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def completed(search_id: int) -> int:
    """Run on another thread: sync Playwright keeps an event loop on this one, where Django refuses queries."""
    def count():
        try:
            return Trial.objects.filter(search_id=search_id, state=Trial.COMPLETE).count()
        finally:
            connection.close()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(count).result()


def the_search_id() -> int:
    """The demo's search, read on another thread (see completed())."""
    def read():
        try:
            return Search.objects.get().id
        finally:
            connection.close()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(read).result()


def show_logs(folder):
    """On a failure, the tails of the worker's and the server's logs go to the test's report."""
    for path in sorted(folder.glob("*.log")):
        print(f"--- {path.name}", *path.read_text(errors="replace").splitlines()[-40:], sep="\n")


def test_a_restarted_server_is_rejoined_without_a_reload(tmp_path):
    prefix = f"r{uuid.uuid4().hex[:8]}-"
    env = child_env(DATABASE_URL=postgres_url(connection.settings_dict["NAME"]), REDIS_URL=os.environ["REDIS_URL"],
                    NASWEB_QUEUE_PREFIX=prefix, NASWEB_CHANNEL_PREFIX=prefix)
    port = free_port()
    with celery_worker(env, [f"{prefix}default", f"{prefix}cpu"], tmp_path / "worker.log"), chromium_page() as page:
        # The search starts once the worker consumes its queues: in a full run its first message, sent
        # before, once never reached the worker (this test runs no beat, whose sweep would re-send it).
        manage("nas_demo", "--trials", "200", "--epochs", "100", env=env)  # longer than the test, even idle
        search_id = the_search_id()
        with server(env, tmp_path / "server-1.log", port) as url:
            log_in_as_demo(page, url)
            page.goto(f"{url}/searches/{search_id}/")
            page.wait_for_selector("#live-status:has-text('live')")
            page.evaluate("window.__loaded_once = true")  # gone if the page reloads
            try:  # the worker's first trial: slow to come when the machine is busy with other tests
                page.wait_for_selector("#leaderboard tbody tr.trial-row", timeout=120_000)
            except Exception:
                show_logs(tmp_path)
                raise
        # The server is down: the page says so, and the worker goes on finishing trials.
        page.wait_for_selector("#live-status:has-text('reconnecting')", timeout=20_000)
        before = completed(search_id)
        deadline = time.monotonic() + 180
        while completed(search_id) == before:
            assert time.monotonic() < deadline, "no trial finished while the server was down"
            time.sleep(0.3)
        missed = completed(search_id)
        shown = page.evaluate(COMPLETE_ROWS)
        assert shown < missed  # the page has not heard of them: the server was down
        with server(env, tmp_path / "server-2.log", port):
            page.wait_for_selector("#live-status:has-text('live')", timeout=30_000)
            # resynchronised on reconnect: every trial that finished during the outage is on the page
            page.wait_for_function(f"{COMPLETE_ROWS} >= {missed}", timeout=60_000)
            assert page.evaluate("window.__loaded_once") is True
