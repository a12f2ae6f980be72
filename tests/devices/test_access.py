"""Who sees, uses and changes which hardware target: owner, project member and outsider on every
device URL; shared targets read-only; search forms, validation, costs and the comparison page see only
the targets a search may use."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from devices import services
from devices.access import targets_for_user, usable_targets
from devices.models import HardwareTarget, Measurement
from searches import services as search_services
from searches.forms import SearchForm

pytestmark = pytest.mark.django_db


@pytest.fixture
def targets(owner, project, outsider):
    """A built-in, a worker-registered, the owner's personal one, one for the project, and the outsider's."""
    builtin = services.ensure_default_targets()[-1]  # Analytical
    measured = services.register_worker_target({"hostname": "box", "cpu_model": "Xeon", "cpu_logical_cores": 4})
    mine = services.create_target("Mine", "analytical", {"arithmetic": "int8"}, "params", owner=owner)
    shared_with_project = services.create_target("Team phone", "benchmark", {"device": "pixel3"}, owner=owner,
                                                 project=project)
    foreign = services.create_target("Secret", "analytical", {}, "flops", owner=outsider)
    return {"builtin": builtin, "measured": measured, "mine": mine, "team": shared_with_project, "foreign": foreign}


def names(queryset):
    return {t.name for t in queryset}


def test_each_user_sees_the_shared_targets_their_own_and_their_projects(targets, owner, member, outsider):
    shared = {targets["builtin"].name, targets["measured"].name} | set(services.default_target_specs())
    assert names(targets_for_user(owner)) == shared | {"Mine", "Team phone"}
    assert names(targets_for_user(member)) == shared | {"Team phone"}
    assert names(targets_for_user(outsider)) == shared | {"Secret"}


def test_the_target_list_shows_each_user_only_what_they_may_see(client, targets, owner, member, outsider):
    for user, seen, unseen in ((owner, ["Mine", "Team phone"], ["Secret"]), (member, ["Team phone"], ["Mine"]),
                               (outsider, ["Secret"], ["Mine", "Team phone"])):
        client.force_login(user)
        page = client.get(reverse("devices:target_list")).content.decode()
        assert all(n in page for n in seen) and not any(f">{n}<" in page for n in unseen), user
        assert "Analytical" in page
    client.force_login(owner)
    page = client.get(reverse("devices:target_list")).content.decode()
    assert reverse("devices:target_edit", args=[targets["mine"].id]) in page
    assert reverse("devices:target_edit", args=[targets["builtin"].id]) not in page


@pytest.mark.parametrize("url_name", ["target_edit", "target_delete"])
def test_only_the_owner_changes_a_target_members_get_403_outsiders_404(client, targets, owner, member, outsider,
                                                                      url_name):
    url = reverse(f"devices:{url_name}", args=[targets["team"].id])
    method = client.get if url_name == "target_edit" else client.post
    for user, status in ((outsider, 404), (member, 403)):
        client.force_login(user)
        assert method(url).status_code == status
    client.force_login(owner)
    assert method(url).status_code == (200 if url_name == "target_edit" else 302)


def test_shared_targets_are_read_only_for_everyone(client, targets, owner, member, outsider):
    for key in ("builtin", "measured"):
        for user in (owner, member, outsider):
            client.force_login(user)
            assert client.get(reverse("devices:target_edit", args=[targets[key].id])).status_code == 403
            assert client.post(reverse("devices:target_delete", args=[targets[key].id])).status_code == 403
    assert HardwareTarget.objects.filter(id=targets["builtin"].id).exists()
    with pytest.raises(ValidationError):
        services.delete_target(targets["builtin"])


def test_the_owner_edits_a_target_and_its_stale_costs_go(client, targets, owner, start_search):
    search = start_search()
    (trial_id,) = search_services.advance_search(search.id)
    search_services.claim_trial(trial_id, "w", "cpu")
    search_services.complete_trial(trial_id, {"val_accuracy": 0.5})
    services.costs_for_trial(search.trials.get(id=trial_id), [targets["mine"]])
    assert Measurement.objects.filter(target=targets["mine"]).exists()
    client.force_login(owner)
    response = client.post(reverse("devices:target_edit", args=[targets["mine"].id]),
                           {"name": "Mine, fp32", "kind": "analytical", "arithmetic": "fp32", "metric": "macs"})
    assert response.status_code == 302
    target = HardwareTarget.objects.get(id=targets["mine"].id)
    assert (target.name, target.specs["arithmetic"], target.metric) == ("Mine, fp32", "fp32", "macs")
    assert not Measurement.objects.filter(target=target).exists()  # computed with the old settings


def test_the_owner_deletes_a_target(client, targets, owner):
    client.force_login(owner)
    assert client.post(reverse("devices:target_delete", args=[targets["mine"].id])).status_code == 302
    assert not HardwareTarget.objects.filter(id=targets["mine"].id).exists()


def test_a_target_is_named_once_per_owner_and_never_like_a_shared_one(targets, owner, outsider):
    services.create_target("Mine", "analytical", {}, owner=outsider)  # another owner: fine
    for name in ("Mine", "Analytical"):
        with pytest.raises(ValidationError) as exc:
            services.create_target(name, "analytical", {}, owner=owner)
        assert "exists already" in str(exc.value)


def test_a_target_cannot_be_given_to_a_project_one_is_not_in(targets, outsider, project):
    with pytest.raises(ValidationError) as exc:
        services.create_target("Sneaky", "analytical", {}, owner=outsider, project=project)
    assert "not a member" in str(exc.value)


def test_the_search_form_offers_only_usable_targets(targets, owner, member, outsider, project):
    def offered(user, project):
        form = SearchForm(project=project, user=user)
        return {label for _, label in form.fields["cost_limit_target"].choices}

    owner_sees, member_sees = offered(owner, project), offered(member, project)
    assert any("Mine" in c for c in owner_sees) and any("Team phone" in c for c in owner_sees)
    assert any("Team phone" in c for c in member_sees) and not any("Mine" in c for c in member_sees)
    assert not any("Secret" in c for c in owner_sees | member_sees)
    assert not any(str(targets["measured"].name) in c for c in owner_sees)  # measured: not in-process


def test_a_search_cannot_optimise_someone_elses_target(targets, start_search, member):
    with pytest.raises(ValidationError) as exc:
        start_search(objectives=[{"metric": "val_accuracy", "direction": "max"},
                                 {"metric": f"flops@{targets['foreign'].id}", "direction": "min"}])
    assert "objectives" in exc.value.message_dict
    search = start_search(objectives=[{"metric": "val_accuracy", "direction": "max"},
                                      {"metric": f"params@{targets['mine'].id}", "direction": "min"}])
    assert search.objectives[1]["metric"] == f"params@{targets['mine'].id}"


def test_costs_are_computed_only_on_the_targets_the_search_may_use(targets, start_search, settings):
    settings.NASWEB_EMBEDDED_WORKER = True  # measured targets are not requested
    search = start_search()
    (trial_id,) = search_services.advance_search(search.id)
    search_services.claim_trial(trial_id, "w", "cpu")
    search_services.complete_trial(trial_id, {"val_accuracy": 0.5})
    trial = search.trials.get(id=trial_id)
    services.costs_for_trial(trial)
    measured_on = set(Measurement.objects.filter(trial=trial).values_list("target__name", flat=True))
    assert {"Mine", "Analytical"} <= measured_on and "Secret" not in measured_on
    assert services.measure_trial_on_target(trial_id, targets["foreign"].id) is None
    assert not Measurement.objects.filter(trial=trial, target=targets["foreign"]).exists()
    assert names(usable_targets(search.project, search.created_by)) >= {"Mine", "Team phone"}


def test_the_comparison_page_lists_only_the_searchs_targets(client, targets, start_search, member):
    search = start_search()
    client.force_login(member)
    data = client.get(reverse("devices:search_devices_data", args=[search.id])).json()
    listed = {t["name"] for t in data["targets"]}
    assert "Team phone" in listed and "Mine" in listed and "Secret" not in listed
