"""Uploading a dataset from the project form: checked in full, nothing stored on failure."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from searches import runner, services
from searches.models import Dataset, Project, Trial

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def csv_file(rows=40, bad_cell=None) -> SimpleUploadedFile:
    lines = ["a,b,c,label"] + [f"{i % 7},{(i * 3) % 5},{i % 2},{i % 3}" for i in range(rows)]
    if bad_cell:
        lines[5] = f"{bad_cell},1,1,0"
    return SimpleUploadedFile("points.csv", "\n".join(lines).encode(), content_type="text/csv")


def post_project(client, **fields):
    data = {"name": "Uploaded", "dataset": "upload", "upload_format": "csv", "label_column": "label"}
    data.update(fields)
    return client.post(reverse("searches:project_create"), data)


def stored_files(media):
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


def test_a_csv_upload_creates_a_project_that_trains(client, owner, media_in_tmp, monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    client.force_login(owner)
    response = post_project(client, upload_file=csv_file())
    project = Project.objects.get(name="Uploaded")
    assert response.status_code == 302
    assert project.dataset.source == Dataset.UPLOAD
    assert project.dataset.info["input_shape"] == [3] and project.dataset.info["num_classes"] == 3
    assert len(stored_files(media_in_tmp)) == 1
    search = services.start_search(project, owner, name="s", space_kind="chain_mlp", space_spec=None,
                                   strategy="random", max_trials=1, training={"epochs": 2})
    (trial_id,) = services.advance_search(search.id)
    runner.run_trial(trial_id, worker="w")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == "complete", trial.error


@pytest.mark.parametrize("fields, field, text", [
    ({"upload_file": csv_file(bad_cell="seven")}, "upload_file", "seven"),
    ({"upload_file": SimpleUploadedFile("e.csv", b"")}, "upload_file", "empty"),
    ({"upload_file": csv_file(), "label_column": "colour"}, "upload_file", "colour"),
    ({"upload_file": csv_file(), "label_column": ""}, "label_column", "label column"),
    ({}, "upload_file", "choose a file"),
    ({"upload_file": csv_file(rows=5)}, "upload_file", "at least 10 samples"),
])
def test_a_bad_upload_names_the_problem_and_stores_nothing(client, owner, media_in_tmp, fields, field, text):
    client.force_login(owner)
    response = post_project(client, **fields)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and text in " ".join(errors[field]), errors
    assert not Project.objects.exists() and not Dataset.objects.filter(source="upload").exists()
    assert stored_files(media_in_tmp) == []


def test_the_size_limit_is_enforced_before_reading(client, owner, settings, media_in_tmp):
    settings.NASWEB_MAX_UPLOAD_BYTES = 100
    client.force_login(owner)
    response = post_project(client, upload_file=csv_file())
    assert "the limit is" in " ".join(response.context["form"].errors["upload_file"])
    assert not Dataset.objects.filter(source="upload").exists()


def test_a_space_that_cannot_take_the_data_is_refused_at_start(owner):
    project = services.create_project(owner, "Wine", services.builtin_dataset("wine"))
    with pytest.raises(ValidationError) as exc:
        services.start_search(project, owner, name="s", space_kind="nb201", space_spec=None, strategy="random",
                              max_trials=2)
    assert "cannot build a model for" in exc.value.message_dict["space_kind"][0]


def test_an_empty_upload_shows_one_error(client, owner, media_in_tmp):
    client.force_login(owner)
    response = post_project(client, upload_file=SimpleUploadedFile("empty.csv", b"", content_type="text/csv"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["upload_file"] and len(errors["upload_file"]) == 1, errors
    assert not Project.objects.exists() and stored_files(media_in_tmp) == []
