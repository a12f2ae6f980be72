"""The strategies' and pruners' settings as form fields: defaults, ranges, help, the merge rule with the JSON box,
the service's checks on the fields' values, and Clone prefilling them."""

import re

import pytest
from django.urls import reverse

from searches.forms import SearchForm
from searches.models import Search
from searches.settings_fields import strategy_schema
from searches.strategies.registry import STRATEGIES
from tests.searches.form_posts import browser_post

pytestmark = pytest.mark.django_db
POPULATION = "setting__evolution__population_size"
ETA = "pruner_setting__asha__eta"


@pytest.fixture(autouse=True)
def no_work_sent(monkeypatch):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def post(client, project, **overrides):
    data = browser_post(SearchForm(project=project), **{"name": "settings", "max_trials": "1", "epochs": "1",
                                                        **overrides})
    return client.post(reverse("searches:search_create", args=[project.id]), data)


def errors(response) -> dict:
    return {name: " ".join(e) for name, e in response.context["form"].errors.items()}


def test_every_setting_with_a_range_is_a_field_with_its_default_limits_and_help(logged_in, project):
    html = logged_in.get(reverse("searches:search_create", args=[project.id])).content.decode()
    population = re.search(rf'<input[^>]*name="{POPULATION}"[^>]*>', html).group(0)
    assert 'value="10"' in population and 'min="2"' in population and 'max="10000"' in population
    assert "a whole number from 2 to 10000 (default 10)" in html
    assert 'data-owner="evolution"' in html and 'data-owner="asha"' in html
    assert "The Random search strategy takes no settings." in html
    assert "Set in the JSON box only: objectives." in html  # NSGA-II's list of objectives has no field
    form = SearchForm(project=project)
    for strategy in form.strategy_names():
        for info in strategy_schema(strategy, "chain_mlp"):
            name = f"setting__{strategy}__{info.name}"
            assert (name in form.fields) == (info.kind != "value"), name
            if name in form.fields:
                assert info.help.rstrip(".") in form.fields[name].help_text


def test_untouched_fields_send_no_settings_and_a_changed_one_sends_its_own(logged_in, project):
    assert post(logged_in, project, strategy="evolution").status_code == 302
    assert Search.objects.get().strategy_settings == {}
    assert post(logged_in, project, strategy="evolution", **{POPULATION: "20"}).status_code == 302
    assert Search.objects.latest("id").strategy_settings == {"population_size": 20}


def test_a_json_key_sets_a_setting_whose_field_is_at_its_default(logged_in, project):
    response = post(logged_in, project, strategy="evolution", strategy_settings='{"population_size": 30}')
    assert response.status_code == 302, errors(response)
    assert Search.objects.get().strategy_settings == {"population_size": 30}


def test_a_changed_field_and_a_json_key_that_disagree_are_refused_naming_both(logged_in, project):
    response = post(logged_in, project, strategy="evolution", strategy_settings='{"population_size": 30}',
                    **{POPULATION: "20"})
    assert response.status_code == 200 and not Search.objects.exists()
    found = errors(response)
    for name in (POPULATION, "strategy_settings"):
        assert "population_size is 20 in its field and 30 in the JSON settings" in found[name], found
    agreeing = post(logged_in, project, strategy="evolution", strategy_settings='{"population_size": 20}',
                    **{POPULATION: "20"})
    assert agreeing.status_code == 302


def test_the_service_checks_a_fields_value_and_the_message_lands_on_the_field(logged_in, project):
    response = post(logged_in, project, strategy="evolution", **{POPULATION: "20000"})
    assert response.status_code == 200 and not Search.objects.exists()
    assert "between 2 and 10000" in errors(response)[POPULATION]
    response = post(logged_in, project, pruner="asha", epochs="3", **{ETA: "1"})
    assert response.status_code == 200 and not Search.objects.exists()
    assert "between 2 and 100" in errors(response)[ETA], errors(response)


def test_pruner_fields_merge_like_the_strategys(logged_in, project):
    response = post(logged_in, project, pruner="asha", epochs="3", **{ETA: "4"})
    assert response.status_code == 302, errors(response)
    assert Search.objects.get().pruner_settings == {"eta": 4}
    response = post(logged_in, project, pruner="asha", epochs="3", pruner_settings='{"eta": 5}', **{ETA: "4"})
    assert "eta is 4 in its field and 5 in the JSON settings" in errors(response)["pruner_settings"]


def test_the_fields_of_strategies_not_chosen_are_ignored(logged_in, project):
    response = post(logged_in, project, strategy="random", **{POPULATION: "junk", ETA: "-1"})
    assert response.status_code == 302, errors(response)
    assert Search.objects.get().strategy_settings == {}


def test_a_yes_no_setting_left_out_keeps_its_default_and_no_changes_it(logged_in, project):
    assert STRATEGIES["nsga2"].default_settings()["crossover"] is True
    response = post(logged_in, project, strategy="nsga2", second_objective="params",
                    **{"setting__nsga2__crossover": None})
    assert response.status_code == 302, errors(response)
    assert Search.objects.get().strategy_settings == {}
    post(logged_in, project, strategy="nsga2", second_objective="params", **{"setting__nsga2__crossover": "false"})
    assert Search.objects.latest("id").strategy_settings == {"crossover": False}


def test_clone_prefills_the_settings_fields_and_leaves_the_rest_in_the_json_box(logged_in, project, start_search):
    source = start_search(strategy="nsga2", strategy_settings={"population_size": 12, "crossover": False},
                          objectives=[{"metric": "val_accuracy"}, {"metric": "params", "direction": "min"}],
                          pruner="asha", pruner_settings={"eta": 4}, training={"epochs": 3})
    page = logged_in.get(reverse("searches:search_create", args=[project.id]) + f"?clone={source.id}")
    form = page.context["form"]
    assert form["setting__nsga2__population_size"].value() == 12
    assert form["setting__nsga2__crossover"].value() == "false"
    assert form[ETA].value() == 4 and form["strategy_settings"].value() == "" and form["pruner_settings"].value() == ""
    # Posted as the page shows it, the copy has the source's settings.
    response = logged_in.post(reverse("searches:search_create", args=[project.id]), browser_post(form))
    assert response.status_code == 302, errors(response)
    copy = Search.objects.latest("id")
    assert copy.strategy_settings == source.strategy_settings and copy.pruner_settings == {"eta": 4}
