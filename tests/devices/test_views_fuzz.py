"""The device pages' JSON and POST views with generated input: the comparison data's query (trials,
highlight), compute, measure, and a target's edit and delete, by the owner, a member and an outsider.
Each answer is a 200, a redirect or a 4xx, never a 500, and nothing is half-written: a refused edit leaves
the target as it was, a delete removes only its own target. NASWEB_FUZZ_EXAMPLES requests per view
(500 with -m fuzz, 50 in the suite)."""

import itertools

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from devices import services
from devices.forms import TargetForm
from devices.models import HardwareTarget, Measurement
from searches import services as search_services
from tests.form_fuzz import JUNK, form_posts, fuzz_settings

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz, pytest.mark.timeout(1800)]
#: Ids in a query or a form: digits of other scripts, beyond 32 and 64 bits, more digits than int() reads.
ODD_IDS = st.sampled_from(["1", "2", "0", "-1", "٣", "²", "１", "2147483648", "9223372036854775808", "9" * 30,
                           "9" * 5000, "1,2", " 1 ", "1,,x,2", ",", "1e3", ""])
ids_text = ODD_IDS | JUNK | st.lists(ODD_IDS | st.integers(-3, 10**20).map(str), max_size=4).map(",".join)
serial = itertools.count()


@pytest.fixture(autouse=True)
def quiet(monkeypatch, settings):
    monkeypatch.setattr("searches.dispatch.send_now", lambda *a: None)
    settings.DEBUG = False


@pytest.fixture
def browsers(owner, member, outsider):
    """A logged-in browser per user; a 500 raises in the test with its traceback."""
    made = {}
    for user in (owner, member, outsider):
        made[user.username] = Client(raise_request_exception=True)
        made[user.username].force_login(user)
    return made


@pytest.fixture
def search(start_search):
    """A search with two finished trials, the default targets and one target of the owner's."""
    search = start_search()
    for trial_id in search_services.advance_search(search.id):
        search_services.claim_trial(trial_id, "test-worker", "cpu")
        search_services.complete_trial(trial_id, {"val_accuracy": 0.5})
    services.ensure_default_targets()
    return search


def counts() -> tuple:
    return HardwareTarget.objects.count(), Measurement.objects.count()


def answered(response):
    assert response.status_code in (200, 302, 403, 404, 405), response.status_code
    return response


@fuzz_settings()
@given(who=st.sampled_from(["owner", "member", "outsider"]), trials=st.none() | ids_text,
       highlight=st.none() | ids_text, other=st.dictionaries(st.sampled_from(["x", "trials[]", "format"]), JUNK,
                                                              max_size=2))
def test_the_comparison_data_reads_any_query(browsers, search, who, trials, highlight, other):
    query = {**other, **{k: v for k, v in {"trials": trials, "highlight": highlight}.items() if v is not None}}
    before = counts()
    response = answered(browsers[who].get(reverse("devices:search_devices_data", args=[search.id]), query))
    assert response.status_code == (404 if who == "outsider" else 200)
    if response.status_code == 200:
        assert response.json()["search"]["id"] == search.id
    assert counts() == before, "reading the data writes nothing"


@fuzz_settings()
@given(who=st.sampled_from(["owner", "member", "outsider"]), view=st.sampled_from(["compute", "measure"]),
       method=st.sampled_from(["post", "get"]), number=st.none() | ids_text,
       other=st.dictionaries(st.sampled_from(["x", "trial", "search"]), JUNK, max_size=2))
def test_compute_and_measure_take_any_post(browsers, search, who, view, method, number, other):
    body = {**other, **({"number": number} if number is not None else {})}
    before = counts()
    url = reverse(f"devices:search_devices_{view}", args=[search.id])
    response = answered(getattr(browsers[who], method)(url, body))
    expected = 405 if method == "get" else 404 if who == "outsider" else 302
    assert response.status_code == expected, (view, body, response.status_code)
    assert counts() == before, "the costs are computed in the background, never in the request"


def own_target(owner, project=None) -> HardwareTarget:
    return services.create_target(f"mine {next(serial)}", HardwareTarget.ANALYTICAL, {"arithmetic": "fp32"},
                                  "macs", owner=owner, project=project)


def the_row(target_id: int) -> tuple | None:
    return HardwareTarget.objects.filter(id=target_id).values_list(
        "name", "kind", "specs", "metric", "project", "owner").first()


def target_id_for(which: str, owner, outsider, project) -> int:
    if which == "own":
        return own_target(owner).id
    if which == "project's":
        return own_target(owner, project).id
    if which == "someone else's":
        return own_target(outsider).id
    if which == "shared":
        return HardwareTarget.objects.filter(owner=None).values_list("id", flat=True).first()
    return {"missing": 987654, "beyond 64 bits": 2**63, "huge": 10**30}[which]


def owns(who: str, which: str) -> bool:
    """Whether `who` owns the target `target_id_for(which)` names: only an owner changes a target."""
    return (who, which) in {("owner", "own"), ("owner", "project's"), ("outsider", "someone else's")}


TARGETS = st.sampled_from(["own", "project's", "someone else's", "shared", "missing", "beyond 64 bits", "huge"])


@fuzz_settings()
@given(data=st.data(), who=st.sampled_from(["owner", "member", "outsider"]), which=TARGETS)
def test_a_target_edit_takes_any_post(browsers, search, owner, outsider, data, who, which):
    target_id = target_id_for(which, owner, outsider, search.project)
    users = {"owner": owner, "outsider": outsider}
    form = TargetForm(user=users.get(who, owner))
    post = data.draw(form_posts(form) | form_posts(form, {"kind": "analytical"}) | st.dictionaries(
        st.sampled_from(["name", "kind", "device", "arithmetic", "metric", "project", "x"]), JUNK, max_size=5))
    before, row = counts(), the_row(target_id)
    response = answered(browsers[who].post(reverse("devices:target_edit", args=[target_id]), post))
    assert counts() == before or (counts()[0] == before[0] and response.status_code == 302), "no target made"
    if response.status_code == 200:
        assert response.context["form"].errors, "a 200 says what is wrong"
    if response.status_code != 302:
        assert the_row(target_id) == row, "a refused edit changes nothing"
    else:
        assert owns(who, which), (which, who)


@fuzz_settings()
@given(who=st.sampled_from(["owner", "member", "outsider"]), which=TARGETS, method=st.sampled_from(["post", "get"]),
       body=st.dictionaries(st.sampled_from(["id", "confirm", "x"]), JUNK, max_size=2))
def test_a_target_delete_takes_any_post(browsers, search, owner, outsider, who, which, method, body):
    target_id = target_id_for(which, owner, outsider, search.project)
    before = HardwareTarget.objects.count()
    response = answered(getattr(browsers[who], method)(reverse("devices:target_delete", args=[target_id]), body))
    deleted = response.status_code == 302
    assert deleted == (method == "post" and owns(who, which)), (which, who, method)
    assert HardwareTarget.objects.count() == before - deleted, "only its own target goes"
    assert (the_row(target_id) is None) == (deleted or which in ("missing", "beyond 64 bits", "huge"))
