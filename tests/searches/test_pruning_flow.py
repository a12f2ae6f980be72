"""Pruning searches from the web: "Prune this trial" -> a search of width settings of the parent, run by
the normal runner from the parent's kept weights; every candidate a trial with its exports."""

import io

import numpy as np
import onnxruntime
import pytest
import torch
from django.core.exceptions import ValidationError

from searches import runner, services
from searches.engine_data import load_project_data, pruning_source_path, weights_path
from searches.export_loader import load_trained
from searches.models import Search, Trial
from searches.services.pruning import PruningRequest
from searches.trial_export import export_trial

pytestmark = pytest.mark.django_db
SPACE = {"widths": [8, 16, 32, 64], "max_depth": 2, "norms": ["batch"], "dropouts": [0.0], "activations": ["relu"]}
ARCH = {"depth": 2, "width_1": 64, "width_2": 32, "activation": "relu", "dropout": 0.0, "norm": "batch"}


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)


def run_all(search) -> list[Trial]:
    while ids := services.advance_search(search.id):
        for trial_id in ids:
            runner.run_trial(trial_id, worker="w")
    return list(search.trials.order_by("number"))


@pytest.fixture
def parent(project, owner):
    """A completed, trained trial of a one-architecture chain MLP space, with its weights kept."""
    search = services.start_search(project, owner, name="base", space_kind="chain_mlp", space_spec=SPACE,
                                   strategy="random", max_trials=1, training={"epochs": 2}, seed=0)
    (trial_id,) = services.advance_search(search.id)
    Trial.objects.filter(id=trial_id).update(arch=ARCH)  # the architecture the tests prune
    runner.run_trial(trial_id, worker="w")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.COMPLETE and weights_path(trial.id).exists(), trial.error
    return trial


def test_a_pruning_search_records_each_candidate_within_the_budget(parent, owner):
    search = services.start_pruning_search(parent, owner, PruningRequest("params", 2500, "evolution", 2, 1))
    trials = run_all(search)
    search.refresh_from_db()
    assert search.state == Search.DONE and len(trials) == 2
    assert all(t.state == Trial.COMPLETE for t in trials), [t.error for t in trials]
    for t in trials:
        assert t.metrics["params"] <= 2500 and 0 <= t.metrics["pruned_val_accuracy"] <= 1
        assert t.arch["width_1"] <= 64 and t.arch.get("width_2", 0) <= 32
    assert search.space.kind == "chain_mlp" and search.space.pruned_from_trial_id == parent.id
    assert pruning_source_path(parent.id).exists()
    largest = max(trials, key=lambda t: t.metrics["params"])
    again = services.start_pruning_search(largest, owner, PruningRequest("params", 630, "random", 1, 1))
    assert again.space.spec["pruned_from"] == {"trial": largest.id, "arch": largest.arch}  # prunes further
    (trial,) = run_all(again)
    assert trial.state == Trial.COMPLETE and trial.metrics["params"] <= 630, trial.error


def test_a_pruned_trial_exports_load_back_and_match(parent, owner):
    search = services.start_pruning_search(parent, owner, PruningRequest("macs", 1500, "random", 1, 1))
    (trial,) = run_all(search)
    assert trial.state == Trial.COMPLETE, trial.error
    files = {fmt: export_trial(trial, fmt)[1] for fmt in ("spec", "state_dict", "torchscript", "onnx")}
    x = load_project_data(search.project.dataset, search.seed).x_val.float()
    model = load_trained(files["spec"], io.BytesIO(files["state_dict"]))
    assert sum(p.numel() for p in model.parameters()) == trial.metrics["params"]
    with torch.no_grad():
        expected = model(x).numpy()
        scripted = torch.jit.load(io.BytesIO(files["torchscript"]))(x).numpy()
    onnx_out = onnxruntime.InferenceSession(files["onnx"]).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(scripted, expected, atol=1e-5)
    np.testing.assert_allclose(onnx_out, expected, atol=1e-5)


BAD_REQUESTS = [
    (("params", 10), "budget_value", "even the smallest pruned model"),
    (("params", 10**9), "budget_value", "already fits"),
    (("params", -1), "budget_value", "positive number"),
    (("flops", 100), "budget_kind", "choose one of"),
    (("params", 2000, "nsga2"), "strategy", "a pruning search uses one of"),
    (("target", 2.0, "evolution", 8, 2, "latency_ms@999"), "target_metric", "hardware target"),
    (("params", 2000, "evolution", 0), "candidates", ""),
]


def test_bad_requests_are_refused_with_a_reason_and_nothing_is_written(parent, owner):
    before = Search.objects.count()
    for request_fields, field, words in BAD_REQUESTS:
        with pytest.raises(ValidationError) as caught:
            services.start_pruning_search(parent, owner, PruningRequest(*request_fields))
        assert field in caught.value.message_dict and words in " ".join(caught.value.message_dict[field])
    assert Search.objects.count() == before
    weights_path(parent.id).unlink()
    assert "weights were not kept" in services.why_not_prunable(parent)
    with pytest.raises(ValidationError, match="weights were not kept"):
        services.start_pruning_search(parent, owner, PruningRequest("params", 2000))


