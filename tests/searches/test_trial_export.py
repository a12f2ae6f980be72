"""Kept weights (best k per search), a trained trial's exports, and the trials CSV, on real trials."""

import csv
import io

import numpy as np
import onnxruntime
import pytest
import torch

from searches import runner, services
from searches.engine_data import load_project_data, weights_path
from searches.export_loader import ExportError, load_trained
from searches.models import Trial
from searches.trial_export import export_trial, exportable_formats, trials_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quiet(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    settings.VAR_DIR = tmp_path


def run_all(search) -> list[Trial]:
    for trial_id in services.advance_search(search.id):
        runner.run_trial(trial_id, worker="w")
    return list(search.trials.order_by("number"))


def test_only_the_best_k_completed_trials_keep_their_weights(start_search, settings):
    settings.NASWEB_KEEP_WEIGHTS = 2
    trials = run_all(start_search(max_trials=4, parallelism=4, training={"epochs": 1}))
    assert all(t.state == Trial.COMPLETE for t in trials), [t.error for t in trials]
    best_two = sorted(trials, key=lambda t: (-t.val_accuracy, t.number))[:2]
    kept = {t.id for t in trials if weights_path(t.id).exists()}
    assert kept == {t.id for t in best_two}
    other = next(t for t in trials if t.id not in kept)
    assert exportable_formats(other) == ["spec"]
    with pytest.raises(ExportError, match="best completed trials"):
        export_trial(other, "onnx")


def test_keep_zero_keeps_no_weights(start_search, settings):
    settings.NASWEB_KEEP_WEIGHTS = 0
    (trial,) = run_all(start_search(max_trials=1))
    assert trial.state == Trial.COMPLETE and not weights_path(trial.id).exists()


@pytest.mark.parametrize("width", [1.0, 0.5])
def test_every_export_reproduces_the_recorded_validation_accuracy(start_search, width, tmp_path):
    search = start_search(max_trials=1, training={"epochs": 2, "width_multiplier": width})
    (trial,) = run_all(search)
    assert trial.state == Trial.COMPLETE, trial.error
    files = {fmt: export_trial(trial, fmt) for fmt in ("spec", "state_dict", "torchscript", "onnx")}
    assert files["onnx"][0] == f"s-trial-{trial.number}.onnx"
    data = load_project_data(search.project.dataset, search.seed)
    x = data.x_val.float()
    model = load_trained(files["spec"][1], io.BytesIO(files["state_dict"][1]))
    with torch.no_grad():
        expected = model(x).numpy()
        scripted = torch.jit.load(io.BytesIO(files["torchscript"][1]))(x).numpy()
    onnx_out = onnxruntime.InferenceSession(files["onnx"][1]).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(scripted, expected, atol=1e-5)
    np.testing.assert_allclose(onnx_out, expected, atol=1e-5)
    accuracy = float((onnx_out.argmax(1) == data.y_val.numpy()).mean())
    assert accuracy == pytest.approx(trial.val_accuracy, abs=1e-9)


def test_a_failed_trial_exports_its_spec_only_with_the_reason(start_search):
    search = start_search(max_trials=1)
    (trial_id,) = services.advance_search(search.id)
    services.fail_trial(trial_id, "boom")
    trial = Trial.objects.get(id=trial_id)
    assert b'"arch"' in export_trial(trial, "spec")[1]
    with pytest.raises(ExportError, match="this one is failed"):
        export_trial(trial, "torchscript")
    with pytest.raises(ExportError, match="unknown export format"):
        export_trial(trial, "exe")


def test_trials_csv_has_a_row_per_trial_with_decisions_and_metrics(start_search):
    search = start_search(max_trials=2, parallelism=2)
    trials = run_all(search)
    name, body = trials_csv(search)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert name == "s-trials.csv" and [r["number"] for r in rows] == [str(t.number) for t in trials]
    assert rows[0]["arch.depth"] == str(trials[0].arch["depth"])
    assert float(rows[1]["val_accuracy"]) == pytest.approx(trials[1].val_accuracy, abs=1e-6)
    assert float(rows[0]["metric.test_accuracy"]) == pytest.approx(trials[0].metrics["test_accuracy"], abs=1e-6)
