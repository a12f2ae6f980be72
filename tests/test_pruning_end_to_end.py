"""End to end without a browser: on the embedded stack (nas_serve, SQLite, in-process worker) the demo's
completed trial is pruned through the "Prune this trial" form, and the pruning search runs to the end,
each candidate a completed trial within the budget, starting from the demo trial's kept weights. Then the
demo trial's exported JSON spec and state_dict are uploaded through "Prune an uploaded model", and the
uploaded model is pruned the same way."""

import re
import sqlite3
import time

import pytest
import requests

from tests.processes import child_env, manage, server

pytestmark = pytest.mark.integration


def rows(db, sql, *args):
    with sqlite3.connect(db) as connection:
        return connection.execute(sql, args).fetchall()


def test_prune_a_demo_trial_through_the_form(tmp_path):
    db = tmp_path / "db.sqlite3"
    env = child_env(NASWEB_SQLITE_PATH=str(db), NASWEB_VAR_DIR=str(tmp_path / "var"))
    manage("migrate", "--noinput", "-v0", env=env)
    manage("nas_demo", "--trials", "1", "--epochs", "1", env=env)
    with server(env, tmp_path / "server.log") as base:
        web = requests.Session()
        login = web.get(f"{base}/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        web.post(f"{base}/accounts/login/", {"username": "demo", "password": "nasweb-demo",
                                             "csrfmiddlewaretoken": token}, headers={"Referer": base})
        trial_id, params = wait_for(lambda: rows(db, "select id, json_extract(metrics, '$.params') from "
                                                     "searches_trial where state = 'complete'"))[0]
        page = web.get(f"{base}/trials/{trial_id}/")
        assert f'href="/trials/{trial_id}/prune/"' in page.text, page.text[-2000:]
        form = web.get(f"{base}/trials/{trial_id}/prune/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        budget = params * 0.6
        answer = web.post(f"{base}/trials/{trial_id}/prune/", {
            "csrfmiddlewaretoken": token, "budget_metric": "params", "budget_value": str(budget),
            "strategy": "evolution", "candidates": "2", "finetune_epochs": "1"},
            headers={"Referer": base}, allow_redirects=False)
        assert answer.status_code == 302, answer.text[-3000:]
        search_id = int(re.search(r"/searches/(\d+)/", answer.headers["Location"]).group(1))
        wait_for(lambda: rows(db, "select 1 from searches_search where id = ? and state = 'done'", search_id),
                 seconds=240)
        trials = rows(db, "select state, json_extract(metrics, '$.params'), json_extract(metrics, "
                          "'$.pruned_val_accuracy') from searches_trial where search_id = ?", search_id)
        assert len(trials) == 2 and all(state == "complete" for state, _, _ in trials), trials
        assert all(p <= budget and 0 <= pruned <= 1 for _, p, pruned in trials)
        board = web.get(f"{base}/searches/{search_id}/leaderboard.json").json()
        assert board["total"] == 2 and len(board["trials"]) == 2
        prune_the_exported_files_uploaded_back(web, base, db, trial_id, budget)


def prune_the_exported_files_uploaded_back(web, base, db, trial_id: int, budget: float):
    files = {fmt: web.get(f"{base}/trials/{trial_id}/export/{fmt}/").content for fmt in ("spec", "state_dict")}
    ((project_id,),) = rows(db, "select s.project_id from searches_trial t join searches_search s "
                                "on s.id = t.search_id where t.id = ?", trial_id)
    url = f"{base}/projects/{project_id}/prune-upload/"
    assert url.removeprefix(base) in web.get(f"{base}/projects/{project_id}/").text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', web.get(url).text).group(1)
    answer = web.post(url, {"csrfmiddlewaretoken": token, "name": "round trip"}, headers={"Referer": base},
                      files={"spec": ("m.json", files["spec"]), "state_dict": ("m.pt", files["state_dict"])},
                      allow_redirects=False)
    assert answer.status_code == 302, answer.text[-3000:]
    imported = int(re.search(r"/trials/(\d+)/prune/", answer.headers["Location"]).group(1))
    ((accuracy, source),) = rows(db, "select val_accuracy, json_extract(metrics, '$.source') from searches_trial "
                                     "where id = ?", imported)
    ((trained,),) = rows(db, "select val_accuracy from searches_trial where id = ?", trial_id)
    assert source.startswith("uploaded") and abs(accuracy - trained) < 1e-6
    form = web.get(f"{base}{answer.headers['Location']}")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    started = web.post(f"{base}{answer.headers['Location']}", {
        "csrfmiddlewaretoken": token, "budget_metric": "params", "budget_value": str(budget),
        "strategy": "random", "candidates": "1", "finetune_epochs": "1"}, headers={"Referer": base},
        allow_redirects=False)
    assert started.status_code == 302, started.text[-3000:]
    search_id = int(re.search(r"/searches/(\d+)/", started.headers["Location"]).group(1))
    wait_for(lambda: rows(db, "select 1 from searches_search where id = ? and state = 'done'", search_id),
             seconds=240)
    ((state, params),) = rows(db, "select state, json_extract(metrics, '$.params') from searches_trial "
                                  "where search_id = ?", search_id)
    assert state == "complete" and params <= budget


def wait_for(query, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = query()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError("timed out")
