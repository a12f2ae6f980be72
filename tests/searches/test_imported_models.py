"""Prune an uploaded model: its exported JSON spec and state_dict become a completed trial of an
"Uploaded model" search (services/imported_models.py), the parent of a pruning search like a trained trial."""

import datetime
import io
import json

import pytest
import torch
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from searches import runner, services
from searches.engine_data import pruning_source_path, weights_path
from searches.export import model_spec
from searches.export_loader import model_from_spec
from searches.models import Search, Trial
from searches.services.imported_models import UPLOAD_SOURCE
from searches.services.pruning import PruningRequest
from searches.trial_export import export_trial

pytestmark = pytest.mark.django_db
SPACE = {"widths": [8, 16, 32, 64], "max_depth": 2, "norms": ["batch"], "dropouts": [0.0], "activations": ["relu"]}
ARCH = {"depth": 2, "width_1": 64, "width_2": 32, "activation": "relu", "dropout": 0.0, "norm": "batch"}
SPEC = model_spec("chain_mlp", SPACE, ARCH, (1, 8, 8), 10)  # digits: 8x8 images, 10 classes


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)


def spec_bytes(**changes) -> bytes:
    return json.dumps({**SPEC, **changes}).encode()


def weights_bytes(state=None) -> bytes:
    buffer = io.BytesIO()
    torch.save(model_from_spec(SPEC).state_dict() if state is None else state, buffer)
    return buffer.getvalue()


def upload(project, owner, spec: bytes, weights: bytes) -> Trial:
    return services.import_trained_model(project, owner, io.BytesIO(spec), io.BytesIO(weights))


def run_all(search) -> list[Trial]:
    while ids := services.advance_search(search.id):
        for trial_id in ids:
            runner.run_trial(trial_id, worker="w")
    return list(search.trials.order_by("number"))


def kept_files() -> set:
    return set(weights_path(0).parent.iterdir())


def test_an_uploaded_model_is_measured_and_a_pruning_search_runs_from_its_weights(project, owner):
    trial = upload(project, owner, spec_bytes(), weights_bytes())
    search = trial.search
    assert trial.state == Trial.COMPLETE and trial.arch == ARCH and trial.metrics["source"] == UPLOAD_SOURCE
    assert search.state == Search.DONE and search.space.kind == "chain_mlp" and search.trials.count() == 1
    assert 0 <= trial.val_accuracy <= 0.35  # untrained weights: about chance on 10 classes
    assert trial.params == sum(p.numel() for p in model_from_spec(SPEC).parameters())
    assert services.advance_search(search.id) == []  # its strategy never proposes a trial
    pruning = services.start_pruning_search(trial, owner, PruningRequest("params", 2500, "random", 1, 1))
    (candidate,) = run_all(pruning)
    assert candidate.state == Trial.COMPLETE and candidate.metrics["params"] <= 2500, candidate.error
    assert 0 <= candidate.metrics["pruned_val_accuracy"] <= 1
    assert pruning.space.spec["pruned_from"] == {"trial": trial.id, "arch": ARCH}


def test_a_completed_trials_exported_files_upload_back_with_the_same_accuracy(project, owner):
    base = services.start_search(project, owner, name="base", space_kind="chain_mlp", space_spec=SPACE,
                                 strategy="random", max_trials=1, training={"epochs": 1}, seed=0)
    (trial_id,) = services.advance_search(base.id)
    Trial.objects.filter(id=trial_id).update(arch=ARCH)
    runner.run_trial(trial_id, worker="w")
    trained = Trial.objects.get(id=trial_id)
    assert trained.state == Trial.COMPLETE, trained.error
    files = {fmt: export_trial(trained, fmt)[1] for fmt in ("spec", "state_dict")}
    imported = upload(project, owner, files["spec"], files["state_dict"])
    assert imported.val_accuracy == pytest.approx(trained.val_accuracy, abs=1e-6) and imported.val_accuracy > 0.5
    assert services.why_not_prunable(imported) == ""
    pruning = services.start_pruning_search(imported, owner, PruningRequest("macs", 1500, "random", 1, 1))
    (candidate,) = run_all(pruning)
    assert candidate.state == Trial.COMPLETE and 0 <= candidate.metrics["pruned_val_accuracy"] <= 1, candidate.error
    source = torch.load(pruning_source_path(imported.id), weights_only=True)  # what the candidates were cut from
    kept = torch.load(weights_path(trained.id), weights_only=True)
    assert source.keys() == kept.keys() and all(torch.equal(source[k], kept[k]) for k in kept)


def _state(change):
    state = model_from_spec(SPEC).state_dict()
    change(state)
    return state


