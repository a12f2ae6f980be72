"""Share links and model exports over the API: the same services as the pages, the same access rules."""

import io

import pytest
import torch

from searches import runner, services
from searches.models import ShareLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(start_search, monkeypatch):
    """A search with one completed, trained trial whose weights were kept."""
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    runner.run_trial(trial_id, worker="w")
    return search, search.trials.get()


def test_the_owner_makes_lists_and_revokes_share_links(clients, trained):
    search, _ = trained
    owner, member, outsider = clients["owner"], clients["member"], clients["outsider"]
    made = owner.post(f"/api/searches/{search.id}/share-links/", {"label": "board"}, format="json")
    assert made.status_code == 201, made.content
    link = made.json()
    assert link["active"] and link["label"] == "board" and link["url"].endswith("/")
    assert owner.get(link["url"]).status_code == 200  # the page opens for anyone holding the link
    assert [x["id"] for x in owner.get(f"/api/searches/{search.id}/share-links/").json()] == [link["id"]]
    assert member.post(f"/api/searches/{search.id}/share-links/", {}, format="json").status_code == 403
    assert member.get(f"/api/searches/{search.id}/share-links/").status_code == 403
    assert outsider.post(f"/api/searches/{search.id}/share-links/", {}, format="json").status_code == 404
    assert clients["anonymous"].get(f"/api/searches/{search.id}/share-links/").status_code == 401
    assert outsider.delete(f"/api/searches/{search.id}/share-links/{link['id']}/").status_code == 404
    assert owner.delete(f"/api/searches/{search.id}/share-links/{link['id']}/").status_code == 204
    assert owner.delete(f"/api/searches/{search.id}/share-links/{link['id']}/").status_code == 404  # once
    assert not ShareLink.objects.get(id=link["id"]).active
    assert clients["anonymous"].get(link["url"]).status_code == 404


def test_a_too_long_label_is_a_400_naming_the_field(clients, trained):
    search, _ = trained
    answer = clients["owner"].post(f"/api/searches/{search.id}/share-links/", {"label": "x" * 121}, format="json")
    assert answer.status_code == 400 and "label" in answer.json()["errors"]
    assert not ShareLink.objects.exists()


def test_a_trained_trials_state_dict_downloads_and_loads(clients, trained):
    _, trial = trained
    answer = clients["member"].get(f"/api/trials/{trial.id}/export/state_dict/")
    assert answer.status_code == 200 and "attachment" in answer["Content-Disposition"]
    state = torch.load(io.BytesIO(answer.content), map_location="cpu", weights_only=True)
    assert state and all(isinstance(v, torch.Tensor) for v in state.values())
    assert clients["outsider"].get(f"/api/trials/{trial.id}/export/state_dict/").status_code == 404


def test_an_unknown_format_or_missing_weights_is_a_400_with_the_reason(clients, trained, settings, tmp_path):
    _, trial = trained
    unknown = clients["owner"].get(f"/api/trials/{trial.id}/export/pickle/")
    assert unknown.status_code == 400 and "unknown export format" in unknown.json()["errors"]["format"][0]
    settings.VAR_DIR = tmp_path / "elsewhere"  # the kept weights are not found there
    gone = clients["owner"].get(f"/api/trials/{trial.id}/export/onnx/")
    assert gone.status_code == 400 and "weights were not kept" in gone.json()["errors"]["format"][0]


def test_targets_made_over_the_api_are_their_makers_and_hidden_from_others(clients, owner):
    made = clients["owner"].post("/api/targets/", {"name": "my analytical", "kind": "analytical"}, format="json")
    assert made.status_code == 201 and made.json()["owner"] == owner.id
    target_id = made.json()["id"]
    assert target_id in [t["id"] for t in clients["owner"].get("/api/targets/").json()]
    assert target_id not in [t["id"] for t in clients["outsider"].get("/api/targets/").json()]
    assert clients["outsider"].get(f"/api/targets/{target_id}/").status_code == 404
    assert clients["owner"].get(f"/api/targets/{target_id}/").status_code == 200
