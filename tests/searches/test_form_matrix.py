"""Every search the form offers starts from its defaults and completes a trial.

The Django test client posts the new-search form as a browser would (every field at its initial value, see
form_posts.py) with only a name, the space, the strategy and a tiny budget changed: 1 trial of 1 epoch, on a
twentieth of the training split with a quarter of the widths (the form's own low-fidelity fields), so the
whole matrix runs in the suite. The trial runs in this process (runner.run_trial), as a worker would run it.

Trial-by-trial: every space x every strategy x every project kind the space fits. One-shot: every one-shot
strategy x every space with a supernet x every project it fits; the supernet trains one epoch, then the derived
architecture is retrained as a trial. The combinations that do not fit are refused in words (last tests).

The suite runs a representative subset (every space, every strategy, every project kind and every one-shot
strategy at least once); the rest of the matrix is marked `matrix` and runs with `pytest -m matrix` (or
`make test-forms`): about 5 CPU-minutes, too long for the 4-minute suite.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from searches import runner, services
from searches.forms import SearchForm
from searches.models import Search, Trial
from searches.oneshot.registry import ONESHOT_STRATEGIES
from searches.oneshot.supernets import SUPERNETS
from searches.spaces.registry import SPACES
from searches.strategies.registry import STRATEGIES
from tests.searches.form_posts import browser_post

pytestmark = pytest.mark.django_db

#: The project kinds: images, tabular, token sequences, a benchmark table, and text (language modelling).
PROJECT_KINDS = ("digits", "wine", "parity", "nb201_table", "text")
#: Which spaces build models for which project kinds (the rest are refused, see the last tests).
FITS = {
    "digits": ("chain_mlp", "nb201", "macro_cnn", "transformer", "hybrid"),
    "wine": ("chain_mlp", "transformer"),
    "parity": ("chain_mlp", "transformer"),
    "nb201_table": ("nb201",),
    "text": ("transformer",),
}
#: One-shot searches train a supernet on classification data.
ONESHOT_PROJECTS = ("digits", "wine", "parity")
TINY = {"max_trials": "1", "epochs": "1", "data_fraction": "0.05", "width_multiplier": "0.25"}
#: A supernet trains every choice at once on all the data: the one-shot matrix narrows the space's own fields
#: (as a user would) so that one epoch takes a second, not minutes.
SMALL_SUPERNETS = {
    "nb201": {"spec__nb201__C": "4", "spec__nb201__N": "1"},
    "macro_cnn": {"spec__macro_cnn__max_stages": "1", "spec__macro_cnn__channels": "8",
                  "spec__macro_cnn__strides": "2", "spec__macro_cnn__stem_channels": "4"},
    "chain_mlp": {},
}


@pytest.fixture(autouse=True)
def in_process(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    settings.MEDIA_ROOT = tmp_path / "media"


def make_project(owner, kind: str):
    if kind == "nb201_table":
        return services.create_project(owner, kind, services.benchmark_dataset("nb201_cifar10"))
    if kind == "text":
        text = SimpleUploadedFile("fox.txt", ("the quick brown fox jumps over the lazy dog. " * 40).encode())
        return services.create_project_with_data(owner, kind, "", [], "upload", upload=text, upload_format="text",
                                                 upload_options={"seq_len": 16})
    return services.create_project(owner, kind, services.builtin_dataset(kind))


def start_from_form(client, project, **fields):
    data = browser_post(SearchForm(project=project), name="matrix", **TINY, **fields)
    response = client.post(reverse("searches:search_create", args=[project.id]), data)
    errors = response.context["form"].errors if response.status_code == 200 else None
    return response, errors


def second_objective(strategy: str) -> dict:
    # NSGA-II optimises two objectives; the form says so, and its script picks "fewest parameters" for it.
    return {"second_objective": "params"} if strategy == "nsga2" else {}


def subset(combinations, representative) -> list:
    """Every combination; those outside `representative` carry the `matrix` mark."""
    return [c if representative(*c) else pytest.param(*c, marks=pytest.mark.matrix) for c in combinations]


#: Every strategy on the cheapest pair; every space on digits with a strategy of its own; every other kind once.
SPACE_STRATEGY = dict(zip(FITS["digits"], ("random", "evolution", "local_search", "tpe", "reinforce"), strict=True))
TRIAL_MATRIX = subset(
    [(kind, space, strategy) for kind in PROJECT_KINDS for space in FITS[kind] for strategy in STRATEGIES],
    lambda kind, space, strategy: (kind, space) == ("wine", "chain_mlp")
    or (kind == "digits" and SPACE_STRATEGY[space] == strategy)
    or (kind in ("parity", "text", "nb201_table") and space == FITS[kind][-1] and strategy == "random"))


@pytest.mark.parametrize("kind,space,strategy", TRIAL_MATRIX)
def test_every_space_and_strategy_starts_from_the_form_and_completes_a_trial(client, owner, kind, space, strategy):
    project = make_project(owner, kind)
    client.force_login(owner)
    response, errors = start_from_form(client, project, space_kind=space, strategy=strategy,
                                       **second_objective(strategy))
    assert response.status_code == 302, errors
    search = Search.objects.get()
    assert (search.space.kind, search.strategy, search.max_trials) == (space, strategy, 1)
    (trial_id,) = services.advance_search(search.id)
    runner.run_trial(trial_id, worker="matrix")
    trial = Trial.objects.get(id=trial_id)
    assert trial.state == Trial.COMPLETE, trial.error
    assert trial.epochs_done == 1 and trial.metrics
    services.advance_search(search.id)
    search.refresh_from_db()
    assert search.state == Search.DONE


#: PC-DARTS samples channels of C -> C edges, which only the NB201 cell has (refused elsewhere, in words).
ONESHOT_SPACES = {"pcdarts": ("nb201",)}
#: One epoch per stage: P-DARTS deepens its supernet stage by stage.
ONESHOT_SETTINGS = {"pdarts": '{"epochs": 3, "batch_size": 256}'}

ONESHOT_MATRIX = subset(
    [(kind, space, strategy) for kind in ONESHOT_PROJECTS for space in FITS[kind] if space in SUPERNETS
     for strategy in ONESHOT_STRATEGIES if space in ONESHOT_SPACES.get(strategy, SUPERNETS)],
    lambda kind, space, strategy: (kind, space) == ("wine", "chain_mlp")
    or (kind == "digits" and space != "chain_mlp" and strategy == "random_oneshot"))


@pytest.mark.parametrize("kind,space,strategy", ONESHOT_MATRIX)
def test_every_oneshot_strategy_trains_its_supernet_and_retrains_the_result(client, owner, kind, space, strategy):
    project = make_project(owner, kind)
    client.force_login(owner)
    settings = ONESHOT_SETTINGS.get(strategy, '{"epochs": 1, "batch_size": 256}')
    response, errors = start_from_form(client, project, space_kind=space, strategy=strategy,
                                       strategy_settings=settings, **SMALL_SUPERNETS[space])
    assert response.status_code == 302, errors
    search = Search.objects.get()
    services.advance_search(search.id)
    runner.run_oneshot_search(search.id, worker="matrix")
    search.refresh_from_db()
    epochs = json.loads(ONESHOT_SETTINGS.get(strategy, '{"epochs": 1}'))["epochs"]
    assert search.oneshot_result and search.oneshot_result["epochs_run"] == epochs, search.error
    client.post(reverse("searches:search_retrain", args=[search.id]))
    trial = Trial.objects.get(search=search)
    runner.run_trial(trial.id, worker="matrix")
    trial.refresh_from_db()
    assert trial.state == Trial.COMPLETE and trial.arch == search.oneshot_result["arch"], trial.error


REFUSED = [(kind, space) for kind in PROJECT_KINDS for space in SPACES if space not in FITS[kind]]


@pytest.mark.parametrize("kind,space", REFUSED)
def test_a_space_that_does_not_fit_the_project_is_refused_in_words(client, owner, kind, space):
    project = make_project(owner, kind)
    client.force_login(owner)
    response, errors = start_from_form(client, project, space_kind=space, strategy="random")
    assert response.status_code == 200 and not Search.objects.exists()
    message = " ".join(errors["space_kind"])
    assert "cannot build" in message or "answers only nb201" in message, message


@pytest.mark.parametrize("kind", ["nb201_table", "text"])
def test_oneshot_is_refused_in_words_where_it_has_no_data_to_train_on(client, owner, kind):
    project = make_project(owner, kind)
    client.force_login(owner)
    space = FITS[kind][0]
    response, errors = start_from_form(client, project, space_kind=space, strategy="darts")
    assert response.status_code == 200 and not Search.objects.exists()
    assert errors, "refused"
