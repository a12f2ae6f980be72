"""The new-search form as a browser posts it: its defaults start a search, and no input gives a 500."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from searches.forms import SearchForm
from searches.models import Search
from tests.searches.form_posts import browser_post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_work_sent(monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)


def post_search(client, project, **overrides):
    data = browser_post(SearchForm(project=project), name="from the defaults", **overrides)
    return client.post(reverse("searches:search_create", args=[project.id]), data)


def field_errors(response) -> dict:
    form = response.context["form"]
    return {name: list(errors) for name, errors in form.errors.items()}


@pytest.mark.parametrize("space_kind", ["macro_cnn", "hybrid"])
def test_spaces_with_integer_options_start_from_their_defaults(client, owner, project, space_kind):
    client.force_login(owner)
    response = post_search(client, project, space_kind=space_kind, max_trials="1", epochs="1")
    assert response.status_code == 302, field_errors(response)
    search = Search.objects.get()
    assert search.space.kind == space_kind
    assert all(isinstance(k, int) for k in search.space.spec.get("kernels", search.space.spec.get("conv_kernels")))


@pytest.mark.parametrize("field,value", [
    ("seed", "-5"), ("seed", "99999999999999999999999"), ("max_seconds", "99999999999999999999999"),
    ("max_trials", "99999999999999999999999"), ("parallelism", "99999999999999999999999"),
    ("max_params", "99999999999999999999999"), ("cost_limit", "1e400"), ("prerank_pool", "-99999999999999999999"),
    ("epochs", "99999999999999999999999"), ("lr", "1e400"), ("lr", "nan"), ("seed", "1e3"),
])
def test_out_of_range_numbers_are_field_errors_not_500(client, owner, project, field, value):
    client.force_login(owner)
    response = post_search(client, project, **{field: value})
    assert response.status_code == 200
    assert field in field_errors(response), field_errors(response)
    assert not Search.objects.exists()


@pytest.mark.parametrize("field,value", [("seed", -5), ("seed", 2**40), ("max_trials", 0), ("max_trials", 10**9),
                                         ("max_seconds", 10**20), ("parallelism", 0), ("parallelism", 10**6),
                                         ("seed", "3"), ("max_trials", True)])
def test_the_service_refuses_out_of_range_values_too(start_search, field, value):
    with pytest.raises(ValidationError) as caught:
        start_search(**{field: value})
    assert field in caught.value.message_dict
    assert not Search.objects.exists()


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000,
                                  '{"a": "' + "x" * 200_000 + '"}'], ids=["deep list", "deep object", "huge"])
def test_deeply_nested_or_huge_json_settings_are_refused(client, owner, project, text):
    client.force_login(owner)
    response = post_search(client, project, strategy_settings=text)
    assert response.status_code == 200
    assert "strategy_settings" in field_errors(response)
