"""Screenshots of the main pages, for the README: rerun after a UI change.

    .venv/bin/python bench/screenshots.py            # writes docs/screenshots/*.png

Starts the embedded stack (SQLite, no Redis) in a temporary folder, runs the demo search
(10 chain-MLP trials on digits, 3 epochs), creates a share link and photographs the search
page, a trial, a comparison, the analysis, and the shared page at 1440 px and the trial page
at 390 px, in headless Chromium (Debian's /usr/bin/chromium).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.processes import child_env, log_in_as_demo, manage, server  # noqa: E402
from tests.test_browser import CHROMIUM_ARGS  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="nasweb-shots-"))
    env = child_env(NASWEB_SQLITE_PATH=str(folder / "db.sqlite3"))
    manage("migrate", "--noinput", "-v0", env=env)
    manage("nas_demo", "--trials", "10", "--epochs", "3", env=env)
    with server(env, folder / "server.log") as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.set_default_timeout(30_000)
        log_in_as_demo(page, base)
        page.click("text=Digits demo")
        page.click("text=Random MLPs on digits")
        page.wait_for_selector("#search-state:has-text('done')", timeout=300_000)
        search_url = page.url
        page.fill("#share-label", "for the board")
        page.click("#share-create")
        share = page.locator("#share-links a").first.get_attribute("href")
        shot(page, search_url, "search.png")
        search_id = search_url.rstrip("/").split("/")[-1]
        shot(page, f"{base}/searches/{search_id}/compare/?trials=1,2,3", "compare.png")
        shot(page, f"{base}/searches/{search_id}/analysis/", "analysis.png")
        page.goto(search_url)
        trial_url = base + page.locator("#leaderboard tbody tr a").first.get_attribute("href")
        shot(page, trial_url, "trial.png")
        page.set_viewport_size({"width": 390, "height": 900})
        shot(page, trial_url, "trial-390.png")
        visitor = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        shot(visitor, share, "share.png")
        browser.close()
    for name in sorted(OUT.iterdir()):
        print(name.relative_to(ROOT), name.stat().st_size, "bytes")


def shot(page, url: str, name: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(800)  # Plotly's transitions
    page.screenshot(path=str(OUT / name), full_page=True)


if __name__ == "__main__":
    main()
