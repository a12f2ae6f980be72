"""Any input to any form: a 200 with field errors, or a redirect; never a 500, never a half-created row.

Hypothesis posts generated bodies to each form (project, upload, members, search, hardware target) through
the Django test client, as a browser or a script could: 500 per form with `-m fuzz`, 50 in the everyday suite.
No work is sent (dispatch.send_now is a no-op) and no training runs: a search that starts is only created.
"""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from devices.forms import TargetForm
from devices.models import HardwareTarget
from searches.forms import ProjectForm, SearchForm
from searches.models import Dataset, Project, Search, SearchSpace
from searches.pruners import PRUNERS
from tests.form_fuzz import JUNK, form_posts, fuzz_settings
from tests.searches.form_posts import browser_post

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz, pytest.mark.timeout(1800)]
#: 500 per form with -m fuzz (make test-forms), 50 in the 4-minute suite (tests/form_fuzz.py).
FUZZ = fuzz_settings()


@pytest.fixture(autouse=True)
def quiet(monkeypatch, settings, tmp_path):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.DEBUG = False


@pytest.fixture
def browser(owner):
    client = Client(raise_request_exception=True)  # a 500 fails the example with its traceback
    client.force_login(owner)
    return client


def counts(*models) -> tuple:
    return tuple(m.objects.count() for m in models)


def check_answer(response, before, after):
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200:
        assert response.context["form"].errors, "a 200 says what is wrong"
        assert after == before, "nothing half-created"


@FUZZ
@given(data=st.data())
def test_the_project_form_and_its_members(browser, member, outsider, data):
    post = data.draw(form_posts(ProjectForm(), {"upload_file": None}))
    post["members"] = data.draw(st.one_of(st.just(post.get("members", "")), st.lists(
        st.sampled_from(["member", "outsider", "owner", "ghost", "", " ", "member,member", "a" * 200]),
        max_size=4).map(", ".join)))
    post.pop("dataset", None) if post.get("dataset") == "upload" else None  # uploads: the next test
    before = counts(Project, Dataset)
    response = browser.post(reverse("searches:project_create"), post)
    check_answer(response, before, counts(Project, Dataset))
    if response.status_code == 302:
        project = Project.objects.latest("id")
        assert project.owner.username == "owner" and project.name.strip()
        assert not project.members.filter(username="owner").exists()


UPLOAD_BYTES = st.one_of(
    st.binary(max_size=400),
    st.sampled_from([b"", b"a,b,label\n1,2,0\n", b"a,label\n" + b"".join(b"%d,%d\n" % (i, i % 2) for i in range(30)),
                     b"PK\x03\x04junk", b"\x1f\x8bjunk", b"the quick brown fox " * 20, b"\xff\xfe\x00"]),
    st.text(max_size=300).map(str.encode),
)


@FUZZ
@given(data=st.data(), content=UPLOAD_BYTES, filename=st.sampled_from(["d.csv", "d.npz", "d.zip", "d.txt", "x", ""]))
def test_the_upload_form(browser, media_in_tmp, data, content, filename):
    post = data.draw(form_posts(ProjectForm(), {"upload_file": None, "dataset": "upload", "members": ""}))
    if filename:
        post["upload_file"] = SimpleUploadedFile(filename, content)
    before = counts(Project, Dataset)
    response = browser.post(reverse("searches:project_create"), post)
    after = counts(Project, Dataset)
    check_answer(response, before, after)
    stored = [p for p in media_in_tmp.rglob("*") if p.is_file()] if media_in_tmp.exists() else []
    assert len(stored) == Dataset.objects.filter(source=Dataset.UPLOAD).count(), "no file without its row"


def unchosen_settings(data, strategy: str | None = None, pruner: str | None = None):
    """The settings fields of the strategies and pruners not chosen (drawn here when not given): the form ignores
    them, so drawing values for them would only slow the test."""
    strategy = strategy or data.draw(st.sampled_from(SearchForm.strategy_names()))
    pruner = data.draw(st.sampled_from(["", *PRUNERS])) if pruner is None else pruner
    chosen = (f"setting__{strategy}__", f"pruner_setting__{pruner}__")
    return lambda name: name.startswith(("setting__", "pruner_setting__")) and not name.startswith(chosen)


@pytest.fixture
def media_in_tmp(settings):
    return settings.MEDIA_ROOT


@FUZZ
@given(data=st.data())
def test_the_search_form(browser, project, data):
    form = SearchForm(project=project)
    post = data.draw(form_posts(form, skip=unchosen_settings(data)))
    before = counts(Search, SearchSpace)
    response = browser.post(reverse("searches:search_create", args=[project.id]), post)
    check_answer(response, before, counts(Search, SearchSpace))


@FUZZ
@given(data=st.data())
def test_the_search_form_near_its_defaults(browser, project, data):
    """Most fields at their defaults and one or two changed: the service's checks are reached, not only the form's."""
    form = SearchForm(project=project)
    strategy = data.draw(st.sampled_from(["random", "evolution", "nsga2", "darts", "proxyless", "grid", "bananas"]))
    pruner = data.draw(st.sampled_from(["", "asha", "median"]))
    post = data.draw(form_posts(form, skip=unchosen_settings(data, strategy, pruner)))
    defaults = browser_post(form)
    changed = data.draw(st.lists(st.sampled_from(sorted(post)), min_size=1, max_size=2, unique=True)) if post else []
    body = {**defaults, "name": "fuzz", **{k: post[k] for k in changed}, "strategy": strategy, "pruner": pruner}
    body["strategy_settings"] = data.draw(st.one_of(st.just(""), JUNK, st.dictionaries(
        st.sampled_from(["population_size", "epochs", "eta", "order", "latency_target", "rank_check_archs", "x"]),
        st.one_of(st.integers(-5, 10**12), st.floats(allow_nan=False), st.text(max_size=5), st.booleans()),
        max_size=3).map(json.dumps)))
    body["max_trials"], body["epochs"] = "1", data.draw(st.sampled_from(["1", "2", "0", "-1", "501"]))
    before = counts(Search, SearchSpace)
    response = browser.post(reverse("searches:search_create", args=[project.id]), body)
    check_answer(response, before, counts(Search, SearchSpace))


@FUZZ
@given(data=st.data())
def test_the_target_form(browser, data):
    post = data.draw(form_posts(TargetForm()))
    before = counts(HardwareTarget)
    response = browser.post(reverse("devices:target_create"), post)
    check_answer(response, before, counts(HardwareTarget))
