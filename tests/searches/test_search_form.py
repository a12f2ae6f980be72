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
                                  '{"a": "' + "x" * 200_000 + '"}', '{"epochs": ' + "9" * 5000 + "}", "9" * 5000],
                         ids=["deep list", "deep object", "huge", "5000-digit setting", "5000-digit number"])
def test_deeply_nested_or_huge_json_settings_are_refused(client, owner, project, text):
    client.force_login(owner)
    response = post_search(client, project, strategy_settings=text)
    assert response.status_code == 200
    assert "strategy_settings" in field_errors(response)


def test_the_settings_example_in_the_help_is_a_real_setting(start_search):
    import json
    import re

    help_text = str(SearchForm().fields["strategy_settings"].help_text)
    example = json.loads(re.search(r"\{.*?\}", help_text).group(0))
    assert start_search(strategy="evolution", strategy_settings=example).strategy_settings == example


@pytest.mark.parametrize("strategy,key,listed", [
    ("evolution", "population", ["population_size: a whole number from 2 to 10000 (default 10)",
                                 "sample_size: a whole number from 1 to 10 (default 7)"]),
    ("random", "anything", ["it takes no settings"]),
    ("darts", "lr", ["arch_lr: a number in (0.0, 10.0] (default 0.015)", "rank_check_archs"]),
])
def test_an_unknown_setting_lists_the_valid_ones_with_their_ranges(start_search, strategy, key, listed):
    space = {"space_kind": "nb201", "space_spec": {"C": 4, "N": 1}} if strategy == "darts" else {}
    with pytest.raises(ValidationError) as caught:
        start_search(strategy=strategy, strategy_settings={key: 20}, **space)
    message = caught.value.message_dict[f"strategy_settings.{key}"][0]
    assert "is not a setting of" in message and all(text in message for text in listed), message


def test_an_unknown_pruner_setting_lists_the_valid_ones(start_search):
    with pytest.raises(ValidationError) as caught:
        start_search(pruner="asha", pruner_settings={"rate": 3}, training={"epochs": 3})
    message = caught.value.message_dict["pruner_settings"][0]
    assert "eta: a whole number from 2 to 100 (default 3)" in message and "min_resource" in message


def test_nsga2_without_a_second_objective_is_refused_in_words(client, owner, project, start_search):
    with pytest.raises(ValidationError) as caught:
        start_search(strategy="nsga2")
    assert "two objectives" in caught.value.message_dict["objectives"][0]
    client.force_login(owner)
    response = post_search(client, project, strategy="nsga2")
    assert "two objectives" in " ".join(field_errors(response)["second_objective"])
    assert post_search(client, project, strategy="nsga2", second_objective="params").status_code == 302


def test_a_pruner_with_one_epoch_per_trial_is_refused(client, owner, project, start_search):
    with pytest.raises(ValidationError) as caught:
        start_search(pruner="median", training={"epochs": 1})
    assert "nothing to stop" in caught.value.message_dict["pruner"][0]
    client.force_login(owner)
    response = post_search(client, project, pruner="asha", epochs="1")
    assert "nothing to stop" in " ".join(field_errors(response)["pruner"])
    assert not Search.objects.exists()


@pytest.mark.parametrize("strategy", ["darts", "enas", "random_oneshot", "proxyless"])
@pytest.mark.parametrize("space_kind", ["transformer", "hybrid"])
def test_a_oneshot_strategy_on_a_space_without_a_supernet_is_refused_in_words(client, owner, project, strategy,
                                                                               space_kind):
    client.force_login(owner)
    response = post_search(client, project, strategy=strategy, space_kind=space_kind)
    message = " ".join(field_errors(response)["space_kind"])
    assert "has none; choose one of" in message and "trial-by-trial strategy" in message, message
    assert not Search.objects.exists()


@pytest.mark.parametrize("space_kind", ["chain_mlp", "nb201", "macro_cnn", "transformer", "hybrid"])
def test_the_space_size_endpoint_counts_the_space_the_fields_describe(client, owner, project, space_kind):
    from searches.spaces.registry import SPACES

    client.force_login(owner)
    url = reverse("searches:search_space_size", args=[project.id])
    fields = {k: v for k, v in browser_post(SearchForm(project=project)).items()
              if k.startswith(f"spec__{space_kind}__")}
    answer = client.get(url, {"space_kind": space_kind, **fields}).json()
    assert answer["size"] == str(SPACES[space_kind]().size())  # the exact number, not only 10^x


def test_the_space_size_follows_the_fields_and_names_a_bad_one(client, owner, project, outsider):
    client.force_login(owner)
    url = reverse("searches:search_space_size", args=[project.id])
    base = {k: v for k, v in browser_post(SearchForm(project=project)).items() if k.startswith("spec__chain_mlp__")}
    one_width = client.get(url, {"space_kind": "chain_mlp", **base, "spec__chain_mlp__widths": "16"}).json()
    two_widths = client.get(url, {"space_kind": "chain_mlp", **base, "spec__chain_mlp__widths": "16, 32"}).json()
    assert int(two_widths["size"]) > int(one_width["size"])
    bad = client.get(url, {"space_kind": "chain_mlp", **base, "spec__chain_mlp__widths": "sixteen"}).json()
    assert "widths" in bad["error"] and "size" not in bad
    client.force_login(outsider)
    assert client.get(url, {"space_kind": "chain_mlp"}).status_code == 404
