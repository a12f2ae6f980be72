"""Searches, trials, spaces and datasets over the API: the form's checks and messages, the trial
list's sort, filters and cursor, CSV, exact space sizes, uploads."""

import csv
import io

import pytest
from django.core.exceptions import ValidationError

from searches import services
from searches.models import Search, Trial
from searches.spaces.registry import build_space

pytestmark = pytest.mark.django_db


def spec(**fields):
    return {"name": "api search", "space_kind": "chain_mlp", "strategy": "random", "max_trials": 4,
            "training": {"epochs": 1}, **fields}


@pytest.mark.parametrize("fields", [
    {"training": {"epochs": 1, "lr": 99}}, {"space_spec": {"widths": []}}, {"strategy": "magic"},
    {"strategy": "evolution", "strategy_settings": {"population": -3}},
    {"pruner": "asha", "pruner_settings": {"eta": 1}},
    {"parallelism": 0}, {"max_trials": None}, {"space_kind": "teleport"}, {"objectives": [{"metric": "beauty"}]},
    {"name": "  "},
])
def test_a_bad_spec_gets_the_forms_message_for_its_field(api, project, owner, fields):
    body = spec(**fields)
    response = api.post(f"/api/projects/{project.id}/searches/", body, format="json")
    assert response.status_code == 400
    errors = response.json()["errors"]
    kwargs = {"space_spec": body.pop("space_spec", None), **body}
    with pytest.raises(ValidationError) as service:
        services.start_search(project, owner, **kwargs)
    assert errors == service.value.message_dict  # the same keys and words as the form shows
    assert not Search.objects.filter(name="api search").exists()


