"""The search page in headless Chromium (embedded stack): the progress bar advances live while trials
finish, the leaderboard sorts and pages (by mouse and by keyboard: Tab to a heading, Enter sorts),
the column chooser hides a column and remembers it, every input has a label, and no table is wider
than its card at 390 px and 1440 px."""

import pytest

from tests.processes import child_env, log_in_as_demo, manage, server
from tests.test_browser import chromium_page
from tests.test_browser_reports import TABLES_WIDER_THAN_CARDS

pytestmark = [pytest.mark.browser, pytest.mark.integration]
TRIALS = 6
#: Every progress value and ETA the page shows, in order, from the first paint on.
RECORD_PROGRESS = """() => {
  const bar = document.getElementById('search-progress'), eta = document.getElementById('eta-text');
  window.__progress = [bar.value]; window.__eta = [eta.textContent];
  new MutationObserver(() => window.__progress.push(bar.value)).observe(bar, {attributes: true});
  new MutationObserver(() => window.__eta.push(eta.textContent)).observe(eta, {childList: true});
}"""
UNLABELLED_INPUTS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && !el.labels.length && !el.getAttribute('aria-label'))
  .map(el => el.id || el.name)"""
VALUES = "() => [...document.querySelectorAll('#leaderboard tbody td.val')].map(td => parseFloat(td.textContent))"


@pytest.fixture
def embedded_stack(tmp_path):
    env = child_env(NASWEB_SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    manage("migrate", "--noinput", "-v0", env=env)
    manage("nas_demo", "--no-search", env=env)
    with server(env, tmp_path / "server.log") as url:
        yield url


def start_search(page, base):
    log_in_as_demo(page, base)
    page.click("text=Digits demo")
    page.click("text=New search")
    page.fill("#id_name", "progress search")
    page.fill("#id_spec__chain_mlp__widths", "8, 16, 32")
    page.fill("#id_max_trials", str(TRIALS))
    # 30 epochs: on an idle machine a few-epoch trial of this tiny MLP finishes well within the status
    # message's 1 s, and the bar would jump from one trial to all of them
    page.fill("#id_epochs", "30")
    page.click("#start-search")
    page.wait_for_selector("#search-progress")


def watch_progress(page):
    page.evaluate(RECORD_PROGRESS)
    page.evaluate("window.__loaded_once = true")  # gone if the page reloads
    page.wait_for_selector("#search-state:has-text('done')", timeout=90_000)
    page.wait_for_function("document.getElementById('search-progress').value === 1")
    shown = page.evaluate("window.__progress")
    assert page.evaluate("window.__loaded_once") is True
    assert shown == sorted(shown) and shown[-1] == 1, shown
    assert len({v for v in shown if 0 < v < 1}) >= 2, shown  # it moved in steps, live, before the end
    assert any("trials/min" in text for text in page.evaluate("window.__eta")), page.evaluate("window.__eta")
    assert page.inner_text("#progress-text").startswith(f"{TRIALS} of {TRIALS} trials finished (100%)")


def sort_and_page(page):
    page.select_option("#board-per-page", "5")
    page.wait_for_selector("#board-page:has-text('page 1 of 2')")
    assert page.locator("#leaderboard tbody tr").count() == 5
    page.click("#board-next")
    page.wait_for_selector("#board-page:has-text('page 2 of 2')")
    assert page.locator("#leaderboard tbody tr").count() == 1
    page.click("#board-prev")
    page.wait_for_selector("#board-page:has-text('page 1 of 2')")

    page.focus("#board-columns summary")  # then Tab through the headings' sort buttons, as a keyboard user
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('th').dataset.sort") == "val_accuracy"
    page.keyboard.press("Enter")
    page.wait_for_selector("th[data-sort=val_accuracy][aria-sort=descending]")
    values = page.evaluate(VALUES)
    assert values == sorted(values, reverse=True) and len(values) == 5
    page.keyboard.press("Enter")
    page.wait_for_selector("th[data-sort=val_accuracy][aria-sort=ascending]")
    values = page.evaluate(VALUES)
    assert values == sorted(values)


def choose_columns(page):
    assert page.locator("#leaderboard tbody td[data-col=worker]").first.is_visible()
    page.click("#board-columns summary")
    page.click("label[for=column-worker]")
    assert not page.locator("#leaderboard tbody td[data-col=worker]").first.is_visible()
    assert not page.locator("#leaderboard th[data-col=worker]").is_visible()
    page.reload()  # remembered in this browser
    page.wait_for_selector("#leaderboard tbody tr")
    assert not page.locator("#leaderboard tbody td[data-col=worker]").first.is_visible()
    assert not page.is_checked("#column-worker")
    page.click("#board-columns summary")
    page.check("#column-worker")
    assert page.locator("#leaderboard tbody td[data-col=worker]").first.is_visible()


def test_progress_leaderboard_and_columns(embedded_stack):
    with chromium_page() as page:
        start_search(page, embedded_stack)
        watch_progress(page)
        sort_and_page(page)
        choose_columns(page)
        assert page.evaluate(UNLABELLED_INPUTS) == []
        title = page.locator("#leaderboard tbody td.arch").first
        assert title.get_attribute("title") == title.inner_text()  # the whole architecture on hover
        for width in (390, 1440):
            page.set_viewport_size({"width": width, "height": 900})
            page.reload()
            page.wait_for_selector("#leaderboard tbody tr")
            assert page.evaluate(TABLES_WIDER_THAN_CARDS) == 0, width
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, width
