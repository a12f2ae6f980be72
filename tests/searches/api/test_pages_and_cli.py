"""The token settings page, the form's evaluator field, and nas_search's create/status/export."""

import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from searches import services
from searches.models import ApiToken, Search, Trial

pytestmark = pytest.mark.django_db


def test_a_token_is_made_shown_once_and_revoked_on_the_settings_page(client, owner):
    client.force_login(owner)
    page = client.post("/settings/tokens/", {"name": "lab box"}).content.decode()
    token = ApiToken.objects.get(user=owner)
    key = page.split('id="new-token-key">')[1].split("<")[0]
    assert key.startswith(token.prefix) and services.user_for_key(key)[0] == owner
    later = client.get("/settings/tokens/").content.decode()
    assert key not in later and token.prefix in later and "lab box" in later
    assert "a token needs a name" in client.post("/settings/tokens/", {"name": " "}).content.decode()
    client.post(f"/settings/tokens/{token.id}/revoke/")
    assert services.user_for_key(key) is None and "revoked" in client.get("/settings/tokens/").content.decode()


def test_someone_elses_token_is_not_revoked_from_the_page(client, outsider, owner):
    token, key = services.create_token(owner, "mine")
    client.force_login(outsider)
    client.post(f"/settings/tokens/{token.id}/revoke/")
    assert services.user_for_key(key)[0] == owner
    assert client.get("/settings/tokens/").status_code == 200 and "mine" not in client.get(
        "/settings/tokens/").content.decode()


def test_the_form_starts_an_external_search(client, owner, project):
    from tests.searches.test_views import valid_search_form

    client.force_login(owner)
    client.post(f"/projects/{project.id}/searches/new/", valid_search_form(evaluator="external"))
    assert Search.objects.get(project=project).evaluator == "external"


def nas_search(*args) -> str:
    out = StringIO()
    call_command("nas_search", *args, stdout=out, stderr=out)
    return out.getvalue()


def test_create_list_status_and_export(tmp_path, owner, project, start_search):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"project": project.id, "name": "from a file", "space_kind": "nb201",
                                "space_spec": {"C": 4, "N": 1}, "strategy": "random", "max_trials": 2}))
    assert "started in project" in nas_search("create", str(spec), "--user", "owner")
    search = Search.objects.get(name="from a file")
    assert (search.space.kind, search.space.spec["C"]) == ("nb201", 4)
    assert "from a file" in nas_search("list", "--user", "owner")
    trial = services.ask_trial(start_search(name="ext", evaluator="external"), "cli")
    services.tell_trial(trial, {"val_accuracy": 0.75})
    status = nas_search("status", str(trial.search_id))
    assert "1 complete" in status and "best: trial 1, val_accuracy 0.75" in status
    rows = list(csv.DictReader(io.StringIO(nas_search("export", str(trial.search_id), "--format", "csv"))))
    assert (rows[0]["number"], rows[0]["state"], rows[0]["val_accuracy"]) == ("1", "complete", "0.75")
    document = json.loads(nas_search("export", str(trial.search_id), "--format", "json"))
    assert document["spec"]["evaluator"] == "external" and document["trials"][0]["val_accuracy"] == 0.75
    for fmt in ("onnx", "torchscript"):
        path = tmp_path / f"best.{fmt}"
        with pytest.raises(CommandError, match="--untrained"):  # an external trial's weights are the script's
            nas_search("export", str(trial.search_id), "--format", fmt, "--output", str(path))
        nas_search("export", str(trial.search_id), "--format", fmt, "--output", str(path), "--untrained")
        assert path.stat().st_size > 1000
    import onnx
    import torch

    onnx.checker.check_model(onnx.load(str(tmp_path / "best.onnx")))
    assert torch.jit.load(str(tmp_path / "best.torchscript"))(torch.rand(1, 1, 8, 8)).shape == (1, 10)


@pytest.mark.parametrize("content,message", [
    ("{", "not valid JSON"), ("[]", "a spec is a JSON object"), ('{"name": "x"}', "project: say which project"),
    ('{"project": 999999, "name": "x"}', "no project 999999"),
    ('{"project": {"name": "p"}, "name": "x", "space_kind": "chain_mlp", "strategy": "random", "training": {"lr": 0}}',
     "training.lr: must be a number in (0, 10]"),
])
def test_bad_spec_files_are_refused_with_the_forms_message(tmp_path, owner, project, content, message):
    spec = tmp_path / "spec.json"
    spec.write_text(content)
    with pytest.raises(CommandError) as info:
        nas_search("create", str(spec), "--user", "owner")
    assert message in str(info.value)
    assert not Search.objects.filter(name="x").exists()


def test_exporting_a_model_needs_a_finished_trial(start_search):
    search = start_search(name="nothing yet")
    with pytest.raises(CommandError, match="no complete trial yet"):
        nas_search("export", str(search.id), "--format", "onnx", "--output", "/tmp/never.onnx")
    assert not Trial.objects.filter(search=search, state=Trial.COMPLETE).exists()


def readme_specs() -> list[dict]:
    from pathlib import Path

    text = Path(__file__).resolve().parents[3].joinpath("README.md").read_text()
    section = text.split("### The spec file format", 1)[1].split("\n## ", 1)[0]
    return [json.loads(block.split("```", 1)[0]) for block in section.split("```json\n")[1:]]


def test_the_readmes_spec_examples_start_one_search_per_space(tmp_path, owner):
    specs = readme_specs()
    assert sorted(s["space_kind"] for s in specs) == ["chain_mlp", "hybrid", "macro_cnn", "nb201", "transformer"]
    for number, spec in enumerate(specs):
        path = tmp_path / f"{number}.json"
        path.write_text(json.dumps(spec))
        nas_search("create", str(path), "--user", "owner")
    assert Search.objects.count() == 5 and Search.objects.filter(evaluator="external").count() == 1