@pytest.mark.parametrize("body,field", [
    ({**spec(), "colour": "red"}, "colour"), (spec(max_trials=0), "max_trials"), (spec(seed=-1), "seed"),
    (spec(space_spec=[1]), "space_spec"), (spec(name="x" * 121), "name"), (spec(warm_start_from=[999999]),
                                                                            "warm_start_from"),
    (spec(training="fast"), "training"), (spec(objectives={"metric": "params"}), "objectives"),
])
def test_a_spec_of_the_wrong_shape_is_400_naming_the_field(api, project, body, field):
    response = api.post(f"/api/projects/{project.id}/searches/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()


def test_a_search_starts_from_its_spec_and_clones(api, project):
    created = api.post(f"/api/projects/{project.id}/searches/", spec(evaluator="external", seed=4), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["evaluator"] == "external" and body["space"]["size"] == str(build_space("chain_mlp").size())
    document = api.get(f"/api/searches/{body['id']}/spec/").json()
    assert document["seed"] == 4 and document["space_kind"] == "chain_mlp"
    clone = api.post(f"/api/searches/{body['id']}/clone/", {"overrides": {"seed": 9, "warm_start_from": [body["id"]]}},
                     format="json").json()
    row = Search.objects.get(id=clone["id"])
    assert (row.name, row.seed, row.evaluator) == ("api search (copy)", 9, "external")
    assert list(row.warm_start_from.values_list("id", flat=True)) == [body["id"]]
    bad = api.post(f"/api/searches/{body['id']}/clone/", {"overrides": {"strategy": "nope"}}, format="json")
    assert bad.status_code == 400 and "strategy" in bad.json()["errors"]


@pytest.fixture
def finished_trials(external_search):
    """Trials 1..7 with accuracies in a shuffled order, two equal, one failed without a value."""
    space = external_search.space.build()
    import random

    rng, values = random.Random(0), [0.5, 0.9, 0.7, 0.7, None, 0.2, 0.8]
    archs = []
    while len(archs) < len(values):
        arch = space.sample(rng)
        if space.key(arch) not in {space.key(a) for a in archs}:
            archs.append(arch)
    for number, (arch, value) in enumerate(zip(archs, values, strict=True), start=1):
        trial = Trial.objects.create(search=external_search, number=number, arch=arch, arch_key=space.key(arch),
                                     state=Trial.FAILED if value is None else Trial.COMPLETE, val_accuracy=value,
                                     params=1000 * number, metrics={} if value is None else
                                     {"val_accuracy": value, "params": 1000 * number})
        Trial.objects.filter(id=trial.id).update(epochs_done=number % 3)
    return external_search


def pages(api, search_id, **params):
    numbers, url, seen_pages = [], f"/api/searches/{search_id}/trials/", 0
    page = api.get(url, params).json()
    while True:
        seen_pages += 1
        numbers += [t["number"] for t in page["results"]]
        if not page["next"]:
            return numbers, seen_pages, page["count"]
        page = api.get(page["next"]).json()


@pytest.mark.parametrize("sort,expected", [
    ("best", [2, 7, 3, 4, 1, 6, 5]), ("-val_accuracy", [2, 7, 3, 4, 1, 6, 5]), ("val_accuracy", [6, 1, 3, 4, 7, 2, 5]),
    ("number", [1, 2, 3, 4, 5, 6, 7]), ("-number", [7, 6, 5, 4, 3, 2, 1]), ("-params", [7, 6, 5, 4, 3, 2, 1]),
    ("epochs_done", [3, 6, 1, 4, 7, 2, 5]),
])
def test_trials_page_by_cursor_in_the_leaderboards_order(api, finished_trials, sort, expected):
    numbers, seen_pages, count = pages(api, finished_trials.id, sort=sort, limit=2)
    assert numbers == expected and seen_pages == 4 and count == 7


def test_trial_filters_and_a_new_trial_between_pages(api, finished_trials):
    numbers, _, count = pages(api, finished_trials.id, state="complete", min_val_accuracy=0.6, limit=1)
    assert numbers == [2, 7, 3, 4] and count == 4
    assert pages(api, finished_trials.id, max_params=2500, sort="number")[0] == [1, 2]
    first = api.get(f"/api/searches/{finished_trials.id}/trials/", {"limit": 3}).json()
    Trial.objects.filter(search=finished_trials, number=6).update(val_accuracy=0.95)  # moves ahead of the cursor
    rest = api.get(first["next"]).json()["results"]
    assert [t["number"] for t in first["results"]] == [2, 7, 3] and [t["number"] for t in rest][:2] == [4, 1]


@pytest.mark.parametrize("params,field", [
    ({"sort": "colour"}, "sort"), ({"state": "sleeping"}, "state"), ({"limit": 0}, "limit"), ({"limit": "x"}, "limit"),
    ({"cursor": "%%%"}, "cursor"), ({"min_val_accuracy": "high"}, "min_val_accuracy"), ({"max_params": "nan"},
                                                                                        "max_params"),
])
def test_bad_trial_list_parameters_are_400(api, finished_trials, params, field):
    response = api.get(f"/api/searches/{finished_trials.id}/trials/", params)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_a_cursor_keeps_its_sort(api, finished_trials):
    cursor = api.get(f"/api/searches/{finished_trials.id}/trials/", {"limit": 1}).json()["next"].split("cursor=")[1]
    response = api.get(f"/api/searches/{finished_trials.id}/trials/", {"cursor": cursor, "sort": "number"})
    assert response.status_code == 400 and "sort=best" in response.json()["errors"]["cursor"][0]


def test_csv_and_metrics(api, finished_trials):
    text = api.get(f"/api/searches/{finished_trials.id}/trials.csv").content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["number"] for r in rows] == [str(n) for n in range(1, 8)]
    assert rows[1]["val_accuracy"] == "0.9" and rows[4]["state"] == "failed"
    trial = finished_trials.trials.get(number=2)
    services.trials.TrialMetric.objects.create(trial=trial, epoch=1, name="val_accuracy", value=0.4)
    assert api.get(f"/api/trials/{trial.id}/metrics/").json() == [{"epoch": 1, "name": "val_accuracy", "value": 0.4}]


def test_space_sizes_are_exact_and_bad_specs_name_the_field(api):
    kinds = {k["kind"]: k for k in api.get("/api/spaces/").json()}
    assert set(kinds) == {"chain_mlp", "nb201", "macro_cnn", "transformer", "hybrid"}
    assert kinds["nb201"]["default_size"] == "15625"
    sized = api.post("/api/spaces/size/", {"kind": "chain_mlp", "spec": {"widths": [16, 32]}}, format="json").json()
    assert sized["size"] == str(build_space("chain_mlp", {"widths": [16, 32]}).size())
    bad = api.post("/api/spaces/size/", {"kind": "chain_mlp", "spec": {"widths": "wide"}}, format="json")
    assert bad.status_code == 400 and "spec.widths" in bad.json()["errors"]
    assert "space_kind" in api.post("/api/spaces/size/", {"kind": "x"}, format="json").json()["errors"]


def test_an_uploaded_dataset_makes_a_project(api, owner, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(40))
    upload = io.BytesIO(f"a,b,label\n{rows}\n".encode())
    upload.name = "tiny.csv"
    made = api.post("/api/datasets/", {"file": upload, "format": "csv", "label_column": "label"}, format="multipart")
    assert made.status_code == 201, made.content
    project = api.post("/api/projects/", {"name": "tiny", "dataset": made.json()["choice"]}, format="json")
    assert project.status_code == 201 and project.json()["dataset"]["source"] == "upload"
    bad = io.BytesIO(b"a,b\n1,2\n")
    bad.name = "bad.csv"
    refused = api.post("/api/datasets/", {"file": bad, "format": "csv", "label_column": "label"}, format="multipart")
    assert refused.status_code == 400 and "upload_file" in refused.json()["errors"]
    assert api.post("/api/projects/", {"name": "x", "dataset": "upload:999999"},
                    format="json").json()["errors"]["dataset"]
    assert api.post("/api/projects/", {"name": "x", "dataset": "builtin:digits", "members": ["ghost"]},
                    format="json").json()["errors"]["members"] == ["no such user: ghost"]