BAD_UPLOADS = [
    (b"{not json", weights_bytes(), "spec", "not a JSON file"),
    (b"[1, 2]", weights_bytes(), "spec", "a JSON object"),
    (spec_bytes(format_version=9), weights_bytes(), "spec", "unknown model spec version"),
    (json.dumps({k: v for k, v in SPEC.items() if k != "arch"}).encode(), weights_bytes(), "spec", "lacks 'arch'"),
    (spec_bytes(space_kind="nb201"), weights_bytes(), "spec", "pruning is available for"),
    (spec_bytes(space_spec={**SPACE, "widths": "many"}), weights_bytes(), "spec", "not a model of the chain_mlp"),
    (spec_bytes(space_spec={**SPACE, "pruned_from": {"trial": 1, "arch": ARCH}}), weights_bytes(), "spec",
     "space_spec holds 'pruned_from'"),
    (spec_bytes(arch={**ARCH, "width_1": 7}), weights_bytes(), "spec", "width_1: 7 is not one of"),
    (spec_bytes(input_shape=[3, 8, 8]), weights_bytes(), "spec", "input shape [3, 8, 8]"),
    (spec_bytes(num_classes=3), weights_bytes(), "spec", "classes 3 (this project's data: 10)"),
    (spec_bytes(), b"", "state_dict", "empty"),
    (spec_bytes(), weights_bytes(_state(lambda s: s.update({next(iter(s)): torch.zeros(64, 64, dtype=torch.cfloat)}))),
     "state_dict", "1.weight is torch.complex64, the model's is torch.float32"),
    (spec_bytes(), b"not a torch file", "state_dict", "not a PyTorch state_dict file"),
    (spec_bytes(), weights_bytes({"when": datetime.date(2026, 1, 1)}), "state_dict", "weights_only"),
    (spec_bytes(), weights_bytes([torch.zeros(2)]), "state_dict", "holds a list"),
    (spec_bytes(), weights_bytes(_state(lambda s: s.pop(next(iter(s))))), "state_dict", "missing"),
    (spec_bytes(), weights_bytes(_state(lambda s: s.update(extra=torch.zeros(1)))), "state_dict", "unexpected extra"),
    (spec_bytes(), weights_bytes(_state(lambda s: s.update({next(iter(s)): torch.zeros(3, 3)}))), "state_dict",
     "is [3, 3], the model's is"),
    (spec_bytes(), weights_bytes(_state(lambda s: next(iter(s.values())).fill_(float("nan")))), "state_dict", "NaN"),
]


def test_each_bad_upload_names_its_field_and_writes_nothing(project, owner, settings):
    searches, trials, files = Search.objects.count(), Trial.objects.count(), kept_files()
    for spec, weights, field, words in BAD_UPLOADS:
        with pytest.raises(ValidationError) as caught:
            upload(project, owner, spec, weights)
        assert words in " ".join(caught.value.message_dict.get(field, [])), (words, caught.value.message_dict)
    settings.NASWEB_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(ValidationError, match="larger than"):
        upload(project, owner, spec_bytes(), weights_bytes())
    assert (Search.objects.count(), Trial.objects.count(), kept_files()) == (searches, trials, files)


def test_the_upload_page_is_for_members_only_and_leads_to_the_prune_form(client, project, member, outsider):
    url = f"/projects/{project.id}/prune-upload/"

    def post(spec: bytes, weights: bytes):
        return client.post(url, {"spec": SimpleUploadedFile("m.json", spec),
                                 "state_dict": SimpleUploadedFile("m.pt", weights), "name": "from my laptop"})

    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert post(spec_bytes(), weights_bytes()).status_code == 404
    client.force_login(member)
    assert f'href="{url}"' in client.get(f"/projects/{project.id}/").content.decode()
    assert 'id="upload-form"' in client.get(url).content.decode()
    refused = post(spec_bytes(num_classes=3), weights_bytes())
    assert refused.status_code == 400 and "does not fit this project&#x27;s data" in refused.content.decode()
    assert not Search.objects.exists()
    started = post(spec_bytes(), weights_bytes())
    trial = Trial.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/trials/{trial.id}/prune/"
    assert trial.search.name == "Uploaded model: from my laptop"
    page = client.get(started["Location"]).content.decode()
    assert 'id="prune-form"' in page and "Uploaded model recorded" in page
    assert client.get(f"/searches/{trial.search_id}/").status_code == 200
    assert client.get(f"/trials/{trial.id}/").status_code == 200
    pruned = client.post(started["Location"], {"budget_metric": "params", "budget_value": "2500",
                                               "strategy": "evolution", "candidates": "2", "finetune_epochs": "1"})
    search = Search.objects.get(name__startswith="Prune trial")
    assert pruned.status_code == 302 and search.space.pruned_from_trial_id == trial.id