def test_the_prune_page_is_for_members_only_and_starts_the_search(client, parent, owner, member, outsider):
    url = f"/trials/{parent.id}/prune/"
    client.force_login(outsider)
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404
    assert client.get(f"/trials/{parent.id}/").status_code == 404
    client.force_login(member)
    page = client.get(f"/trials/{parent.id}/").content.decode()
    assert f'href="{url}"' in page
    assert 'id="prune-form"' in client.get(url).content.decode()
    refused = client.post(url, {"budget_metric": "params", "budget_value": "5", "strategy": "evolution",
                                "candidates": "2", "finetune_epochs": "1"})
    assert refused.status_code == 400 and "even the smallest pruned model" in refused.content.decode()
    assert not Search.objects.filter(name__startswith="Prune").exists()
    started = client.post(url, {"budget_metric": "params", "budget_value": "2500", "strategy": "gp_bo",
                                "candidates": "2", "finetune_epochs": "1"})
    search = Search.objects.get(name__startswith="Prune trial")
    assert started.status_code == 302 and started["Location"] == f"/searches/{search.id}/"
    assert search.strategy == "gp_bo" and search.constraints == [{"metric": "params", "max": 2500.0}]
    assert search.training["epochs"] == 1 and search.max_trials == 2
    page = client.get(f"/searches/{search.id}/").content.decode()
    assert f'id="pruned-from" href="/trials/{parent.id}/"' in page and "pruned from MLP 64-32" in page


def test_a_trial_that_cannot_be_pruned_shows_why(client, parent, member):
    weights_path(parent.id).unlink()
    client.force_login(member)
    assert "weights were not kept" in client.get(f"/trials/{parent.id}/").content.decode()
    response = client.post(f"/trials/{parent.id}/prune/", {"budget_metric": "params", "budget_value": "2500",
                                                           "strategy": "evolution", "candidates": "2",
                                                           "finetune_epochs": "1"})
    assert response.status_code == 400 and 'id="prune-refused"' in response.content.decode()


def test_the_api_starts_a_pruning_search_and_names_the_field_it_refuses(client, parent, member, outsider):
    url = f"/api/trials/{parent.id}/prune/"
    body = {"budget_kind": "macs", "budget_value": 1500, "strategy": "tpe", "candidates": 2, "finetune_epochs": 1}
    client.force_login(outsider)
    assert client.post(url, body, content_type="application/json").status_code == 404
    client.force_login(member)
    refused = client.post(url, {**body, "budget_value": 1}, content_type="application/json")
    assert refused.status_code == 400 and "smallest pruned model" in refused.json()["errors"]["budget_value"][0]
    started = client.post(url, body, content_type="application/json")
    assert started.status_code == 201, started.content
    search = Search.objects.get(id=started.json()["id"])
    assert search.constraints == [{"metric": "macs", "max": 1500.0}] and search.strategy == "tpe"


def test_the_learned_gates_run_as_one_task_then_one_trial_from_the_gated_model(parent, owner, settings):
    settings.NASWEB_TORCH_THREADS = 1
    with pytest.raises(ValidationError, match="parameter or MAC budget"):
        services.start_pruning_search(parent, owner, PruningRequest("target", 2.0, "gates", 1, 1, "latency_ms@1"))
    search = services.start_pruning_search(parent, owner, PruningRequest("params", 2500, "gates", 8, 1))
    assert search.max_trials == 1 and services.advance_search(search.id) == []
    runner.run_oneshot_search(search.id, worker="w")
    search.refresh_from_db()
    assert search.state == Search.RUNNING and search.oneshot_result["cost"] <= 2500, search.error
    services.advance_search(search.id)
    (trial,) = search.trials.all()
    assert trial.arch == search.oneshot_result["arch"]
    runner.run_trial(trial.id, worker="w")
    services.advance_search(search.id)
    search.refresh_from_db()
    trial.refresh_from_db()
    assert trial.state == Trial.COMPLETE and trial.metrics["params"] <= 2500, trial.error
    assert search.state == Search.DONE


CNN_SPACE = {"min_stages": 1, "max_stages": 2, "min_blocks": 1, "max_blocks": 2, "channels": [4, 8, 12, 16],
             "kernels": [3], "block_types": ["mbconv", "conv"], "expansions": [1, 2], "strides": [1, 2],
             "stem_channels": 8}
CNN_ARCH = {"stages": 2, "blocks_1": 2, "channels_1": 16, "kernel_1": 3, "block_1": "mbconv", "expansion_1": 2,
            "blocks_2": 2, "channels_2": 12, "kernel_2": 3, "block_2": "conv"}


def test_a_macro_cnn_trial_is_pruned_from_the_web(client, project, owner, member):
    search = services.start_search(project, owner, name="cnn", space_kind="macro_cnn", space_spec=CNN_SPACE,
                                   strategy="random", max_trials=1, training={"epochs": 1}, seed=0)
    (trial_id,) = services.advance_search(search.id)
    Trial.objects.filter(id=trial_id).update(arch=CNN_ARCH)
    runner.run_trial(trial_id, worker="w")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.COMPLETE, trial.error
    client.force_login(member)
    assert f'href="/trials/{trial.id}/prune/"' in client.get(f"/trials/{trial.id}/").content.decode()
    budget = int(trial.metrics["params"] * 0.6)
    started = client.post(f"/trials/{trial.id}/prune/", {"budget_metric": "params", "budget_value": str(budget),
                                                         "strategy": "random", "candidates": "1",
                                                         "finetune_epochs": "1"})
    assert started.status_code == 302, started.content.decode()[-2000:]
    pruning = Search.objects.get(name__startswith="Prune trial")
    assert pruning.space.kind == "macro_cnn" and pruning.space.pruned_from_trial_id == trial.id
    (candidate,) = run_all(pruning)
    assert candidate.state == Trial.COMPLETE and candidate.metrics["params"] <= budget, candidate.error
    assert candidate.arch["channels_1"] <= 16 and candidate.arch.get("channels_2", 0) <= 12
    assert 0 <= candidate.metrics["pruned_val_accuracy"] <= 1
    assert client.get(f"/trials/{candidate.id}/").status_code == 200
