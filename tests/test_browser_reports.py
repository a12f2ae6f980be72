"""A person in headless Chromium reads, compares, exports and shares a finished search (embedded stack):
trial diagram, compare two trials, CSV and ONNX downloads (the ONNX runs in onnxruntime), a share link
opened logged out, revoked, then 404; no table wider than its card at 390 px and 1440 px; then one page of
every kind the site links to, with no 5xx and no uncaught script error on any page visited."""

import csv
import io
import json
import re

import numpy as np
import onnxruntime
import pytest

from tests.processes import child_env, log_in_as_demo, manage, server
from tests.test_browser import CHROMIUM_ARGS, page_errors

pytestmark = [pytest.mark.browser, pytest.mark.integration]
TABLES_WIDER_THAN_CARDS = """() => [...document.querySelectorAll('.card table')].filter(t =>
    t.getBoundingClientRect().width > t.closest('.card').clientWidth + 1).length"""


@pytest.fixture
def finished_demo(tmp_path):
    env = child_env(NASWEB_SQLITE_PATH=str(tmp_path / "db.sqlite3"), NASWEB_VAR_DIR=str(tmp_path / "var"))
    manage("migrate", "--noinput", "-v0", env=env)
    manage("nas_demo", "--trials", "2", "--epochs", "2", env=env)
    with server(env, tmp_path / "server.log") as url:
        yield url


#: Links that change something, download a file or leave the site's pages.
NOT_VISITED = ("/accounts/logout", "/export/", ".csv", ".json", "/admin", "/revoke", "/delete", "/pause/",
               "/resume/", "/cancel/", "/api/")


def visit_every_kind_of_linked_page(page, base: str) -> set[str]:
    """Follow the site's links from its front page, one page of each kind (ids as N), and check that
    the server answered none with a 5xx; the caller checks the pages' script errors. The kinds visited."""
    failures, kinds, todo = [], set(), [base + "/"]
    page.on("response", lambda r: r.status >= 500 and failures.append(f"HTTP {r.status} {r.url}"))
    while todo:
        url = todo.pop(0)
        kind = re.sub(r"/\d+", "/N", url[len(base):].split("?")[0])
        if kind in kinds:
            continue
        kinds.add(kind)
        page.goto(url)
        page.wait_for_timeout(400)  # the page's scripts fetch and draw
        todo += [href.split("#")[0] for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
                 if href.startswith(base) and not any(part in href for part in NOT_VISITED)]
    assert failures == [], failures
    return kinds


def test_read_compare_export_and_share(finished_demo, tmp_path):
    from playwright.sync_api import sync_playwright

    base = finished_demo
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(accept_downloads=True)
            page.set_default_timeout(20_000)
            errors = page_errors(page)
            log_in_as_demo(page, base)
            page.click("text=Digits demo")
            page.click("text=Random MLPs on digits")
            page.wait_for_selector("#search-state:has-text('done')", timeout=120_000)
            search_url = page.url

            with page.expect_download() as download:
                page.click("#csv-download")
            rows = list(csv.DictReader(io.StringIO(open(download.value.path()).read())))
            assert len(rows) == 2 and all(r["state"] == "complete" for r in rows)
            numbers = [r["number"] for r in rows]

            page.fill("#compare-trials", ", ".join(numbers))
            page.click("#sharing button:has-text('Compare')")
            page.wait_for_selector("#compare-table")
            compare_url = page.url
            assert page.locator(".compare-grid svg.arch-diagram").count() == 2
            assert page.locator("td.best").count() >= 1
            page.wait_for_selector("#compare-chart .scatterlayer .trace")
            page.click(f"#compare-table a:has-text('trial {numbers[0]}')")

            page.wait_for_selector("#architecture svg.arch-diagram")
            assert "layer 1" in page.inner_text("#architecture")
            with page.expect_download() as download:
                page.click("#export a:has-text('spec')")
            spec = json.loads(open(download.value.path()).read())
            with page.expect_download() as download:
                page.click("#export a:has-text('onnx')")
            session = onnxruntime.InferenceSession(download.value.path())
            x = np.random.default_rng(0).standard_normal((3, *spec["input_shape"])).astype(np.float32)
            (logits,) = session.run(None, {"input": x})
            assert logits.shape == (3, spec["num_classes"]) and np.isfinite(logits).all()
            pages = [page.url]

            page.goto(search_url)
            page.fill("#share-label", "for the board")
            page.click("#share-create")
            share = page.locator("#share-links a").first.get_attribute("href")

            outsider = browser.new_context().new_page()
            outsider_errors = page_errors(outsider)
            response = outsider.goto(share)
            assert response.status == 200
            assert "The best model found" in outsider.inner_text("main")
            assert "Glossary" in outsider.inner_text("#glossary")
            for url in (share, pages[0], compare_url):
                for width in (390, 1440):
                    viewer = outsider if url == share else page
                    viewer.set_viewport_size({"width": width, "height": 900})
                    viewer.goto(url)
                    assert viewer.evaluate(TABLES_WIDER_THAN_CARDS) == 0, (url, width)
                    assert viewer.evaluate("document.documentElement.scrollWidth") <= width + 1, (url, width)

            page.goto(search_url)
            page.click("#share-links button:has-text('Revoke')")
            page.wait_for_selector("#share-links .muted:has-text('revoked')")
            assert outsider.goto(share).status == 404
            visited = visit_every_kind_of_linked_page(page, base)
            assert {"/searches/N/analysis/", "/trials/N/", "/searches/N/devices/", "/devices/",
                    "/settings/tokens/", "/projects/N/searches/new/"} <= visited
            assert errors + outsider_errors == [], "\n".join(errors + outsider_errors)
        finally:
            browser.close()
