"""End to end against a real server (daphne, the embedded default: SQLite, no Redis, one process):
a token from the command line, a search made through the client, examples/ask_tell_digits.py training
every trial in plain PyTorch, the run followed by `nas_search run` with its progress bar."""

import json
import subprocess
import sys

import pytest

from searches.client import ApiError, Client
from tests.processes import ROOT, child_env, manage, server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live")
    env = child_env(NASWEB_SQLITE_PATH=str(folder / "db.sqlite3"))
    manage("migrate", "--noinput", "-v0", env=env)
    manage("nas_demo", "--no-search", env=env)
    key = manage("nas_token", "demo", "--name", "ci", env=env).strip()
    with server(env, folder / "server.log") as url:
        yield url, key, env


def test_the_example_script_trains_an_external_search_to_done(live):
    url, key, _ = live
    client = Client(url, key)
    project = client.projects()[0]["id"]
    search = client.create_search(project, {
        "name": "ask/tell", "space_kind": "chain_mlp", "strategy": "evolution", "max_trials": 4, "parallelism": 2,
        "strategy_settings": {"population_size": 3, "sample_size": 2}, "training": {"epochs": 2},
        "evaluator": "external"})
    with pytest.raises(ApiError) as refused:
        client.create_search(project, {"name": "x", "space_kind": "chain_mlp", "strategy": "random",
                                       "training": {"lr": 0}})
    assert refused.value.status == 400 and "training.lr" in refused.value.errors
    run = subprocess.run([sys.executable, "examples/ask_tell_digits.py", "--url", url, "--token", key,
                          "--search", str(search["id"])], cwd=ROOT, env=child_env(), capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"search {search['id']} is done after 4 trials here" in run.stdout
    done = client.search(search["id"])
    assert done["state"] == "done" and done["trial_counts"]["complete"] == 4 and done["best_trial"]["value"] > 0.3
    trials = list(client.trials(search["id"], sort="number", page_size=1))
    assert [t["number"] for t in trials] == [1, 2, 3, 4]
    assert all(t["epochs_done"] == 2 and t["worker"] == "external:demo:ask_tell_digits" for t in trials)
    assert len(client.trials_csv(search["id"]).splitlines()) == 5
    Client(url, "nas_wrong").session.close()
    with pytest.raises(ApiError) as bad:
        Client(url, "nas_wrong").projects()
    assert bad.value.status == 401


def test_nas_search_run_follows_a_search_to_the_end(live, tmp_path):
    _, _, env = live
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"project": {"name": "CLI", "dataset": "builtin:wine"}, "name": "cli run",
                                "space_kind": "chain_mlp", "strategy": "random", "max_trials": 2,
                                "training": {"epochs": 1}}))
    out = manage("nas_search", "run", str(spec), "--user", "demo", "--poll", "0.3", env=env, timeout=240)
    assert "started in project" in out and "2/2" in out and "best val_accuracy" in out
    assert "“cli run”: done" in out
    listing = manage("nas_search", "list", "--user", "demo", env=env)
    assert "cli run" in listing and "2/2" in listing
